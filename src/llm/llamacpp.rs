//! llama.cpp's server: `/infill` with `input_prefix`, `input_suffix` and `input_extra` (the server
//! applies the model's own fill-in-the-middle tokens), `/completion` with spackle's template when
//! `model.template` names one, and `/v1/chat/completions` for chat.
//!
//! One answer per request; several candidates are several concurrent requests, which the
//! server spreads over its slots.
//!
//! `/infill` keeps at most `n_ctx - n_batch - 2 * n_predict` tokens of `input_extra` and drops
//! the rest from the front, without a word. So before the first `/infill` with repository
//! context, spackle reads the server's context size (`GET /props`,
//! `default_generation_settings.n_ctx`) and trims the context to fit from its end, where the
//! lowest-ranked definitions are, and says so in the log.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use serde_json::{json, Value};

use crate::llm::http::Target;
use crate::llm::stream::{stream_answer, Wire};
use crate::llm::{
    finish_chat_infill, merged_stops, messages_json, several, ContextFile, GenerateRequest,
    Generation, Model, ModelResult, RequestKind,
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
    /// The server's context size in tokens, read from `/props` once (None when it does not say).
    server_context: tokio::sync::OnceCell<Option<u64>>,
    /// Whether the log already said that context was trimmed to fit.
    trim_reported: AtomicBool,
}

/// llama-server's default batch size, which `/infill` keeps free of repository context.
const DEFAULT_BATCH_TOKENS: u64 = 2048;

/// Bytes per token assumed when sizing context for `/infill`: code runs at three to four, and the
/// lower figure errs towards sending less.
const BYTES_PER_TOKEN: u64 = 3;

/// Tokens each file of `input_extra` costs besides its text (separator and file name).
const TOKENS_PER_FILE: u64 = 8;

/// The tokens of `input_extra` that llama.cpp's `/infill` keeps with a context of `n_ctx`
/// tokens and `n_predict` tokens to generate (its `n_ctx - n_batch - 2 * n_predict`, the batch
/// being at most the context).
pub fn infill_extra_tokens(n_ctx: u64, n_predict: u64) -> u64 {
    n_ctx
        .saturating_sub(DEFAULT_BATCH_TOKENS.min(n_ctx))
        .saturating_sub(2 * n_predict)
}

/// The context files cut to about `tokens` tokens: whole files while they fit, then the start of
/// the next file, cut after a blank line (or a line) where possible. Earlier text ranks higher.
pub fn fit_context(files: &[ContextFile], tokens: u64) -> Vec<ContextFile> {
    let mut left = tokens.saturating_mul(BYTES_PER_TOKEN);
    let mut fitted = Vec::new();
    for file in files {
        let overhead = TOKENS_PER_FILE * BYTES_PER_TOKEN;
        if left <= overhead {
            break;
        }
        left -= overhead;
        if file.text.len() as u64 <= left {
            left -= file.text.len() as u64;
            fitted.push(file.clone());
            continue;
        }
        let room = crate::check::floor_char_boundary(&file.text, left as usize);
        let head = &file.text[..room];
        let cut = head
            .rfind("\n\n")
            .map(|at| at + 2)
            .or_else(|| head.rfind('\n').map(|at| at + 1))
            .unwrap_or(0);
        if cut > 0 {
            fitted.push(ContextFile {
                path: file.path.clone(),
                text: file.text[..cut].to_string(),
            });
        }
        break;
    }
    fitted
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
            server_context: tokio::sync::OnceCell::new(),
            trim_reported: AtomicBool::new(false),
        }
    }

    /// The server's context size (`/props`), asked once.
    async fn server_context(&self) -> Option<u64> {
        *self
            .server_context
            .get_or_init(|| async {
                match self.target.get_json("/props").await {
                    Ok(props) => props
                        .pointer("/default_generation_settings/n_ctx")
                        .or_else(|| props.get("n_ctx"))
                        .and_then(Value::as_u64),
                    Err(error) => {
                        tracing::debug!(%error, "llama.cpp's /props did not answer; the repository context is sent whole");
                        None
                    }
                }
            })
            .await
    }

    /// The repository context that `/infill` will use whole, given the server's context size.
    async fn fitted_context(&self, context: &[ContextFile], n_predict: u32) -> Vec<ContextFile> {
        if context.is_empty() {
            return Vec::new();
        }
        let Some(n_ctx) = self.server_context().await else {
            return context.to_vec();
        };
        let tokens = infill_extra_tokens(n_ctx, u64::from(n_predict));
        let fitted = fit_context(context, tokens);
        if fitted != context && !self.trim_reported.swap(true, Ordering::Relaxed) {
            let sent: usize = fitted.iter().map(|file| file.text.len()).sum();
            let whole: usize = context.iter().map(|file| file.text.len()).sum();
            tracing::warn!(
                n_ctx,
                extra_tokens = tokens,
                sent_bytes = sent,
                context_bytes = whole,
                "llama.cpp's /infill keeps only about {tokens} tokens of repository context with a context of {n_ctx} tokens, so spackle trimmed it (lowest-ranked definitions first); start llama-server with a larger context (`-c 8192`) or lower `context.repository_tokens`"
            );
        }
        fitted
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
                    let context = self.fitted_context(context, request.max_tokens).await;
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
