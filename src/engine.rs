//! The plain-data facade the protocol layer and the CLI call: `prepare` a prompt, `complete` a hole.
//!
//! A completion flows one way: the document snapshot and the cursor offset go to the context
//! builder, the prompt is rendered under a budget, the model is asked, and every candidate is
//! post-processed and checked before it is returned. Nothing here knows about LSP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::check::refine::{refine, RefineOptions, CHECKS};
use crate::check::Before;
use crate::index::typed_file;

use crate::config::Config;
use crate::context::{Budget, HoleContext};
use crate::index::Index;
use crate::llm::{ContextFile, GenerateRequest, Model, ModelError, RequestKind};
use crate::store::Snapshot;

/// Refuses a document listed in the workspace's `.spackleignore`: its text must never reach a
/// prompt.
pub fn refuse_ignored(snapshot: &Snapshot, index: Option<&Index>) -> Result<(), EngineError> {
    match (index, snapshot.path.as_deref()) {
        (Some(index), Some(path)) if index.ignores(path) => Err(EngineError::Ignored {
            path: index
                .relative_path(path)
                .unwrap_or_else(|| path.display().to_string()),
        }),
        _ => Ok(()),
    }
}

/// The name of the pseudo-file that carries the repository context in the prompt.
pub const CONTEXT_FILE_NAME: &str = "context_stubs.pyi";

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
    /// The checks the suggestion passed, by name (empty for a suggestion shown unverified).
    pub checks: Vec<&'static str>,
    /// What the checks still found, for a suggestion shown unverified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// Why a request produced no completion.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the request's work stopped unexpectedly (see the log)")]
    Stopped,
    #[error("{path} is listed in .spackleignore: nothing of it is sent to the model")]
    Ignored { path: String },
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
    /// The typed hole and the repository context, when the document belongs to an index.
    pub context: Option<HoleContext>,
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
    ///
    /// With an index that holds the document's workspace, the repository context of the typed
    /// hole goes into the prompt as stubs.
    pub fn prepare(
        &self,
        snapshot: &Snapshot,
        offset: usize,
        index: Option<&Index>,
    ) -> Result<Prepared, EngineError> {
        self.prepare_text(snapshot, &snapshot.text(), offset, index)
    }

    /// [`Engine::prepare`] with the snapshot's text already in hand.
    fn prepare_text(
        &self,
        snapshot: &Snapshot,
        text: &str,
        offset: usize,
        index: Option<&Index>,
    ) -> Result<Prepared, EngineError> {
        refuse_ignored(snapshot, index)?;
        let limit = self.config.completion.max_file_bytes;
        let bytes = snapshot.rope.len_bytes();
        let Some(tree) = snapshot.tree.as_ref().filter(|_| bytes <= limit) else {
            return Err(EngineError::TooLarge { bytes, limit });
        };
        let offset = crate::text::floor_char_boundary(&snapshot.rope, offset);
        let (prefix, suffix) = crate::prompt::trim_to_budget(
            &text[..offset],
            &text[offset..],
            self.config.context.local_tokens,
            &crate::prompt::ApproximateTokens,
        );
        let (prefix, suffix) = (prefix.to_string(), suffix.to_string());
        let location = index
            .zip(snapshot.path.as_deref())
            .and_then(|(index, path)| {
                Some((
                    index,
                    index.relative_path(path)?,
                    index.module_name_of(path)?,
                ))
            });
        let path = match &location {
            Some((_, relative, _)) => relative.clone(),
            None => display_path(snapshot),
        };
        let context = location.map(|(index, relative, module)| {
            let budget = Budget::tokens(self.config.context.repository_tokens);
            crate::context::build_context(index, text, tree, &module, &relative, offset, budget)
        });
        let mut parts = Vec::new();
        let mut context_files = Vec::new();
        if let Some(context) = &context {
            let repository = context.repository_text();
            if !repository.is_empty() {
                parts.push(PromptPart {
                    name: "repository".into(),
                    why: format!(
                        "definitions the hole needs, as stubs ({} tokens)",
                        context.tokens
                    ),
                    text: repository.clone(),
                });
                context_files.push(ContextFile {
                    path: CONTEXT_FILE_NAME.into(),
                    text: repository,
                });
            }
        }
        parts.push(PromptPart {
            name: "prefix".into(),
            why: "the text before the cursor".into(),
            text: prefix.clone(),
        });
        parts.push(PromptPart {
            name: "suffix".into(),
            why: "the text after the cursor".into(),
            text: suffix.clone(),
        });
        let request = GenerateRequest {
            kind: RequestKind::Infill {
                path,
                prefix,
                suffix,
                context: context_files,
            },
            stop: Vec::new(),
            max_tokens: self.config.model.max_tokens,
            temperature: self.config.model.temperature,
            candidates: self.config.completion.candidates.max(1),
        };
        Ok(Prepared {
            request,
            parts,
            context,
        })
    }

    /// Asks the model for the hole at `offset` and returns the candidates that pass the checks,
    /// repairing them with the model for at most `completion.rounds` more requests.
    ///
    /// `still_current` tells whether the document is still at the snapshot's version; the loop
    /// stops asking when it is not.
    pub async fn complete(
        &self,
        snapshot: &Snapshot,
        offset: usize,
        index: Option<&Index>,
        still_current: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Outcome, EngineError> {
        let text = snapshot.text();
        let prepared = self.prepare_text(snapshot, &text, offset, index)?;
        let offset = crate::text::floor_char_boundary(&snapshot.rope, offset);
        let tree = snapshot
            .tree
            .clone()
            .expect("prepare checked that the document is parsed");
        let before = Before::with_tree(text, tree);
        let typed = typed_file(index, snapshot.path.as_deref());
        // What a clean candidate has passed: the typed checks only run with a workspace, on a
        // file small enough for them.
        let checks_run: Vec<&'static str> =
            if typed.is_some() && crate::semantic::Semantic::can_analyse(&before.text) {
                CHECKS.to_vec()
            } else {
                CHECKS[..2].to_vec()
            };
        let options = RefineOptions {
            rounds: self.config.completion.rounds,
            latency_budget: Duration::from_millis(self.config.completion.latency_budget_ms),
            max_lines: self.config.completion.max_lines,
        };
        let started = Instant::now();
        let refined = refine(
            self.model.as_ref(),
            prepared.request,
            &before,
            offset,
            typed.as_ref(),
            &options,
            still_current,
        )
        .await?;
        let rounds_used = refined.rounds.len();
        let mut outcome = Outcome {
            model_ms: started.elapsed().as_millis(),
            ..Outcome::default()
        };
        outcome.dropped = refined
            .dropped
            .into_iter()
            .map(|(candidate, reason)| Dropped { candidate, reason })
            .collect();
        let dropped_before_checks = outcome.dropped.len();
        let unresolved = typed
            .as_ref()
            .map(|typed| crate::check::typed::unresolved_import_names(&before, typed))
            .unwrap_or_default();
        for clean in refined.clean {
            let unchecked = names_left_unchecked(&before, offset, &clean.text, &unresolved);
            if !unchecked.is_empty() {
                // The checks passed only because they could not see these names' types.
                let problems = vec![format!(
                    "not verified: {} (the checks cannot see what these names are)",
                    unchecked.join("; ")
                )];
                tracing::info!(candidate = %clean.text, ?problems, "candidate passed checks that could not run");
                let reason = problems.join("; ");
                self.offer_unverified(
                    &mut outcome,
                    clean.text,
                    offset,
                    clean.round,
                    problems,
                    reason,
                );
                continue;
            }
            outcome.completions.push(Completion {
                text: clean.text,
                start: offset,
                end: offset,
                verification: Verification {
                    rounds: clean.round,
                    checks: checks_run.clone(),
                    problems: Vec::new(),
                },
            });
        }
        if outcome.completions.is_empty() && outcome.dropped.len() == dropped_before_checks {
            if let Some(best) = refined.best_unverified {
                let problems: Vec<String> =
                    best.problems.iter().map(|p| p.message.clone()).collect();
                let reason = format!(
                    "still has problems after {rounds_used} request{}: {}",
                    if rounds_used == 1 { "" } else { "s" },
                    problems.join("; ")
                );
                self.offer_unverified(
                    &mut outcome,
                    best.text,
                    offset,
                    rounds_used,
                    problems,
                    reason,
                );
            }
            if let Some(stopped) = refined.stopped {
                tracing::info!(%stopped, "no clean candidate");
            }
        }
        Ok(outcome)
    }

    /// A candidate the checks could not vouch for: shown marked with its problems when
    /// `completion.show_unverified` is on, else dropped with `reason`.
    fn offer_unverified(
        &self,
        outcome: &mut Outcome,
        text: String,
        offset: usize,
        rounds: usize,
        problems: Vec<String>,
        reason: String,
    ) {
        if self.config.completion.show_unverified {
            outcome.completions.push(Completion {
                text,
                start: offset,
                end: offset,
                verification: Verification {
                    rounds,
                    checks: Vec::new(),
                    problems,
                },
            });
        } else {
            outcome.dropped.push(Dropped {
                candidate: text,
                reason,
            });
        }
    }
}

impl Engine {
    /// The problems spackle's checks find in a document's own code, for diagnostics.
    pub fn diagnose(
        &self,
        snapshot: &Snapshot,
        index: Option<&Index>,
    ) -> Vec<crate::check::Problem> {
        if snapshot.tree.is_none()
            || snapshot.rope.len_bytes() > self.config.completion.max_file_bytes
        {
            return Vec::new();
        }
        let typed = typed_file(index, snapshot.path.as_deref());
        crate::check::check_document(&snapshot.text(), typed.as_ref())
    }
}

/// The imports that do not resolve (of `unresolved`) whose names the candidate relies on: names
/// the candidate or its enclosing function uses (`cart.total()` in `def pay(cart: Cart)` relies
/// on `Cart`), described as `` `Cart` from `shop.models` does not resolve ``.
fn names_left_unchecked(
    before: &Before,
    offset: usize,
    candidate: &str,
    unresolved: &[(String, String)],
) -> Vec<String> {
    if unresolved.is_empty() {
        return Vec::new();
    }
    let Some(spliced) = crate::check::splice(before, offset, candidate) else {
        return Vec::new();
    };
    let mut scope = spliced
        .tree
        .root_node()
        .descendant_for_byte_range(spliced.start, spliced.end);
    while let Some(node) = scope {
        if node.kind() == "function_definition" {
            break;
        }
        scope = node.parent();
    }
    let enclosing = scope
        .and_then(|node| spliced.text.get(node.byte_range()))
        .unwrap_or("");
    let used: std::collections::HashSet<&str> = candidate
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .chain(enclosing.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|word| !word.is_empty())
        .collect();
    unresolved
        .iter()
        .filter(|(name, _)| used.contains(name.as_str()))
        .map(|(name, module)| format!("the import of `{name}` from `{module}` does not resolve"))
        .collect()
}

/// Stands in for a model that could not be built: every request fails with the reason.
pub struct UnavailableModel {
    pub error: ModelError,
}

impl Model for UnavailableModel {
    fn generate<'a>(
        &'a self,
        _: &'a GenerateRequest,
    ) -> futures::future::BoxFuture<'a, crate::llm::ModelResult<crate::llm::Generation>> {
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
