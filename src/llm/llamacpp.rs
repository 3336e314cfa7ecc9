//! llama.cpp's server: `/infill` with `input_prefix`, `input_suffix` and `input_extra` (the server
//! applies the model's own fill-in-the-middle tokens), `/completion` with spackle's template when
//! `model.template` names one, and `/v1/chat/completions` for chat.
//!
//! One answer per request; several candidates are several concurrent requests, which the
//! server spreads over its slots.

use futures::future::BoxFuture;
use serde_json::{json, Value};

use crate::llm::http::Target;
use crate::llm::stream::{stream_answer, Wire};
use crate::llm::{
    finish_chat_infill, merged_stops, messages_json, several, GenerateRequest, Generation, Model,
    ModelResult, RequestKind,
};
use crate::prompt::{chat_infill_messages, FimTemplate, PromptFormat};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `/infill`: the server knows the model's tokens.
    Infill,
    /// `/completion` with a prompt rendered by spackle.
    Completion(FimTemplate),
    /// `/v1/chat/completions`.
    Chat,
}

#[derive(Debug)]
pub struct LlamacppModel {
    target: Target,
    route: Route,
    /// Stop tokens of the template the model name suggests, sent along with `/infill` requests.
    extra_stops: &'static [&'static str],
}

impl LlamacppModel {
    /// `template` is `model.template` as written: `auto` means `/infill`, since the server knows
    /// the model's own tokens; a template name means `/completion` with that template.
    pub fn new(target: Target, template: &str, format: PromptFormat) -> LlamacppModel {
        let automatic = matches!(template.trim().to_ascii_lowercase().as_str(), "" | "auto");
        let route = match format {
            PromptFormat::Chat if automatic => Route::Infill,
            PromptFormat::Chat => Route::Chat,
            PromptFormat::Fim(_) if automatic => Route::Infill,
            PromptFormat::Fim(template) => Route::Completion(template),
        };
        let extra_stops = match PromptFormat::for_model(&target.model) {
            PromptFormat::Fim(template) => template.stop_tokens(),
            PromptFormat::Chat => &[],
        };
        LlamacppModel {
            target,
            route,
            extra_stops,
        }
    }

    async fn post(
        &self,
        path: &str,
        body: &Value,
        wire: Wire,
        stop: &[String],
    ) -> ModelResult<Generation> {
        let key = self.target.api_key();
        let builder = self
            .target
            .request(reqwest::Method::POST, path, key.as_ref())
            .json(body);
        stream_answer(&self.target, builder, key.as_ref(), wire, stop, 1).await
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
        if !stop.is_empty() {
            body["stop"] = json!(stop);
        }
        several(request.candidates, || {
            Box::pin(self.post("/v1/chat/completions", &body, Wire::OpenaiChat, stop))
        })
        .await
    }
}

impl Model for LlamacppModel {
    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, ModelResult<Generation>> {
        Box::pin(async move {
            match (&request.kind, self.route) {
                (
                    RequestKind::Infill {
                        prefix,
                        suffix,
                        context,
                        ..
                    },
                    Route::Infill,
                ) => {
                    let stop = merged_stops(&request.stop, self.extra_stops);
                    let extra: Vec<Value> = context
                        .iter()
                        .map(|file| json!({ "filename": file.path, "text": file.text }))
                        .collect();
                    let body = json!({
                        "input_prefix": prefix,
                        "input_suffix": suffix,
                        "input_extra": extra,
                        "prompt": "",
                        "n_predict": request.max_tokens,
                        "temperature": request.temperature,
                        "stop": stop,
                        "stream": true,
                        "cache_prompt": true,
                    });
                    several(request.candidates, || {
                        Box::pin(self.post("/infill", &body, Wire::Llamacpp, &stop))
                    })
                    .await
                }
                (
                    RequestKind::Infill {
                        path,
                        prefix,
                        suffix,
                        context,
                    },
                    Route::Completion(template),
                ) => {
                    let stop = merged_stops(&request.stop, template.stop_tokens());
                    let body = json!({
                        "prompt": template.render(path, prefix, suffix, context),
                        "n_predict": request.max_tokens,
                        "temperature": request.temperature,
                        "stop": stop,
                        "stream": true,
                        "cache_prompt": true,
                    });
                    several(request.candidates, || {
                        Box::pin(self.post("/completion", &body, Wire::Llamacpp, &stop))
                    })
                    .await
                }
                (
                    RequestKind::Infill {
                        path,
                        prefix,
                        suffix,
                        context,
                    },
                    Route::Chat,
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
            Route::Infill => "/infill".to_string(),
            Route::Completion(template) => {
                format!("/completion with the {} template", template.name())
            }
            Route::Chat => "/v1/chat/completions".into(),
        };
        format!("llamacpp at {}, {form}", self.target.shown_endpoint())
    }
}
