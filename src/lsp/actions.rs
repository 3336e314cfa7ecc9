//! Code actions and commands over LSP: listing never calls the model, `codeAction/resolve` and
//! `workspace/executeCommand` compute the checked edit, and a refusal tells the user why.
//!
//! Listed actions carry the document version in their data; an action resolved for a version
//! that moved on gets no edit. The edit itself names the version too, so an editor that changed
//! the document after resolving rejects it. Commands apply their edit with `workspace/applyEdit`,
//! which the editor may refuse; nothing is ever applied without the user asking.

use tower_lsp_server::jsonrpc::{Error as RpcError, Result as RpcResult};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Cancellable, OngoingProgress, Unbounded};

use super::server::Server;
use super::{from_proto, to_proto};
use crate::actions::{self, Answer, Offer, Request};
use crate::engine::EngineError;
use crate::store::Snapshot;

/// The command that writes a docstring for the definition at a position.
pub const GENERATE_DOCSTRING: &str = "spackle.generateDocstring";
/// The command that comments a range.
pub const COMMENT: &str = "spackle.comment";
/// The commands the server executes (editors register `spackle.accepted` themselves).
pub const COMMANDS: &[&str] = &[GENERATE_DOCSTRING, COMMENT];

/// What a listed action will do once resolved; kept in the action's `data`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
enum Spec {
    Fix {
        range: Range,
        message: String,
        source: Option<String>,
        #[serde(default)]
        code: Option<String>,
    },
    Docstring {
        position: Position,
    },
    Comment {
        range: Range,
    },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ActionData {
    uri: Uri,
    version: i32,
    spec: Spec,
}

/// Arguments of `spackle.generateDocstring` and `spackle.comment`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandArguments {
    text_document: TextDocumentIdentifier,
    position: Option<Position>,
    range: Option<Range>,
}

impl Spec {
    /// What the user was asking for, for messages.
    fn what(&self) -> &'static str {
        match self {
            Spec::Fix { .. } => "fix",
            Spec::Docstring { .. } => "docstring",
            Spec::Comment { .. } => "comments",
        }
    }
}

/// The capabilities this module adds to `initialize`'s answer.
pub fn code_action_capability() -> CodeActionProviderCapability {
    CodeActionProviderCapability::Options(CodeActionOptions {
        code_action_kinds: Some(vec![
            CodeActionKind::QUICKFIX,
            CodeActionKind::REFACTOR_REWRITE,
        ]),
        work_done_progress_options: WorkDoneProgressOptions::default(),
        resolve_provider: Some(true),
    })
}

pub fn execute_command_capability() -> ExecuteCommandOptions {
    ExecuteCommandOptions {
        commands: COMMANDS.iter().map(|command| command.to_string()).collect(),
        work_done_progress_options: WorkDoneProgressOptions::default(),
    }
}

fn wanted(only: Option<&Vec<CodeActionKind>>, kind: &CodeActionKind) -> bool {
    match only {
        None => true,
        Some(kinds) => kinds.iter().any(|wanted| {
            kind.as_str() == wanted.as_str()
                || kind.as_str().starts_with(&format!("{}.", wanted.as_str()))
        }),
    }
}

impl Server {
    /// `textDocument/codeAction`: lists spackle's actions for the range without calling the model.
    pub async fn code_actions(
        &self,
        params: CodeActionParams,
    ) -> RpcResult<Option<CodeActionResponse>> {
        let uri = params.text_document.uri;
        let Some(snapshot) = self.shared.snapshot(&from_proto::document_key(&uri)).await else {
            return Ok(None);
        };
        let encoding = self.shared.encoding();
        let only = params.context.only.as_ref();
        let mut listed = Vec::new();
        let mut push = |title: String,
                        kind: CodeActionKind,
                        diagnostics: Option<Vec<Diagnostic>>,
                        spec: Spec| {
            if !wanted(only, &kind) {
                return;
            }
            let data = ActionData {
                uri: uri.clone(),
                version: snapshot.version,
                spec,
            };
            listed.push(CodeActionOrCommand::CodeAction(CodeAction {
                title,
                kind: Some(kind),
                diagnostics,
                data: serde_json::to_value(data).ok(),
                ..CodeAction::default()
            }));
        };
        for diagnostic in &params.context.diagnostics {
            let message = diagnostic.message.lines().next().unwrap_or("").trim();
            push(
                format!("Fix with spackle: {message}"),
                CodeActionKind::QUICKFIX,
                Some(vec![diagnostic.clone()]),
                Spec::Fix {
                    range: diagnostic.range,
                    message: diagnostic.message.clone(),
                    source: diagnostic.source.clone(),
                    code: diagnostic.code.as_ref().map(|code| match code {
                        NumberOrString::Number(number) => number.to_string(),
                        NumberOrString::String(text) => text.clone(),
                    }),
                },
            );
        }
        if let Some(tree) = snapshot.tree.as_ref() {
            let text = snapshot.text();
            let offset = crate::text::offset_of(
                &snapshot.rope,
                from_proto::line_col(params.range.start),
                encoding,
            );
            if let Some(target) = actions::docstring::target_at(&text, tree, offset) {
                let title = if target.docstring.is_some() {
                    "Rewrite the docstring with spackle"
                } else {
                    "Write a docstring with spackle"
                };
                push(
                    title.into(),
                    CodeActionKind::REFACTOR_REWRITE,
                    None,
                    Spec::Docstring {
                        position: params.range.start,
                    },
                );
            }
        }
        if params.range.start != params.range.end {
            push(
                "Comment this code with spackle".into(),
                CodeActionKind::REFACTOR_REWRITE,
                None,
                Spec::Comment {
                    range: params.range,
                },
            );
        }
        Ok(Some(listed))
    }

    /// `codeAction/resolve`: asks the model, checks the answer and attaches the edit, or tells the
    /// user why there is none and returns the action without an edit.
    pub async fn resolve_code_action(&self, mut action: CodeAction) -> RpcResult<CodeAction> {
        let Some(data) = action
            .data
            .clone()
            .and_then(|data| serde_json::from_value::<ActionData>(data).ok())
        else {
            return Err(RpcError::invalid_params(
                "this code action was not listed by spackle",
            ));
        };
        if let Some((snapshot, offer)) = self
            .compute(&data.uri, Some(data.version), &data.spec, None)
            .await
        {
            action.edit = Some(self.workspace_edit(&data.uri, &snapshot, &offer));
        }
        Ok(action)
    }

    /// `workspace/executeCommand` for `spackle.generateDocstring` and `spackle.comment`: computes
    /// the checked edit and asks the editor to apply it.
    pub async fn execute_spackle_command(
        &self,
        params: ExecuteCommandParams,
    ) -> RpcResult<Option<LSPAny>> {
        let argument = params.arguments.into_iter().next().unwrap_or_default();
        let arguments: CommandArguments = serde_json::from_value(argument).map_err(|error| {
            RpcError::invalid_params(format!(
                "{}: expected [{{textDocument, position or range}}]: {error}",
                params.command
            ))
        })?;
        let spec = match params.command.as_str() {
            GENERATE_DOCSTRING => {
                let position = arguments
                    .position
                    .or(arguments.range.map(|range| range.start))
                    .ok_or_else(|| {
                        RpcError::invalid_params("spackle.generateDocstring needs a position")
                    })?;
                Spec::Docstring { position }
            }
            COMMENT => {
                let range = arguments
                    .range
                    .ok_or_else(|| RpcError::invalid_params("spackle.comment needs a range"))?;
                Spec::Comment { range }
            }
            other => {
                return Err(RpcError::invalid_params(format!(
                    "spackle does not execute the command `{other}`"
                )))
            }
        };
        let uri = arguments.text_document.uri;
        let progress = params.work_done_progress_params.work_done_token;
        let Some((snapshot, offer)) = self.compute(&uri, None, &spec, progress).await else {
            return Ok(None);
        };
        let edit = self.workspace_edit(&uri, &snapshot, &offer);
        match self.client.apply_edit(edit).await {
            Ok(response) if response.applied => {
                tracing::info!(command = %params.command, "the editor applied the edit");
            }
            Ok(response) => {
                let reason = response
                    .failure_reason
                    .unwrap_or_else(|| "no reason given".into());
                self.client
                    .log_message(
                        MessageType::INFO,
                        format!(
                            "spackle: the editor did not apply the {}: {reason}",
                            spec.what()
                        ),
                    )
                    .await;
            }
            Err(error) => {
                self.client
                    .log_message(
                        MessageType::INFO,
                        format!(
                            "spackle: the editor did not apply the {}: {error}",
                            spec.what()
                        ),
                    )
                    .await;
            }
        }
        Ok(None)
    }

    /// Runs an action for the document's current snapshot. `None` means no edit; the user has
    /// been told why.
    async fn compute(
        &self,
        uri: &Uri,
        listed_version: Option<i32>,
        spec: &Spec,
        progress: Option<ProgressToken>,
    ) -> Option<(Snapshot, Offer)> {
        let key = from_proto::document_key(uri);
        let what = spec.what();
        let Some(snapshot) = self.shared.snapshot(&key).await else {
            self.refuse(what, "the document is not open").await;
            return None;
        };
        if listed_version.is_some_and(|version| version != snapshot.version) {
            self.refuse(
                what,
                "the document changed since the action was listed; ask again",
            )
            .await;
            return None;
        }
        let request = self.request_of(&snapshot, spec);
        let key_for_check = key.clone();
        let engine = self.engine();
        let index = self.shared.index_snapshot_off_loop().await;
        tracing::debug!(uri = %key, version = snapshot.version, ?request, "code action requested");
        let shared = self.shared.clone();
        let version = snapshot.version;
        let still_current = move || shared.version(&key_for_check) == Some(version);
        let progress = self.begin_progress(spec, progress).await;
        let (rounds_sender, mut rounds) = tokio::sync::mpsc::unbounded_channel::<String>();
        let on_round = move |round: actions::Round| {
            let message = match round.rejected {
                None => format!("asking the model (round {} of {})", round.number, round.of),
                Some(reason) => format!(
                    "repairing (round {} of {}): {reason}",
                    round.number, round.of
                ),
            };
            let _ = rounds_sender.send(message);
        };
        // The action's checks are CPU work: they run in a task of their own, never in the
        // message loop's; dropping `work` aborts it, and with it the model call.
        let for_work = snapshot.clone();
        let mut work = super::server::spawn_request(async move {
            let hooks = actions::Hooks {
                still_current: &still_current,
                on_round: &on_round,
            };
            actions::run(&engine, &for_work, index.as_ref(), &request, &hooks).await
        });
        let cancelled = progress.as_ref().map(|progress| progress.cancel.clone());
        let mut cancelled = std::pin::pin!(async move {
            match cancelled {
                Some(notify) => notify.notified().await,
                None => std::future::pending::<()>().await,
            }
        });
        let result = loop {
            // Biased: a round's report goes out before the work is polled on.
            tokio::select! {
                biased;
                () = &mut cancelled => break None,
                Some(message) = rounds.recv() => {
                    if let Some(progress) = &progress {
                        progress.report(message).await;
                    }
                }
                result = &mut work => {
                    break Some(result.unwrap_or(Err(EngineError::Stopped)))
                }
            }
        };
        // Dropping the work drops the HTTP request to the model, if one is under way.
        drop(work);
        if let Some(progress) = progress {
            progress.finish().await;
        }
        let Some(result) = result else {
            let message = format!("spackle: the {what} was cancelled");
            tracing::info!(%message, "code action cancelled through its progress");
            self.client.log_message(MessageType::INFO, message).await;
            return None;
        };
        if self.shared.version(&key) != Some(snapshot.version) {
            self.refuse(
                what,
                "the document changed while the model answered; ask again",
            )
            .await;
            return None;
        }
        match result {
            Ok(Answer::Offer(offer)) => {
                tracing::info!(rounds = offer.rounds, checks = ?offer.checks, "code action checked");
                Some((snapshot, offer))
            }
            Ok(Answer::Refused(reason)) => {
                self.refuse(what, &reason).await;
                None
            }
            Err(EngineError::Model(error)) => {
                self.report_failure(&error).await;
                None
            }
            Err(error) => {
                self.refuse(what, &error.to_string()).await;
                None
            }
        }
    }

    /// Shows cancellable progress for an action: under the request's own token when it has one,
    /// else under a token the server creates when the client supports that; `None` otherwise.
    async fn begin_progress(
        &self,
        spec: &Spec,
        token: Option<ProgressToken>,
    ) -> Option<ActionProgress> {
        let token = match token {
            Some(token) => token,
            None if self.shared.client_supports_progress() => {
                let token = self.shared.new_progress_token("action");
                if let Err(error) = self.client.create_work_done_progress(token.clone()).await {
                    tracing::debug!(%error, "the client refused to create progress");
                    return None;
                }
                token
            }
            None => return None,
        };
        let cancel = self.shared.watch_progress_cancel(&token);
        let title = match spec {
            Spec::Fix { .. } => "spackle: writing a fix…",
            Spec::Docstring { .. } => "spackle: writing a docstring…",
            Spec::Comment { .. } => "spackle: writing comments…",
        };
        let ongoing = self
            .client
            .progress(token.clone(), title)
            .with_cancel_button()
            .begin()
            .await;
        Some(ActionProgress {
            ongoing: Some(ongoing),
            token,
            cancel,
            shared: self.shared.clone(),
        })
    }

    fn request_of(&self, snapshot: &Snapshot, spec: &Spec) -> Request {
        let encoding = self.shared.encoding();
        let offset = |position: Position| {
            crate::text::offset_of(&snapshot.rope, from_proto::line_col(position), encoding)
        };
        match spec {
            Spec::Fix {
                range,
                message,
                source,
                code,
            } => Request::Fix(actions::Diagnostic {
                start: offset(range.start),
                end: offset(range.end),
                message: message.clone(),
                source: source.clone(),
                code: code.clone(),
            }),
            Spec::Docstring { position } => Request::Docstring {
                offset: offset(*position),
            },
            Spec::Comment { range } => Request::Comment {
                start: offset(range.start),
                end: offset(range.end),
            },
        }
    }

    /// Tells the user, in one sentence, why no edit is offered.
    async fn refuse(&self, what: &str, reason: &str) {
        let message = format!("spackle: no {what} offered: {reason}.");
        tracing::info!(%message, "code action refused");
        self.client
            .show_message(MessageType::WARNING, &message)
            .await;
        self.client.log_message(MessageType::INFO, &message).await;
    }

    /// The edit for the document at the version it was computed for.
    fn workspace_edit(&self, uri: &Uri, snapshot: &Snapshot, offer: &Offer) -> WorkspaceEdit {
        let encoding = self.shared.encoding();
        let edit = TextEdit {
            range: to_proto::range(&snapshot.rope, offer.edit.start, offer.edit.end, encoding),
            new_text: offer.edit.text.clone(),
        };
        WorkspaceEdit {
            changes: None,
            document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri: uri.clone(),
                    version: Some(snapshot.version),
                },
                edits: vec![OneOf::Left(edit)],
            }])),
            change_annotations: None,
        }
    }
}

/// An action's `$/progress`: reports per model round, an end however the action stops (also when
/// `$/cancelRequest` drops the request), and the user's cancel button.
struct ActionProgress {
    ongoing: Option<OngoingProgress<Unbounded, Cancellable>>,
    token: ProgressToken,
    /// Woken by `window/workDoneProgress/cancel` for this token.
    cancel: std::sync::Arc<tokio::sync::Notify>,
    shared: super::server::Shared,
}

impl ActionProgress {
    async fn report(&self, message: String) {
        if let Some(ongoing) = &self.ongoing {
            ongoing.report_with_message(message, Some(true)).await;
        }
    }

    async fn finish(mut self) {
        if let Some(ongoing) = self.ongoing.take() {
            ongoing.finish().await;
        }
    }
}

impl Drop for ActionProgress {
    fn drop(&mut self) {
        self.shared.forget_progress(&self.token);
        if let Some(ongoing) = self.ongoing.take() {
            // The request was dropped mid-way: the editor still gets its `end`.
            tokio::spawn(ongoing.finish());
        }
    }
}
