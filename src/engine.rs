//! The plain-data facade the protocol layer and the CLI call: `prepare` a prompt, `complete` a hole.
//!
//! A completion flows one way: the document snapshot and the cursor offset go to the context
//! builder, the prompt is rendered under a budget, the model is asked, and every candidate is
//! post-processed and checked before it is returned. Nothing here knows about LSP.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::llm::{GenerateRequest, Model, ModelError, RequestKind};
use crate::store::Snapshot;

/// A suggestion ready for the editor: replace the bytes `start..end` with `text`.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub verification: Verification,
}

/// What spackle verified about a suggestion before returning it.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Verification {
    /// Requests made to the model for this suggestion (1 when the first answer was clean).
    pub rounds: usize,
    /// The checks the suggestion passed, by name.
    pub checks: Vec<&'static str>,
}

/// Why a request produced no completion.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the file is too large to complete ({bytes} bytes; the limit is completion.max_file_bytes = {limit})")]
    TooLarge { bytes: usize, limit: usize },
}

/// One named piece of the prompt, for `spackle context` and the logs.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptPart {
    pub name: String,
    pub why: String,
    pub text: String,
}

/// The request that would be sent to the model, and the parts it was made from.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub request: GenerateRequest,
    pub parts: Vec<PromptPart>,
}

/// Why the engine dropped a candidate; logged, never shown as an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    pub candidate: String,
    pub reason: String,
}

/// The outcome of one completion request.
#[derive(Debug, Default)]
pub struct Outcome {
    pub completions: Vec<Completion>,
    pub dropped: Vec<Dropped>,
    pub model_ms: u128,
}

/// Everything a request needs that outlives it: the configuration in force and the model.
pub struct Engine {
    pub config: Config,
    pub model: Arc<dyn Model>,
}

impl Engine {
    pub fn new(config: Config, model: Arc<dyn Model>) -> Self {
        Engine { config, model }
    }

    /// Builds the model request for the cursor at byte `offset` without calling the model.
    pub fn prepare(&self, snapshot: &Snapshot, offset: usize) -> Result<Prepared, EngineError> {
        let limit = self.config.completion.max_file_bytes;
        let bytes = snapshot.rope.len_bytes();
        if bytes > limit || snapshot.tree.is_none() {
            return Err(EngineError::TooLarge { bytes, limit });
        }
        let offset = crate::text::floor_char_boundary(&snapshot.rope, offset);
        let text = snapshot.text();
        let (prefix, suffix) = crate::prompt::trim_to_budget(
            &text[..offset],
            &text[offset..],
            self.config.context.local_tokens,
            &crate::prompt::ApproximateTokens,
        );
        let (prefix, suffix) = (prefix.to_string(), suffix.to_string());
        let path = display_path(snapshot);
        let parts = vec![
            PromptPart { name: "prefix".into(), why: "the text before the cursor".into(), text: prefix.clone() },
            PromptPart { name: "suffix".into(), why: "the text after the cursor".into(), text: suffix.clone() },
        ];
        let request = GenerateRequest {
            kind: RequestKind::Infill { path, prefix, suffix, context: Vec::new() },
            stop: Vec::new(),
            max_tokens: self.config.model.max_tokens,
            temperature: self.config.model.temperature,
            candidates: self.config.completion.candidates.max(1),
        };
        Ok(Prepared { request, parts })
    }

    /// Asks the model for the hole at `offset` and returns the candidates that survive the checks.
    pub async fn complete(&self, snapshot: &Snapshot, offset: usize) -> Result<Outcome, EngineError> {
        let prepared = self.prepare(snapshot, offset)?;
        let offset = crate::text::floor_char_boundary(&snapshot.rope, offset);
        let started = Instant::now();
        let generation = self.model.generate(&prepared.request).await?;
        let mut outcome = Outcome { model_ms: started.elapsed().as_millis(), ..Outcome::default() };
        let text = snapshot.text();
        for raw in generation.candidates {
            match clean_candidate(&text, offset, &raw, self.config.completion.max_lines) {
                Ok(candidate) => {
                    if outcome.completions.iter().any(|c| c.text == candidate) {
                        continue;
                    }
                    outcome.completions.push(Completion {
                        text: candidate,
                        start: offset,
                        end: offset,
                        verification: Verification { rounds: 1, checks: vec!["syntax"] },
                    });
                }
                Err(reason) => outcome.dropped.push(Dropped { candidate: raw, reason }),
            }
        }
        Ok(outcome)
    }
}

/// Stands in for a model that could not be built: every request fails with the reason.
pub struct UnavailableModel {
    pub error: ModelError,
}

impl Model for UnavailableModel {
    fn generate<'a>(&'a self, _: &'a GenerateRequest) -> futures::future::BoxFuture<'a, crate::llm::ModelResult<crate::llm::Generation>> {
        let error = self.error.clone();
        Box::pin(async move { Err(error) })
    }

    fn describe(&self) -> String {
        format!("no model: {}", self.error)
    }
}

/// Builds the engine for a configuration; a model that cannot be built fails each request instead.
pub fn engine_for(config: Config) -> Engine {
    let model: Arc<dyn Model> = match crate::llm::model_from_config(&config.model) {
        Ok(model) => model,
        Err(error) => Arc::new(UnavailableModel { error }),
    };
    Engine::new(config, model)
}

/// The path shown to the model: the file name relative to nothing in particular.
fn display_path(snapshot: &Snapshot) -> String {
    snapshot
        .path
        .as_ref()
        .and_then(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "untitled.py".into())
}

/// A first, minimal clean-up of a raw answer until the post-processing module lands.
fn clean_candidate(document: &str, offset: usize, raw: &str, max_lines: usize) -> Result<String, String> {
    let _ = (document, offset);
    let candidate: String = raw.lines().take(max_lines.max(1)).collect::<Vec<_>>().join("\n");
    let candidate = candidate.trim_end().to_string();
    if candidate.trim().is_empty() {
        return Err("empty".into());
    }
    Ok(candidate)
}
