//! The language server: LSP requests in, engine calls, LSP responses out.
//!
//! Document edits never pass through here: `ordered.rs` applies them in arrival order. Handlers
//! take a snapshot, drop every lock, and then await the engine. A newer completion request for the
//! same document supersedes an older one, and `$/cancelRequest` drops the request's future (and
//! with it the HTTP request to the model).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tower_lsp_server::jsonrpc::Result as RpcResult;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use super::{from_proto, to_proto};
use crate::config::{Config, ConfigWarning, Layers};
use crate::engine::{Completion, Engine, EngineError};
use crate::index::environment::Environment;
use crate::index::{Index, IndexOptions, SharedIndex};
use crate::llm::ModelError;
use crate::reuse::LastAnswers;
use crate::store::{Document, Snapshot, Store, TextChange};
use crate::text::PositionEncoding;

/// The state every handler and the ordered-edits wrapper share.
#[derive(Clone)]
pub struct Shared(Arc<SharedInner>);

struct SharedInner {
    store: Store,
    state: RwLock<State>,
    /// The latest completion request per document; a newer one supersedes older ones.
    requests: Mutex<HashMap<String, watch::Sender<u64>>>,
    request_counter: AtomicU64,
    /// The last answer per document, reused while the user types what it predicted.
    last_answers: Mutex<LastAnswers>,
    /// Error kinds the user has already been shown in a pop-up this session.
    shown_errors: Mutex<HashSet<String>>,
    /// Configuration warnings found in `initialize`, shown in `initialized`.
    pending_warnings: Mutex<Vec<ConfigWarning>>,
    /// The repository index of the workspace, once there is a workspace.
    index: RwLock<Option<Arc<SharedIndex>>>,
    /// Open documents whose text changed since the index last saw them.
    dirty: Mutex<HashSet<String>>,
    /// The client accepts server-initiated progress (`window.workDoneProgress`).
    client_progress: std::sync::atomic::AtomicBool,
    /// Cancellable progress under way, by token: `window/workDoneProgress/cancel` wakes it.
    progress_cancels: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
    /// The client has sent `shutdown`.
    shutdown_requested: std::sync::atomic::AtomicBool,
    /// The client has sent `exit` before any `shutdown`, so the server must exit with status 1.
    exit_without_shutdown: std::sync::atomic::AtomicBool,
}

struct State {
    encoding: PositionEncoding,
    root: Option<PathBuf>,
    layers: Layers,
    config: Config,
    engine: Arc<Engine>,
}

impl Default for Shared {
    fn default() -> Self {
        let config = Config::default();
        Shared(Arc::new(SharedInner {
            store: Store::default(),
            state: RwLock::new(State {
                encoding: PositionEncoding::Utf16,
                root: None,
                layers: Layers::default(),
                config: config.clone(),
                engine: Arc::new(crate::engine::engine_for(config.clone())),
            }),
            requests: Mutex::new(HashMap::new()),
            request_counter: AtomicU64::new(0),
            last_answers: Mutex::new(LastAnswers::default()),
            shown_errors: Mutex::new(HashSet::new()),
            pending_warnings: Mutex::new(Vec::new()),
            index: RwLock::new(None),
            dirty: Mutex::new(HashSet::new()),
            client_progress: std::sync::atomic::AtomicBool::new(false),
            progress_cancels: Mutex::new(HashMap::new()),
            shutdown_requested: std::sync::atomic::AtomicBool::new(false),
            exit_without_shutdown: std::sync::atomic::AtomicBool::new(false),
        }))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.0
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.0
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn encoding(&self) -> PositionEncoding {
        self.read().encoding
    }

    fn max_file_bytes(&self) -> usize {
        self.read().config.completion.max_file_bytes
    }

    /// Records the lifecycle messages, `shutdown` and `exit`, in arrival order.
    pub fn note_lifecycle(&self, method: &str) {
        match method {
            "shutdown" => self.0.shutdown_requested.store(true, Ordering::SeqCst),
            "exit" => {
                let clean = self.0.shutdown_requested.load(Ordering::SeqCst);
                self.0.exit_without_shutdown.store(!clean, Ordering::SeqCst);
            }
            _ => {}
        }
    }

    /// Whether the client sent `exit` without `shutdown` before it.
    pub fn exited_without_shutdown(&self) -> bool {
        self.0.exit_without_shutdown.load(Ordering::SeqCst)
    }

    pub fn open_document(&self, uri: Uri, version: i32, text: &str) {
        let path = from_proto::file_path(&uri);
        let key = from_proto::document_key(&uri);
        if let (Some(index), Some(path)) = (self.shared_index(), path.as_deref()) {
            index.document_opened(path, text);
        }
        let document = Document::new(key.clone(), path, version, text, self.max_file_bytes());
        self.0.store.open(document);
        lock(&self.0.dirty).insert(key);
    }

    pub fn change_document(&self, uri: &Uri, version: i32, changes: &[TextChange]) {
        let key = from_proto::document_key(uri);
        if self.0.store.change(
            &key,
            version,
            changes,
            self.encoding(),
            self.max_file_bytes(),
        ) {
            lock(&self.0.dirty).insert(key);
        } else {
            tracing::warn!(uri = %key, "change to a document that is not open, ignored");
        }
    }

    /// An edit to the document at `uri` could not be read: its text is no longer the editor's.
    /// It is not used (no completions, actions or diagnostics) until its whole text comes again.
    pub fn edit_unreadable(&self, uri: &str) {
        let key = match uri.parse::<Uri>() {
            Ok(uri) => from_proto::document_key(&uri),
            Err(_) => uri.to_string(),
        };
        if self.0.store.mark_diverged(&key) {
            tracing::warn!(uri = %key, "an edit could not be read: the document is out of sync until the editor sends its whole text");
        }
    }

    pub fn close_document(&self, uri: &Uri) {
        let key = from_proto::document_key(uri);
        self.0.store.close(&key);
        lock(&self.0.requests).remove(&key);
        lock(&self.0.dirty).remove(&key);
        if let (Some(index), Some(path)) = (self.shared_index(), from_proto::file_path(uri)) {
            index.buffer_closed(&path);
        }
    }

    fn shared_index(&self) -> Option<Arc<SharedIndex>> {
        self.0
            .index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// A snapshot of the index with every changed open document brought up to date.
    pub(super) fn index_snapshot(&self) -> Option<Index> {
        let index = self.shared_index()?;
        let dirty: Vec<String> = lock(&self.0.dirty).drain().collect();
        for key in dirty {
            let Some(document) = self.0.store.snapshot(&key) else {
                continue;
            };
            if let (Some(path), Some(tree)) = (document.path.as_deref(), document.tree.as_ref()) {
                index.buffer_changed_with_tree(path, &document.text(), tree);
            }
        }
        Some(index.snapshot())
    }

    /// A snapshot of an open document, parsed on a blocking thread (never on the message loop).
    pub(super) async fn snapshot(&self, key: &str) -> Option<Snapshot> {
        let store = self.0.store.clone();
        let key = key.to_string();
        tokio::task::spawn_blocking(move || store.snapshot(&key))
            .await
            .ok()
            .flatten()
    }

    /// [`Shared::index_snapshot`] on a blocking thread: bringing the index up to date parses and
    /// extracts the changed documents.
    pub(super) async fn index_snapshot_off_loop(&self) -> Option<Index> {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || shared.index_snapshot())
            .await
            .ok()
            .flatten()
    }

    /// The current version of an open document.
    pub(super) fn version(&self, key: &str) -> Option<i32> {
        self.0.store.version(key)
    }

    /// Whether the client accepts `window/workDoneProgress/create`.
    pub(super) fn client_supports_progress(&self) -> bool {
        self.0.client_progress.load(Ordering::Relaxed)
    }

    /// A fresh token for server-initiated progress.
    pub(super) fn new_progress_token(&self, what: &str) -> ProgressToken {
        let id = self.0.request_counter.fetch_add(1, Ordering::Relaxed) + 1;
        ProgressToken::String(format!("spackle/{what}/{id}"))
    }

    /// Registers cancellable progress under `token`; the returned `Notify` is woken by
    /// `window/workDoneProgress/cancel` for that token (also when the cancel came first).
    pub(super) fn watch_progress_cancel(&self, token: &ProgressToken) -> Arc<tokio::sync::Notify> {
        let notify = Arc::new(tokio::sync::Notify::new());
        lock(&self.0.progress_cancels).insert(progress_key(token), notify.clone());
        notify
    }

    /// Forgets cancellable progress that ended.
    pub(super) fn forget_progress(&self, token: &ProgressToken) {
        lock(&self.0.progress_cancels).remove(&progress_key(token));
    }

    /// Registers a new completion request for `key`, superseding earlier ones, and returns a
    /// receiver that changes when a newer request arrives.
    fn begin_request(&self, key: &str) -> (u64, watch::Receiver<u64>) {
        let id = self.0.request_counter.fetch_add(1, Ordering::Relaxed) + 1;
        let mut requests = lock(&self.0.requests);
        match requests.get(key) {
            Some(sender) => {
                sender.send_replace(id);
                (id, sender.subscribe())
            }
            None => {
                let (sender, receiver) = watch::channel(id);
                requests.insert(key.to_string(), sender);
                (id, receiver)
            }
        }
    }

    /// Rebuilds the configuration and the model from the layers; returns the warnings.
    fn reconfigure(&self) -> Vec<ConfigWarning> {
        let mut warnings = Vec::new();
        let mut state = self.write();
        let root = state.root.clone();
        let editor = state.layers.editor.take();
        state.layers = Layers::discover(root.as_deref(), &mut warnings);
        state.layers.editor = editor;
        let config = state.layers.resolve(&mut warnings);
        state.engine = Arc::new(crate::engine::engine_for(config.clone()));
        state.config = config;
        lock(&self.0.shown_errors).clear();
        lock(&self.0.last_answers).clear();
        warnings
    }
}

/// The LSP server.
pub struct Server {
    pub(super) client: Client,
    pub(super) shared: Shared,
}

impl Server {
    pub fn new(client: Client, shared: Shared) -> Self {
        Server { client, shared }
    }

    /// The engine in force.
    pub(super) fn engine(&self) -> Arc<Engine> {
        self.shared.read().engine.clone()
    }

    /// Tells the user about a failure: a pop-up the first time this kind of failure happens, the
    /// log after that.
    pub(super) async fn report_failure(&self, error: &ModelError) {
        let kind = failure_kind(error);
        let first = lock(&self.shared.0.shown_errors).insert(kind.to_string());
        let message = format!("spackle: {}", error.user_message());
        tracing::warn!(%error, "no completion");
        if first {
            self.client
                .show_message(MessageType::WARNING, &message)
                .await;
        }
        self.client
            .log_message(MessageType::WARNING, &message)
            .await;
    }

    async fn report_warnings(&self, warnings: &[ConfigWarning]) {
        if warnings.is_empty() {
            return;
        }
        let lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        for line in &lines {
            self.client
                .log_message(
                    MessageType::WARNING,
                    format!("spackle configuration: {line}"),
                )
                .await;
        }
        let summary = format!(
            "spackle: {} configuration problem{} (the defaults stay in force): {}",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" },
            lines.join("; ")
        );
        self.client
            .show_message(MessageType::WARNING, summary)
            .await;
    }

    /// Runs the engine for the cursor in `uri` at `position`, honouring supersession and
    /// staleness. `None` means "no completion" (the reason is logged or shown once).
    ///
    /// The model is asked once per pause: the last answer is reused for the same text and cursor
    /// and while the user types what it predicted (`reuse.rs`). `invoked` (the user asked
    /// explicitly) skips the debounce, and asks the model again when the last answer was empty.
    async fn complete_at(
        &self,
        uri: &Uri,
        position: Position,
        progress: Option<ProgressToken>,
        invoked: bool,
    ) -> Option<(Snapshot, Vec<Completion>)> {
        let key = from_proto::document_key(uri);
        let snapshot = self.shared.snapshot(&key).await?;
        let encoding = self.shared.encoding();
        let offset =
            crate::text::offset_of(&snapshot.rope, from_proto::line_col(position), encoding);
        let offset = crate::text::floor_char_boundary(&snapshot.rope, offset);
        let (request_id, mut superseded) = self.shared.begin_request(&key);
        tracing::debug!(uri = %key, request_id, version = snapshot.version, offset, invoked, "completion requested");
        let engine = self.engine();
        if !engine.config.completion.enable {
            return None;
        }
        let text = snapshot.text();
        let reused = lock(&self.shared.0.last_answers).reuse(&key, &text, offset);
        if let Some(completions) = reused {
            if !(invoked && completions.is_empty()) {
                tracing::debug!(uri = %key, request_id, items = completions.len(), "the last answer still holds; the model is not asked");
                return Some((snapshot, completions));
            }
        }
        let debounce = if invoked {
            Duration::ZERO
        } else {
            Duration::from_millis(engine.config.completion.debounce_ms)
        };
        let work = async {
            if !debounce.is_zero() {
                tokio::time::sleep(debounce).await;
            }
            let progress = match progress {
                Some(token) => Some(
                    self.client
                        .progress(token, "spackle")
                        .with_message("asking the model")
                        .begin()
                        .await,
                ),
                None => None,
            };
            let index = self.shared.index_snapshot_off_loop().await;
            let store = self.shared.0.store.clone();
            let (key, version) = (key.clone(), snapshot.version);
            let still_current = move || store.version(&key) == Some(version);
            // The engine's checks are CPU work: they run in a task of their own, never in the
            // message loop's, and the task is aborted (dropping the model call) with the request.
            let (engine, snapshot) = (engine.clone(), snapshot.clone());
            let result = spawn_request(async move {
                engine
                    .complete(&snapshot, offset, index.as_ref(), &still_current)
                    .await
            })
            .await
            .unwrap_or(Err(EngineError::Stopped));
            if let Some(progress) = progress {
                progress.finish().await;
            }
            result
        };
        let result = tokio::select! {
            result = work => {
                tracing::debug!(uri = %key, request_id, ok = result.is_ok(), "engine finished");
                Some(result)
            }
            _ = wait_superseded(&mut superseded, request_id) => {
                tracing::debug!(uri = %key, request_id, "completion superseded by a newer request");
                None
            }
        };
        let result = match result {
            Some(result) => result,
            None => {
                tracing::debug!(uri = %key, request_id, "answering the superseded request with nothing");
                return None;
            }
        };
        match result {
            Ok(outcome) => {
                for dropped in &outcome.dropped {
                    tracing::info!(reason = %dropped.reason, "candidate dropped");
                    self.client
                        .log_message(
                            MessageType::LOG,
                            format!("spackle: dropped a candidate: {}", dropped.reason),
                        )
                        .await;
                }
                if self.shared.0.store.version(&key) != Some(snapshot.version) {
                    tracing::debug!(uri = %key, "document changed while the model answered; result dropped");
                    return None;
                }
                lock(&self.shared.0.shown_errors).clear();
                let store = &self.shared.0.store;
                let mut last_answers = lock(&self.shared.0.last_answers);
                last_answers.retain(|other| other == key || store.version(other).is_some());
                last_answers.remember(&key, text, offset, outcome.completions.clone());
                drop(last_answers);
                Some((snapshot, outcome.completions))
            }
            Err(EngineError::Model(error)) => {
                self.report_failure(&error).await;
                None
            }
            Err(error) => {
                tracing::info!(%error, "no completion");
                self.client
                    .log_message(MessageType::INFO, format!("spackle: {error}"))
                    .await;
                None
            }
        }
    }

    /// `textDocument/inlineCompletion` (LSP 3.18), registered as a custom method.
    pub async fn inline_completion(
        &self,
        params: InlineCompletionParams,
    ) -> RpcResult<Option<InlineCompletionResponse>> {
        let position = params.text_document_position;
        let progress = params.work_done_progress_params.work_done_token;
        let invoked = params.context.trigger_kind == InlineCompletionTriggerKind::INVOKED;
        let Some((snapshot, completions)) = self
            .complete_at(
                &position.text_document.uri,
                position.position,
                progress,
                invoked,
            )
            .await
        else {
            tracing::debug!("inline completion: no items");
            return Ok(None);
        };
        let encoding = self.shared.encoding();
        let items = completions
            .into_iter()
            .map(|completion| InlineCompletionItem {
                range: Some(to_proto::range(
                    &snapshot.rope,
                    completion.start,
                    completion.end,
                    encoding,
                )),
                insert_text: completion.text,
                filter_text: None,
                command: Some(to_proto::verification_command(&completion.verification)),
                insert_text_format: None,
            })
            .collect();
        Ok(Some(InlineCompletionResponse::Array(items)))
    }
}

impl Server {
    /// Indexes the workspace in the background, reporting `$/progress`; requests made meanwhile
    /// use what is indexed so far.
    async fn start_indexing(&self) {
        let Some(root) = self.shared.read().root.clone() else {
            tracing::info!("no workspace folder: completions use the open file only");
            return;
        };
        let environment = Arc::new(Environment::discover(&root, &[]));
        let index = SharedIndex::new(root.clone(), environment, IndexOptions::default());
        *self
            .shared
            .0
            .index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(index.clone());
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let worker = index.spawn_indexing(move |progress| {
            let _ = sender.send(progress);
        });
        let client = self.client.clone();
        tokio::spawn(async move {
            let token = ProgressToken::String("spackle/indexing".into());
            let created = client
                .create_work_done_progress(token.clone())
                .await
                .is_ok();
            let progress = if created {
                Some(
                    client
                        .progress(token, "spackle: indexing")
                        .with_percentage(0)
                        .begin()
                        .await,
                )
            } else {
                None
            };
            while let Some(step) = receiver.recv().await {
                if let Some(progress) = &progress {
                    let percent = (step.done * 100).checked_div(step.total).unwrap_or(100) as u32;
                    progress
                        .report_with_message(
                            format!("{}/{} files", step.done, step.total),
                            percent.min(100),
                        )
                        .await;
                }
            }
            let report = tokio::task::spawn_blocking(move || worker.join()).await;
            let summary = match report {
                Ok(Ok(report)) => {
                    for (path, reason) in &report.skipped {
                        tracing::info!(path = %path.display(), %reason, "skipped while indexing");
                    }
                    format!(
                        "spackle: indexed {} files ({} parsed, {} from the cache), skipped {}",
                        report.files,
                        report.parsed,
                        report.from_cache,
                        report.skipped.len()
                    )
                }
                _ => {
                    "spackle: indexing stopped early; completions use what was indexed".to_string()
                }
            };
            if let Some(progress) = progress {
                progress.finish_with_message(summary.clone()).await;
            }
            client.log_message(MessageType::INFO, summary).await;
        });
    }
}

impl Server {
    /// Checks a document's own code a moment after its last edit and publishes the problems as
    /// diagnostics (source `spackle`). A newer edit makes the pending check give up.
    fn schedule_diagnostics(&self, uri: Uri) {
        let engine = self.engine();
        if !engine.config.diagnostics.enable {
            return;
        }
        let key = from_proto::document_key(&uri);
        let Some(version) = self.shared.0.store.version(&key) else {
            return;
        };
        let delay = Duration::from_millis(engine.config.diagnostics.delay_ms);
        let shared = self.shared.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(snapshot) = shared.snapshot(&key).await.filter(|s| s.version == version)
            else {
                return;
            };
            let index = shared.index_snapshot_off_loop().await;
            let encoding = shared.encoding();
            let checked = tokio::task::spawn_blocking(move || {
                let problems = engine.diagnose(&snapshot, index.as_ref());
                (snapshot, problems)
            })
            .await;
            let Ok((snapshot, problems)) = checked else {
                return;
            };
            if shared.0.store.version(&key) != Some(version) {
                return;
            }
            let diagnostics = problems
                .iter()
                .map(|problem| to_proto::diagnostic(&snapshot.rope, problem, encoding))
                .collect();
            client
                .publish_diagnostics(uri, diagnostics, Some(version))
                .await;
        });
    }
}

/// Parameters of `spackle/context`: a document and a position, like any text-document request.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextParams {
    pub text_document: TextDocumentIdentifier,
    pub position: Position,
}

impl Server {
    /// `spackle/context`: what would be sent to the model for a position, without calling it.
    pub async fn context(&self, params: ContextParams) -> RpcResult<serde_json::Value> {
        let key = from_proto::document_key(&params.text_document.uri);
        let Some(snapshot) = self.shared.snapshot(&key).await else {
            let why = if self.shared.0.store.is_diverged(&key) {
                "is out of sync: an edit could not be read; send its whole text again"
            } else {
                "is not open"
            };
            return Err(tower_lsp_server::jsonrpc::Error::invalid_params(format!(
                "the document {key} {why}"
            )));
        };
        let offset = crate::text::offset_of(
            &snapshot.rope,
            from_proto::line_col(params.position),
            self.shared.encoding(),
        );
        let index = self.shared.index_snapshot_off_loop().await;
        let engine = self.engine();
        let version = snapshot.version;
        let prepared =
            tokio::task::spawn_blocking(move || engine.prepare(&snapshot, offset, index.as_ref()))
                .await
                .unwrap_or(Err(EngineError::Stopped));
        match prepared {
            Ok(prepared) => Ok(serde_json::json!({
                "version": version,
                "parts": prepared.parts.iter().map(|part| serde_json::json!({
                    "name": part.name, "why": part.why, "text": part.text,
                })).collect::<Vec<_>>(),
            })),
            Err(error) => Err(tower_lsp_server::jsonrpc::Error::invalid_params(
                error.to_string(),
            )),
        }
    }
}

/// Parameters of the transport's notice that an edit could not be read.
#[derive(Debug, serde::Deserialize)]
pub struct EditUnreadableParams {
    pub uri: String,
    pub reason: String,
}

impl Server {
    /// Tells the user that an edit could not be read (`ordered.rs` has already marked the
    /// document out of sync): spackle ignores the document until its whole text comes again.
    pub async fn edit_unreadable(&self, params: EditUnreadableParams) {
        let message = format!(
            "spackle: an edit to {} could not be read ({}); spackle ignores this document until the editor sends its whole text again (close and reopen it)",
            params.uri, params.reason
        );
        self.client
            .show_message(MessageType::WARNING, &message)
            .await;
        self.client.log_message(MessageType::WARNING, message).await;
    }
}

fn progress_key(token: &ProgressToken) -> String {
    match token {
        ProgressToken::Number(number) => format!("n:{number}"),
        ProgressToken::String(text) => format!("s:{text}"),
    }
}

impl Server {
    /// `window/workDoneProgress/cancel`: the user cancelled progress the server showed; the work
    /// behind it stops (an action's model request is dropped). Unknown tokens are ignored.
    pub async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        let notify = lock(&self.shared.0.progress_cancels)
            .get(&progress_key(&params.token))
            .cloned();
        match notify {
            Some(notify) => {
                tracing::info!(token = ?params.token, "progress cancelled by the user");
                notify.notify_one();
            }
            None => {
                tracing::debug!(token = ?params.token, "cancel for progress that is not running")
            }
        }
    }
}

/// The work of a request, spawned as a task of its own so that its CPU work never runs in the
/// message loop's task; dropping it (the request was cancelled or superseded) aborts the task,
/// and with it the model call. Resolves to `None` when the task panicked.
pub(super) struct RequestTask<T>(tokio::task::JoinHandle<T>);

pub(super) fn spawn_request<F>(work: F) -> RequestTask<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    RequestTask(tokio::spawn(work))
}

impl<T> std::future::Future for RequestTask<T> {
    type Output = Option<T>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| joined.ok())
    }
}

impl<T> Drop for RequestTask<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves when a request newer than `request_id` has been registered for the same document.
async fn wait_superseded(receiver: &mut watch::Receiver<u64>, request_id: u64) {
    loop {
        if *receiver.borrow_and_update() != request_id {
            return;
        }
        if receiver.changed().await.is_err() {
            // The document was closed: nothing newer will come, and nothing supersedes us.
            std::future::pending::<()>().await;
        }
    }
}

/// Failures of the same kind are shown to the user once.
fn failure_kind(error: &ModelError) -> &'static str {
    match error {
        ModelError::Unreachable { .. } => "unreachable",
        ModelError::Unauthorized { .. } => "unauthorized",
        ModelError::RateLimited { .. } => "rate-limited",
        ModelError::ModelNotFound { .. } => "model-not-found",
        ModelError::Timeout { .. } => "timeout",
        ModelError::Server { .. } => "server",
        ModelError::BadResponse { .. } => "bad-response",
        ModelError::Redirected { .. } => "redirected",
        ModelError::Config { .. } => "config",
    }
}

fn negotiate_encoding(params: &InitializeParams) -> PositionEncoding {
    let offered = params
        .capabilities
        .general
        .as_ref()
        .and_then(|general| general.position_encodings.as_ref());
    match offered {
        Some(encodings) if encodings.contains(&PositionEncodingKind::UTF8) => {
            PositionEncoding::Utf8
        }
        _ => PositionEncoding::Utf16,
    }
}

/// The client's workspace folder (else its `rootUri`); when that folder is itself a package, the
/// folder above its topmost package, where its absolute imports resolve.
fn workspace_root(params: &InitializeParams) -> Option<PathBuf> {
    #[allow(deprecated)]
    let given = match params
        .workspace_folders
        .as_ref()
        .and_then(|folders| folders.first())
    {
        Some(folder) => from_proto::file_path(&folder.uri),
        None => params.root_uri.as_ref().and_then(from_proto::file_path),
    }?;
    let root = crate::index::walk::import_root(&given);
    if root != given {
        tracing::info!(given = %given.display(), root = %root.display(), "the workspace folder is a package: indexing from the folder above it");
    }
    Some(root)
}

impl LanguageServer for Server {
    async fn initialize(&self, params: InitializeParams) -> RpcResult<InitializeResult> {
        let encoding = negotiate_encoding(&params);
        {
            let mut state = self.shared.write();
            state.encoding = encoding;
            state.root = workspace_root(&params);
            state.layers.editor = params
                .initialization_options
                .clone()
                .filter(|value| !value.is_null());
        }
        let client_progress = params
            .capabilities
            .window
            .as_ref()
            .and_then(|window| window.work_done_progress)
            .unwrap_or(false);
        self.shared
            .0
            .client_progress
            .store(client_progress, Ordering::Relaxed);
        let warnings = self.shared.reconfigure();
        let encoding_kind = match encoding {
            PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
            PositionEncoding::Utf16 => PositionEncodingKind::UTF16,
        };
        let capabilities = ServerCapabilities {
            position_encoding: Some(encoding_kind),
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                    ..TextDocumentSyncOptions::default()
                },
            )),
            completion_provider: Some(CompletionOptions {
                resolve_provider: Some(false),
                ..CompletionOptions::default()
            }),
            inline_completion_provider: Some(OneOf::Left(true)),
            code_action_provider: Some(super::actions::code_action_capability()),
            execute_command_provider: Some(super::actions::execute_command_capability()),
            ..ServerCapabilities::default()
        };
        // Warnings are shown once the client is ready to receive messages.
        *lock(&self.shared.0.pending_warnings) = warnings;
        Ok(InitializeResult {
            capabilities,
            server_info: Some(ServerInfo {
                name: "spackle".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let warnings = std::mem::take(&mut *lock(&self.shared.0.pending_warnings));
        self.report_warnings(&warnings).await;
        self.start_indexing().await;
        let description = self.engine().model.describe();
        self.client
            .log_message(
                MessageType::INFO,
                format!("spackle {} ready: {description}", env!("CARGO_PKG_VERSION")),
            )
            .await;
    }

    async fn shutdown(&self) -> RpcResult<()> {
        Ok(())
    }

    // Text synchronisation happens in `ordered.rs`; these handlers only exist so the router
    // accepts the notifications.
    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        self.schedule_diagnostics(params.text_document.uri);
    }
    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        self.schedule_diagnostics(params.text_document.uri);
    }
    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        // Diagnostics of a closed document are cleared.
        self.client
            .publish_diagnostics(params.text_document.uri, Vec::new(), None)
            .await;
    }
    async fn did_save(&self, _: DidSaveTextDocumentParams) {}

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        if !params.settings.is_null() {
            self.shared.write().layers.editor = Some(params.settings);
        }
        let warnings = self.shared.reconfigure();
        self.report_warnings(&warnings).await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let Some(index) = self.shared.shared_index() else {
            return;
        };
        let changes: Vec<(PathBuf, bool)> = params
            .changes
            .into_iter()
            .filter_map(|change| {
                let path = from_proto::file_path(&change.uri)?;
                Some((path, change.typ == FileChangeType::DELETED))
            })
            .collect();
        // Reading files is blocking work: it never runs on the thread that reads messages.
        let updated = tokio::task::spawn_blocking(move || {
            for (path, deleted) in changes {
                if deleted {
                    index.file_deleted(&path);
                } else {
                    index.file_changed_on_disk(&path);
                }
            }
        })
        .await;
        if let Err(error) = updated {
            tracing::warn!(%error, "updating the index from watched files failed");
        }
    }

    async fn code_action(&self, params: CodeActionParams) -> RpcResult<Option<CodeActionResponse>> {
        self.code_actions(params).await
    }

    async fn code_action_resolve(&self, action: CodeAction) -> RpcResult<CodeAction> {
        self.resolve_code_action(action).await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> RpcResult<Option<LSPAny>> {
        self.execute_spackle_command(params).await
    }

    async fn completion(&self, params: CompletionParams) -> RpcResult<Option<CompletionResponse>> {
        let position = params.text_document_position;
        let progress = params.work_done_progress_params.work_done_token;
        // Clients send `Invoked` for completion as you type too, so this is never taken as an
        // explicit request.
        let Some((snapshot, completions)) = self
            .complete_at(
                &position.text_document.uri,
                position.position,
                progress,
                false,
            )
            .await
        else {
            return Ok(None);
        };
        let encoding = self.shared.encoding();
        let items: Vec<CompletionItem> = completions
            .into_iter()
            .map(|completion| to_proto::completion_item(&snapshot.rope, completion, encoding))
            .collect();
        Ok(Some(CompletionResponse::List(CompletionList {
            is_incomplete: true,
            items,
        })))
    }
}
