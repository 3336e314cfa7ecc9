//! Anthropic's messages API (`/v1/messages`, `x-api-key`, `anthropic-version`), streamed as SSE
//! events. Claude models are chat models: fill-in-the-middle requests become the chat prompt from
//! `prompt.rs`, and the answer is cleaned of fences and prose.
//!
//! One answer per request; several candidates are several concurrent requests.

use futures::future::BoxFuture;
use serde_json::{json, Value};

use crate::llm::http::Target;
use crate::llm::stream::{stream_answer, Wire};
use crate::llm::{
    finish_chat_infill, several, ChatMessage, GenerateRequest, Generation, Model, ModelResult,
    RequestKind, Role,
};
use crate::prompt::chat_infill_messages;

#[derive(Debug)]
pub struct AnthropicModel {
    target: Target,
}

impl AnthropicModel {
    pub fn new(target: Target) -> AnthropicModel {
        AnthropicModel { target }
    }

    async fn messages(
        &self,
        request: &GenerateRequest,
        messages: &[ChatMessage],
        stop: &[String],
    ) -> ModelResult<Generation> {
        let system: Vec<&str> = messages
            .iter()
            .filter(|message| message.role == Role::System)
            .map(|message| message.content.as_str())
            .collect();
        let turns: Vec<Value> = messages
            .iter()
            .filter(|message| message.role != Role::System)
            .map(|message| json!({ "role": message.role.name(), "content": message.content }))
            .collect();
        let mut body = json!({
            "model": self.target.model,
            "max_tokens": request.max_tokens,
            "messages": turns,
            "temperature": request.temperature.clamp(0.0, 1.0),
            "stream": true,
        });
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        // The API refuses stop sequences that are only whitespace; spackle applies every one itself.
        let server_stops: Vec<&String> =
            stop.iter().filter(|stop| !stop.trim().is_empty()).collect();
        if !server_stops.is_empty() {
            body["stop_sequences"] = json!(server_stops);
        }
        several(request.candidates, || {
            Box::pin(async {
                let key = self.target.api_key();
                let builder = self
                    .target
                    .request(reqwest::Method::POST, "/v1/messages", key.as_ref())
                    .json(&body);
                stream_answer(
                    &self.target,
                    builder,
                    key.as_ref(),
                    Wire::Anthropic,
                    stop,
                    1,
                )
                .await
            })
        })
        .await
    }
}

impl Model for AnthropicModel {
    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, ModelResult<Generation>> {
        Box::pin(async move {
            match &request.kind {
                RequestKind::Infill {
                    path,
                    prefix,
                    suffix,
                    context,
                } => {
                    let messages = chat_infill_messages(path, prefix, suffix, context);
                    let generation = self.messages(request, &messages, &[]).await?;
                    Ok(finish_chat_infill(generation, prefix, &request.stop))
                }
                RequestKind::Chat { messages } => {
                    self.messages(request, messages, &request.stop).await
                }
            }
        })
    }

    fn describe(&self) -> String {
        format!(
            "anthropic at {}, model {}, /v1/messages",
            self.target.shown_endpoint(),
            self.target.model
        )
    }
}
