//! Language models behind one trait: requests in plain data, typed errors, one backend per file.
//!
//! A request is either fill-in-the-middle (text before and after the cursor, plus repository
//! context) or a chat. Each backend turns it into its own wire format (`prompt.rs` holds the
//! fill-in-the-middle templates), streams the answer, applies stop sequences and timeouts, and
//! returns the finished text. Dropping the future cancels the HTTP request.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::config::{Backend, ModelConfig};

pub mod anthropic;
pub mod http;
pub mod llamacpp;
pub mod ollama;
pub mod openai;
pub mod scripted;
pub mod stream;

/// A file of repository context given to the model (rendered stubs, or a neighbouring file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Path relative to the workspace root (or a module name) shown to the model.
    pub path: String,
    pub text: String,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// What to ask the model.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestKind {
    /// Fill the hole between `prefix` and `suffix` in the file at `path`.
    Infill {
        path: String,
        prefix: String,
        suffix: String,
        context: Vec<ContextFile>,
    },
    /// A chat; the answer is the assistant's next message.
    Chat { messages: Vec<ChatMessage> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub kind: RequestKind,
    /// Sequences that end the answer (not included in it).
    pub stop: Vec<String>,
    pub max_tokens: u32,
    pub temperature: f32,
    /// How many candidates to ask for; backends that cannot give several return fewer.
    pub candidates: usize,
}

/// The model's answers to one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Generation {
    pub candidates: Vec<String>,
    /// Tokens the server reported for the prompt and the answer, when it reports them.
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
}

/// Why a model gave no answer. Each variant has one sentence for the user in [`ModelError::user_message`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("cannot reach the model server at {endpoint}: {detail}")]
    Unreachable {
        endpoint: String,
        detail: String,
        backend: Backend,
        model: String,
    },
    #[error("the model server at {endpoint} refused the API key (HTTP {status})")]
    Unauthorized {
        endpoint: String,
        status: u16,
        key_env: Option<String>,
    },
    #[error("the model server at {endpoint} is rate-limiting requests")]
    RateLimited {
        endpoint: String,
        retry_after: Option<Duration>,
    },
    #[error("the model server at {endpoint} does not know the model `{model}`")]
    ModelNotFound {
        endpoint: String,
        model: String,
        backend: Backend,
    },
    #[error("the model server at {endpoint} did not answer within {after:?} ({what})")]
    Timeout {
        endpoint: String,
        what: &'static str,
        after: Duration,
    },
    #[error("the model server at {endpoint} failed (HTTP {status}): {detail}")]
    Server {
        endpoint: String,
        status: u16,
        detail: String,
    },
    #[error("the model server at {endpoint} sent an answer spackle cannot read: {detail}")]
    BadResponse { endpoint: String, detail: String },
    /// The server redirected to another origin (`to`: scheme, host and port only); spackle did not follow.
    #[error(
        "the model server at {endpoint} redirected to another host, {to}; spackle did not follow"
    )]
    Redirected { endpoint: String, to: String },
    #[error("the model is not configured correctly: {detail}")]
    Config { detail: String },
}

pub type ModelResult<T> = Result<T, ModelError>;

/// A language model that spackle can ask for code.
pub trait Model: Send + Sync {
    /// Asks the model; dropping the returned future cancels the request.
    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, ModelResult<Generation>>;

    /// A short description for logs and `spackle doctor`: backend, endpoint and model name.
    fn describe(&self) -> String;
}

/// Builds the model the configuration names. Fails with [`ModelError::Config`] when the
/// configuration cannot work (an endpoint that is not a URL, an empty model name, an unknown
/// template); it does not contact the server ([`probe`] does).
pub fn model_from_config(config: &ModelConfig) -> ModelResult<Arc<dyn Model>> {
    let target = http::Target::from_config(config)?;
    let format = crate::prompt::PromptFormat::resolve(&config.template, &config.name)
        .map_err(|detail| ModelError::Config { detail })?;
    let model: Arc<dyn Model> = match config.backend {
        Backend::Openai => Arc::new(openai::OpenaiModel::new(target, config, format)?),
        Backend::Ollama => Arc::new(ollama::OllamaModel::new(target, format)),
        Backend::Llamacpp => Arc::new(llamacpp::LlamacppModel::new(
            target,
            &config.template,
            format,
        )),
        Backend::Anthropic => Arc::new(anthropic::AnthropicModel::new(target)),
    };
    Ok(model)
}

/// Asks the model what a completion asks, in miniature, for `spackle doctor`: a fill-in-the-middle
/// request for one token, without repository context, through the very code a completion runs
/// (the same backend, route, template, headers and error mapping). So whatever a completion would
/// hit (an unknown model, a missing key, a server that cannot fill in the middle, a wrong path)
/// is what this reports, and a server that completions work with passes however it lists its
/// models. Returns one line describing what answered.
pub async fn probe(config: &ModelConfig) -> ModelResult<String> {
    let model = model_from_config(config)?;
    let started = std::time::Instant::now();
    model.generate(&probe_request()).await?;
    Ok(format!(
        "{} answered a one-token completion in {} ms",
        model.describe(),
        started.elapsed().as_millis()
    ))
}

/// The request [`probe`] sends.
pub fn probe_request() -> GenerateRequest {
    GenerateRequest {
        kind: RequestKind::Infill {
            path: "spackle_doctor.py".into(),
            prefix: "def answer():\n    return ".into(),
            suffix: "\n".into(),
            context: Vec::new(),
        },
        stop: vec!["\n".into()],
        max_tokens: 1,
        temperature: 0.0,
        candidates: 1,
    }
}

/// Asks for `count` candidates by running `one` that many times concurrently, for backends that
/// give one answer per request. Returns the answers that came back; fails only when all failed.
pub(crate) async fn several<'a, F>(count: usize, one: F) -> ModelResult<Generation>
where
    F: Fn() -> BoxFuture<'a, ModelResult<Generation>>,
{
    let results = futures::future::join_all((0..count.max(1)).map(|_| one())).await;
    let mut merged = Generation::default();
    let mut first_error = None;
    for result in results {
        match result {
            Ok(generation) => {
                merged.candidates.extend(generation.candidates);
                merged.prompt_tokens = add_counts(merged.prompt_tokens, generation.prompt_tokens);
                merged.completion_tokens =
                    add_counts(merged.completion_tokens, generation.completion_tokens);
            }
            Err(error) => {
                tracing::debug!(%error, "one of several model requests failed");
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) if merged.candidates.is_empty() => Err(error),
        _ => Ok(merged),
    }
}

pub(crate) fn add_counts(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

impl Role {
    /// The role's name in the chat APIs.
    pub fn name(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// The request's stop sequences followed by the template's own, without repeats.
pub(crate) fn merged_stops(request: &[String], template: &[&str]) -> Vec<String> {
    let mut stops: Vec<String> = Vec::new();
    for stop in request
        .iter()
        .map(String::as_str)
        .chain(template.iter().copied())
    {
        if !stop.is_empty() && !stops.iter().any(|known| known == stop) {
            stops.push(stop.to_string());
        }
    }
    stops
}

/// Turns a chat model's answers to a fill-in-the-middle request into insertable text: fences and
/// prose removed, an echo of the current line dropped, then the request's stop sequences applied
/// (they could not be sent to the server, since the answer may open with a fence).
pub(crate) fn finish_chat_infill(
    mut generation: Generation,
    prefix: &str,
    stop: &[String],
) -> Generation {
    for candidate in &mut generation.candidates {
        let text = crate::prompt::chat_answer_to_infill(candidate, prefix);
        *candidate = stream::cut_at_stop(&text, stop);
    }
    generation
}

/// The JSON messages of a chat request.
pub(crate) fn messages_json(messages: &[ChatMessage]) -> Vec<serde_json::Value> {
    messages.iter().map(|message| serde_json::json!({ "role": message.role.name(), "content": message.content })).collect()
}

/// The prompt text a request becomes under this configuration, for `spackle context` and logs:
/// the fill-in-the-middle prompt in the model's template, or the chat messages one after another.
/// For llama.cpp's `/infill` the server applies the model's own tokens; the text shown uses the
/// template the model's name suggests, or plain text with a hole marker when it suggests none.
pub fn render_prompt(config: &ModelConfig, request: &GenerateRequest) -> ModelResult<String> {
    let format = crate::prompt::PromptFormat::resolve(&config.template, &config.name)
        .map_err(|detail| ModelError::Config { detail })?;
    let (path, prefix, suffix, context) = match &request.kind {
        RequestKind::Chat { messages } => return Ok(render_messages(messages)),
        RequestKind::Infill {
            path,
            prefix,
            suffix,
            context,
        } => (path, prefix, suffix, context),
    };
    let automatic = matches!(
        config.template.trim().to_ascii_lowercase().as_str(),
        "" | "auto"
    );
    let format = match config.backend {
        Backend::Anthropic => crate::prompt::PromptFormat::Chat,
        Backend::Openai if config.api == crate::config::OpenaiApi::Chat => {
            crate::prompt::PromptFormat::Chat
        }
        Backend::Llamacpp if automatic => match format {
            crate::prompt::PromptFormat::Fim(template) => {
                crate::prompt::PromptFormat::Fim(template)
            }
            crate::prompt::PromptFormat::Chat => {
                let mut text = String::new();
                for file in context {
                    text.push_str(&format!("# {}\n{}\n", file.path, file.text.trim_end()));
                }
                text.push_str(&format!("{prefix}{}{suffix}", crate::prompt::HOLE_MARKER));
                return Ok(text);
            }
        },
        _ => format,
    };
    Ok(match format {
        crate::prompt::PromptFormat::Fim(template) => {
            template.render(path, prefix, suffix, context)
        }
        crate::prompt::PromptFormat::Chat => render_messages(&crate::prompt::chat_infill_messages(
            path, prefix, suffix, context,
        )),
    })
}

fn render_messages(messages: &[ChatMessage]) -> String {
    messages
        .iter()
        .map(|message| format!("[{}]\n{}", message.role.name(), message.content))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> GenerateRequest {
        GenerateRequest {
            kind: RequestKind::Infill {
                path: "a.py".into(),
                prefix: "x = ".into(),
                suffix: "\n".into(),
                context: Vec::new(),
            },
            stop: Vec::new(),
            max_tokens: 16,
            temperature: 0.0,
            candidates: 1,
        }
    }

    #[test]
    fn rendered_prompts_follow_the_backend_and_template() {
        let ollama = ModelConfig::default();
        assert_eq!(
            render_prompt(&ollama, &request()).unwrap(),
            "<|fim_prefix|>x = <|fim_suffix|>\n<|fim_middle|>"
        );
        let anthropic = ModelConfig {
            backend: Backend::Anthropic,
            name: "claude-3-5-haiku-latest".into(),
            ..ModelConfig::default()
        };
        let chat = render_prompt(&anthropic, &request()).unwrap();
        assert!(
            chat.starts_with("[system]\nYou complete code.")
                && chat.contains("[user]\n")
                && chat.contains("x = <CURSOR>"),
            "{chat}"
        );
        let llamacpp = ModelConfig {
            backend: Backend::Llamacpp,
            name: "model.gguf".into(),
            ..ModelConfig::default()
        };
        assert_eq!(
            render_prompt(&llamacpp, &request()).unwrap(),
            "x = <CURSOR>\n"
        );
        let bad = ModelConfig {
            template: "nope".into(),
            ..ModelConfig::default()
        };
        assert!(matches!(
            render_prompt(&bad, &request()),
            Err(ModelError::Config { .. })
        ));
    }
}
