//! OpenAI-compatible servers (OpenAI, vLLM, LM Studio, llama.cpp's `/v1`): `/v1/completions` with
//! a fill-in-the-middle prompt for code models, `/v1/chat/completions` for chat models.
//!
//! Several candidates come from one request with `n`, or from one request each when the server
//! turns out to send every choice under index 0 (some proxies do). The key goes in `Authorization: Bearer`
//! only when one is set.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use serde_json::{json, Value};

use crate::config::{ModelConfig, OpenaiApi};
use crate::llm::http::Target;
use crate::llm::stream::{stream_answer_noting, StreamNotes, Wire};
use crate::llm::{
    finish_chat_infill, merged_stops, messages_json, several, GenerateRequest, Generation, Model,
    ModelError, ModelResult, RequestKind,
};
use crate::prompt::{chat_infill_messages, FimTemplate, PromptFormat};

/// OpenAI's API accepts at most this many stop sequences; the rest are applied by spackle.
const MAX_SERVER_STOPS: usize = 4;

/// How fill-in-the-middle requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InfillRoute {
    Completions(FimTemplate),
    Chat,
}

#[derive(Debug)]
pub struct OpenaiModel {
    target: Target,
    route: InfillRoute,
    /// Set once the server was seen to send several choices under one index.
    one_choice_per_request: AtomicBool,
}

impl OpenaiModel {
    pub fn new(
        target: Target,
        config: &ModelConfig,
        format: PromptFormat,
    ) -> ModelResult<OpenaiModel> {
        let route = match (config.api, format) {
            (OpenaiApi::Chat, _) | (OpenaiApi::Auto, PromptFormat::Chat) => InfillRoute::Chat,
            (_, PromptFormat::Fim(template)) => InfillRoute::Completions(template),
            (OpenaiApi::Completions, PromptFormat::Chat) => {
                return Err(ModelError::Config {
                    detail: format!(
                        "`model.api` = \"completions\" needs a fill-in-the-middle template, and `{}` has none; set `model.template` (qwen, starcoder, deepseek, codellama, codestral) or `model.api` = \"chat\"",
                        config.name
                    ),
                })
            }
        };
        Ok(OpenaiModel {
            target,
            route,
            one_choice_per_request: AtomicBool::new(false),
        })
    }

    async fn completions(
        &self,
        request: &GenerateRequest,
        prompt: String,
        stop: Vec<String>,
    ) -> ModelResult<Generation> {
        let mut body = json!({
            "model": self.target.model,
            "prompt": prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": true,
        });
        add_stops(&mut body, &stop);
        self.ask(
            &v1_path(&self.target, "/completions"),
            body,
            Wire::OpenaiCompletions,
            &stop,
            request.candidates,
        )
        .await
    }

    async fn chat(
        &self,
        request: &GenerateRequest,
        messages: Vec<Value>,
        stop: &[String],
    ) -> ModelResult<Generation> {
        let mut body = json!({
            "model": self.target.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": true,
        });
        add_stops(&mut body, stop);
        self.ask(
            &v1_path(&self.target, "/chat/completions"),
            body,
            Wire::OpenaiChat,
            stop,
            request.candidates,
        )
        .await
    }

    /// Asks for `candidates` answers: with `n` in one request, unless the server was seen to send
    /// every choice under index 0 (some proxies do, and the texts then come joined into one); then,
    /// and from then on, with one request per candidate.
    async fn ask(
        &self,
        path: &str,
        mut body: Value,
        wire: Wire,
        stop: &[String],
        candidates: usize,
    ) -> ModelResult<Generation> {
        if candidates > 1 && !self.one_choice_per_request.load(Ordering::Relaxed) {
            body["n"] = json!(candidates);
            let (generation, notes) = self.send(path, &body, wire, stop, candidates).await?;
            if !notes.merged_choices {
                return Ok(generation);
            }
            self.one_choice_per_request.store(true, Ordering::Relaxed);
            tracing::warn!(
                endpoint = %self.target.shown_endpoint(),
                candidates,
                "the server sent several candidates under one index (a proxy that does not pass `n` on?); asking for each candidate in a request of its own from now on"
            );
            if let Some(fields) = body.as_object_mut() {
                fields.remove("n");
            }
        }
        several(candidates, || {
            Box::pin(async {
                self.send(path, &body, wire, stop, 1)
                    .await
                    .map(|(generation, _)| generation)
            })
        })
        .await
    }

    async fn send(
        &self,
        path: &str,
        body: &Value,
        wire: Wire,
        stop: &[String],
        candidates: usize,
    ) -> ModelResult<(Generation, StreamNotes)> {
        let key = self.target.api_key();
        let builder = self
            .target
            .request(reqwest::Method::POST, path, key.as_ref())
            .json(body);
        stream_answer_noting(&self.target, builder, key.as_ref(), wire, stop, candidates).await
    }
}

fn add_stops(body: &mut Value, stop: &[String]) {
    if !stop.is_empty() {
        body["stop"] = json!(stop.iter().take(MAX_SERVER_STOPS).collect::<Vec<_>>());
    }
}

/// `/v1` + `path`, unless the configured endpoint already ends in `/v1`.
pub(crate) fn v1_path(target: &Target, path: &str) -> String {
    let base = target.endpoint.split('?').next().unwrap_or_default();
    if base.trim_end_matches('/').ends_with("/v1") {
        path.to_string()
    } else {
        format!("/v1{path}")
    }
}

impl Model for OpenaiModel {
    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, ModelResult<Generation>> {
        Box::pin(async move {
            match (&request.kind, self.route) {
                (
                    RequestKind::Infill {
                        path,
                        prefix,
                        suffix,
                        context,
                    },
                    InfillRoute::Completions(template),
                ) => {
                    let prompt = template.render(path, prefix, suffix, context);
                    let stop = merged_stops(&request.stop, template.stop_tokens());
                    self.completions(request, prompt, stop).await
                }
                (
                    RequestKind::Infill {
                        path,
                        prefix,
                        suffix,
                        context,
                    },
                    InfillRoute::Chat,
                ) => {
                    let messages =
                        messages_json(&chat_infill_messages(path, prefix, suffix, context));
                    let generation = self.chat(request, messages, &[]).await?;
                    Ok(finish_chat_infill(generation, prefix, &request.stop))
                }
                (RequestKind::Chat { messages }, _) => {
                    self.chat(request, messages_json(messages), &request.stop)
                        .await
                }
            }
        })
    }

    fn describe(&self) -> String {
        let form = match self.route {
            InfillRoute::Completions(template) => {
                format!("/v1/completions with the {} template", template.name())
            }
            InfillRoute::Chat => "/v1/chat/completions".into(),
        };
        format!(
            "openai at {}, model {}, {form}",
            self.target.shown_endpoint(),
            self.target.model
        )
    }
}
