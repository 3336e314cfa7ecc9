//! Language models behind one trait: requests in plain data, typed errors, one backend per file.
//!
//! A request is either fill-in-the-middle (text before and after the cursor, plus repository
//! context) or a chat. Each backend turns it into its own wire format (`prompt.rs` holds the
//! fill-in-the-middle templates), streams the answer, applies stop sequences and timeouts, and
//! returns the finished text. Dropping the future cancels the HTTP request.

use std::time::Duration;

use futures::future::BoxFuture;

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
    Infill { path: String, prefix: String, suffix: String, context: Vec<ContextFile> },
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
    Unreachable { endpoint: String, detail: String },
    #[error("the model server at {endpoint} refused the API key (HTTP {status})")]
    Unauthorized { endpoint: String, status: u16, key_env: Option<String> },
    #[error("the model server at {endpoint} is rate-limiting requests")]
    RateLimited { endpoint: String, retry_after: Option<Duration> },
    #[error("the model server at {endpoint} does not know the model `{model}`")]
    ModelNotFound { endpoint: String, model: String },
    #[error("the model server at {endpoint} did not answer within {after:?} ({what})")]
    Timeout { endpoint: String, what: &'static str, after: Duration },
    #[error("the model server at {endpoint} failed (HTTP {status}): {detail}")]
    Server { endpoint: String, status: u16, detail: String },
    #[error("the model server at {endpoint} sent an answer spackle cannot read: {detail}")]
    BadResponse { endpoint: String, detail: String },
    #[error("the model is not configured correctly: {detail}")]
    Config { detail: String },
}

pub type ModelResult<T> = Result<T, ModelError>;

/// A language model that spackle can ask for code.
pub trait Model: Send + Sync {
    /// Asks the model; dropping the returned future cancels the request.
    fn generate<'a>(&'a self, request: &'a GenerateRequest) -> BoxFuture<'a, ModelResult<Generation>>;

    /// A short description for logs and `spackle doctor`: backend, endpoint and model name.
    fn describe(&self) -> String;
}

/// Builds the model the configuration names. (Placeholder until the backends land.)
pub fn model_from_config(config: &crate::config::ModelConfig) -> ModelResult<std::sync::Arc<dyn Model>> {
    Err(ModelError::Config { detail: format!("the {} backend is not available yet", config.backend.name()) })
}

impl ModelError {
    /// One sentence for the user. (Placeholder until the backends land.)
    pub fn user_message(&self) -> String {
        self.to_string()
    }
}

/// Checks that the model server answers. (Placeholder until the backends land.)
pub async fn probe(config: &crate::config::ModelConfig) -> ModelResult<String> {
    Err(ModelError::Config { detail: format!("the {} backend is not available yet", config.backend.name()) })
}
