//! Ollama's native API: `/api/generate` with `prompt` and `suffix` for fill-in-the-middle (or a
//! raw prompt in the model's template when there is repository context, which `suffix` cannot
//! carry), `/api/chat` for chat models. Answers stream as NDJSON.
//!
//! Ollama gives one answer per request, so several candidates are several concurrent requests.

use futures::future::BoxFuture;
use serde_json::{json, Value};

use crate::llm::http::Target;
use crate::llm::stream::{stream_answer, Wire};
use crate::llm::{
    finish_chat_infill, merged_stops, messages_json, several, GenerateRequest, Generation, Model,
    ModelResult, RequestKind,
};
use crate::prompt::{approximate_tokens, chat_infill_messages, PromptFormat};

/// Ollama's smallest usual context window; longer prompts ask for a larger one.
const DEFAULT_CONTEXT_TOKENS: usize = 2048;
const CONTEXT_STEP_TOKENS: usize = 4096;

#[derive(Debug)]
pub struct OllamaModel {
    target: Target,
    format: PromptFormat,
}

impl OllamaModel {
    pub fn new(target: Target, format: PromptFormat) -> OllamaModel {
        OllamaModel { target, format }
    }

    fn options(&self, request: &GenerateRequest, stop: &[String], prompt_chars: &[&str]) -> Value {
        let mut options = json!({
            "num_predict": request.max_tokens,
            "temperature": request.temperature,
        });
        if !stop.is_empty() {
            options["stop"] = json!(stop);
        }
        let need = prompt_chars
            .iter()
            .map(|text| approximate_tokens(text))
            .sum::<usize>()
            + request.max_tokens as usize;
        if need > DEFAULT_CONTEXT_TOKENS {
            // Steps of 4096 keep the window the same from request to request, so Ollama does not reload the model.
            options["num_ctx"] = json!(need.div_ceil(CONTEXT_STEP_TOKENS) * CONTEXT_STEP_TOKENS);
        }
        options
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
        let texts: Vec<&str> = messages
            .iter()
            .filter_map(|message| message.get("content").and_then(Value::as_str))
            .collect();
        let body = json!({
            "model": self.target.model,
            "messages": messages,
            "stream": true,
            "options": self.options(request, stop, &texts),
        });
        several(request.candidates, || {
            Box::pin(self.post("/api/chat", &body, Wire::OllamaChat, stop))
        })
        .await
    }
}

impl Model for OllamaModel {
    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, ModelResult<Generation>> {
        Box::pin(async move {
            match (&request.kind, self.format) {
                (
                    RequestKind::Infill {
                        path,
                        prefix,
                        suffix,
                        context,
                    },
                    PromptFormat::Fim(template),
                ) => {
                    let stop = merged_stops(&request.stop, template.stop_tokens());
                    let body = if context.is_empty() && !suffix.is_empty() {
                        // Ollama renders the model's own fill-in-the-middle template around these.
                        json!({
                            "model": self.target.model,
                            "prompt": prefix,
                            "suffix": suffix,
                            "stream": true,
                            "options": self.options(request, &stop, &[prefix, suffix]),
                        })
                    } else {
                        // Repository context needs the template's file separators, and an empty
                        // suffix would make Ollama use its chat template: send the prompt as is.
                        let prompt = template.render(path, prefix, suffix, context);
                        let options = self.options(request, &stop, &[&prompt]);
                        json!({ "model": self.target.model, "prompt": prompt, "raw": true, "stream": true, "options": options })
                    };
                    several(request.candidates, || {
                        Box::pin(self.post("/api/generate", &body, Wire::OllamaGenerate, &stop))
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
                    PromptFormat::Chat,
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
        let form = match self.format {
            PromptFormat::Fim(template) => format!(
                "/api/generate with suffix ({} template for context)",
                template.name()
            ),
            PromptFormat::Chat => "/api/chat".into(),
        };
        format!(
            "ollama at {}, model {}, {form}",
            self.target.shown_endpoint(),
            self.target.model
        )
    }
}
