//! The `Index`: every module of the workspace, cheap to snapshot, updated one file at a time.
//!
//! An `Index` value is a snapshot: cloning it copies three `Arc`s. Updates go through
//! `Arc::make_mut`, so a snapshot held by a request never changes under it, and an update with
//! no snapshot outstanding does not copy the maps. Open buffers override files on disk.
//! [`SharedIndex`] is what a server holds: the current snapshot behind a lock, a background
//! indexing thread that publishes what it has every few hundred files, and the open buffers.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;

use super::cache::{self, CacheEntry};
use super::environment::Environment;
use super::model::ModuleInfo;
use super::walk::{self, SourceFile};
use super::ModuleSource;
use crate::semantic::Semantic;

/// Workspace files larger than this are not indexed (huge generated modules).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// At most this many workspace files are indexed (the rest is logged as skipped).
pub const MAX_FILES: usize = 50_000;

/// How many files the background indexer parses before publishing them.
const BATCH_FILES: usize = 256;

/// How to build an index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Where the persisted index lives; `None` disables persistence.
    pub cache_dir: Option<PathBuf>,
    pub max_file_bytes: u64,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            cache_dir: cache::default_cache_dir(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// Indexing progress, for `$/progress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub message: String,
}

/// What an indexing run did and what it left out.
#[derive(Debug, Clone, Default)]
pub struct IndexReport {
    pub files: usize,
    pub parsed: usize,
    pub from_cache: usize,
    /// Files were left out for the workspace's file limit: the index does not hold every module.
    pub truncated: bool,
    /// Files left out, with the reason (not UTF-8, too large, vanished, no module name).
    pub skipped: Vec<(PathBuf, String)>,
}

/// How one file of the index was read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileState {
    module: String,
    size: u64,
    mtime_ns: u64,
    /// The text came from an open buffer, not from the disk.
    from_buffer: bool,
}

/// Why files past the workspace's file limit are not indexed.
const LIMIT_REACHED: &str = "workspace file limit reached";

/// A snapshot of the repository index. Implements [`ModuleSource`].
#[derive(Clone)]
pub struct Index {
    root: Arc<PathBuf>,
    modules: Arc<HashMap<String, Arc<ModuleInfo>>>,
    /// By path relative to the root.
    files: Arc<HashMap<String, FileState>>,
    environment: Arc<Environment>,
    symbol_docs: Arc<super::search::SymbolDocs>,
    /// ty's view of the same workspace and environment, shared by every snapshot.
    semantic: Arc<Semantic>,
    /// Every Python file of the workspace has been indexed (the build finished within the file
    /// limit): what the index does not name, the workspace does not name.
    whole: bool,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("root", &self.root)
            .field("modules", &self.modules.len())
            .finish()
    }
}

impl ModuleSource for Index {
    fn module(&self, name: &str) -> Option<Arc<ModuleInfo>> {
        if let Some(module) = self.modules.get(name) {
            return Some(module.clone());
        }
        // A top-level package of the workspace shadows an installed one of the same name.
        let top = name.split('.').next().unwrap_or(name);
        if self.modules.contains_key(top) {
            return None;
        }
        self.environment.module(name)
    }
}

impl Index {
    /// An empty index of `root`.
    pub fn empty(root: PathBuf, environment: Arc<Environment>) -> Index {
        let semantic = Arc::new(Semantic::new(&root, environment.roots()));
        Index {
            root: Arc::new(root),
            modules: Arc::default(),
            files: Arc::default(),
            environment,
            symbol_docs: Arc::default(),
            semantic,
            whole: false,
        }
    }

    /// Walks and indexes the workspace in the calling thread (parsing on rayon's threads),
    /// reusing the persisted index for files whose size and mtime did not change, and saves it.
    pub fn build(
        root: PathBuf,
        environment: Arc<Environment>,
        options: &IndexOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> (Index, IndexReport) {
        let mut index = Index::empty(root, environment);
        let limit = FileLimit {
            max_files: MAX_FILES,
            first: &HashSet::new,
        };
        let report = index.build_in_batches(options, &limit, &mut |batch| batch, progress);
        (index, report)
    }

    fn build_in_batches(
        &mut self,
        options: &IndexOptions,
        limit: &FileLimit<'_>,
        publish: &mut dyn FnMut(Vec<Indexed>) -> Vec<Indexed>,
        progress: &mut dyn FnMut(Progress),
    ) -> IndexReport {
        let root = self.root.as_ref().clone();
        let mut walked = walk::discover(&root);
        if walked.files.len() > limit.max_files {
            // A huge workspace: the packages of the open files and of what they import come
            // first, then the files nearest the root; what is left is said.
            let first = (limit.first)();
            walked.files.sort_by_cached_key(|file| {
                let top = file.module.split('.').next().unwrap_or("").to_string();
                (
                    !first.contains(&top),
                    file.relative.matches('/').count(),
                    file.module.clone(),
                )
            });
            let left = walked.files.split_off(limit.max_files);
            tracing::warn!(
                indexed = limit.max_files,
                left_out = left.len(),
                "workspace has too many Python files; indexing part of it"
            );
            walked.skipped.extend(
                left.into_iter()
                    .map(|f| (f.path, LIMIT_REACHED.to_string())),
            );
        }
        let truncated = walked
            .skipped
            .iter()
            .any(|(_, reason)| reason == LIMIT_REACHED);
        let mut report = IndexReport {
            files: walked.files.len(),
            truncated,
            skipped: walked.skipped,
            ..IndexReport::default()
        };
        if let Some(dir) = &options.cache_dir {
            cache::prune_once(dir);
        }
        let cache_path = options
            .cache_dir
            .as_ref()
            .map(|dir| cache::cache_file(dir, &root));
        // Entries move into `Arc`s once, so reusing one costs a reference count, not a copy.
        let mut cached: HashMap<String, CachedFile> = cache_path
            .as_ref()
            .and_then(|path| cache::load(path, &root))
            .unwrap_or_default()
            .into_iter()
            .map(|(relative, entry)| {
                let CacheEntry {
                    size,
                    mtime_ns,
                    module,
                    ..
                } = entry;
                (
                    relative,
                    CachedFile {
                        size,
                        mtime_ns,
                        module: Arc::new(module),
                    },
                )
            })
            .collect();
        let total = walked.files.len();
        progress(Progress {
            done: 0,
            total,
            message: format!("indexing {total} files"),
        });
        let mut done = 0;
        for chunk in walked.files.chunks(BATCH_FILES) {
            let results: Vec<Result<Indexed, (PathBuf, String)>> = chunk
                .par_iter()
                .map(|file| {
                    let reused = cached.get(&file.relative);
                    index_file(file, reused, options.max_file_bytes)
                })
                .collect();
            let mut batch = Vec::with_capacity(results.len());
            for result in results {
                match result {
                    Ok(indexed) => {
                        if indexed.from_cache {
                            report.from_cache += 1;
                        } else {
                            report.parsed += 1;
                        }
                        batch.push(indexed);
                    }
                    Err((path, reason)) => {
                        tracing::info!(path = %path.display(), %reason, "file not indexed");
                        report.skipped.push((path, reason));
                    }
                }
            }
            for indexed in publish(batch) {
                self.insert_indexed(indexed);
            }
            done += chunk.len();
            progress(Progress {
                done,
                total,
                message: format!("{done}/{total} files"),
            });
        }
        cached.clear();
        self.whole = !report.truncated;
        if let Some(path) = cache_path {
            if report.parsed > 0 || report.from_cache != total {
                if let Err(error) = cache::save(&path, &root, self.cache_entries()) {
                    tracing::warn!(path = %path.display(), %error, "index cache not written");
                }
            }
        }
        report
    }

    fn cache_entries(&self) -> Vec<CacheEntry> {
        self.files
            .iter()
            .filter(|(_, state)| !state.from_buffer)
            .filter_map(|(relative, state)| {
                let module = self.modules.get(&state.module)?;
                (module.path == *relative).then(|| CacheEntry {
                    relative: relative.clone(),
                    size: state.size,
                    mtime_ns: state.mtime_ns,
                    module: module.as_ref().clone(),
                })
            })
            .collect()
    }

    /// Writes the persisted index now (the background indexer does this after a build).
    pub fn save_cache(&self, cache_dir: &Path) -> std::io::Result<()> {
        cache::save(
            &cache::cache_file(cache_dir, &self.root),
            &self.root,
            self.cache_entries(),
        )
    }

    fn insert_indexed(&mut self, indexed: Indexed) {
        let Indexed {
            relative,
            state,
            module,
            ..
        } = indexed;
        self.remove_relative(&relative);
        Arc::make_mut(&mut self.modules).insert(state.module.clone(), module);
        Arc::make_mut(&mut self.files).insert(relative, state);
    }

    fn remove_relative(&mut self, relative: &str) {
        let Some(state) = Arc::make_mut(&mut self.files).remove(relative) else {
            return;
        };
        let owned = self
            .modules
            .get(&state.module)
            .map(|m| m.path == relative)
            .unwrap_or(false);
        if owned {
            Arc::make_mut(&mut self.modules).remove(&state.module);
        }
    }

    /// Whether every Python file of the workspace is in the index (a build finished within the
    /// file limit).
    pub fn is_whole(&self) -> bool {
        self.whole
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The semantic layer (ty's inference) of the workspace.
    pub fn semantic(&self) -> &Arc<Semantic> {
        &self.semantic
    }

    pub fn environment(&self) -> &Arc<Environment> {
        &self.environment
    }

    /// The workspace's modules (installed packages are not listed: they are read on demand).
    pub fn workspace_modules(&self) -> impl Iterator<Item = &Arc<ModuleInfo>> {
        self.modules.values()
    }

    pub fn len(&self) -> usize {
        self.modules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The symbol documents of every workspace module but `exclude_module`, for
    /// [`search::bm25`](super::search::bm25) and [`search::named`](super::search::named).
    pub fn symbol_documents(
        &self,
        exclude_module: &str,
    ) -> Vec<(String, Arc<super::search::ModuleDocs>)> {
        let modules: Vec<(&String, &Arc<ModuleInfo>)> = self
            .modules
            .iter()
            .filter(|(name, _)| name.as_str() != exclude_module)
            .collect();
        let docs = self
            .symbol_docs
            .of_all(modules.iter().map(|(_, module)| *module));
        modules
            .into_iter()
            .map(|(name, _)| name.clone())
            .zip(docs)
            .collect()
    }

    /// BM25 over the symbols of the workspace's modules, leaving out `exclude_module`.
    pub fn search(
        &self,
        query: &[u64],
        exclude_module: &str,
        limit: usize,
    ) -> Vec<super::search::Hit> {
        super::search::bm25(&self.symbol_documents(exclude_module), query, limit)
    }

    /// Module-level classes and functions whose normalized name (see
    /// [`normalized_name`](super::search::normalized_name)) is one of `names`.
    pub fn find_named(&self, names: &[String], exclude_module: &str) -> Vec<super::search::Hit> {
        super::search::named(&self.symbol_documents(exclude_module), names)
    }

    /// The path relative to the root, or `None` for a path outside the workspace.
    pub fn relative_path(&self, path: &Path) -> Option<String> {
        let relative = path.strip_prefix(self.root.as_ref()).ok()?;
        Some(relative.to_string_lossy().replace('\\', "/"))
    }

    /// The module name a workspace file has (or would have).
    pub fn module_name_of(&self, path: &Path) -> Option<String> {
        let relative = self.relative_path(path)?;
        match self.files.get(&relative) {
            Some(state) => Some(state.module.clone()),
            None => walk::module_name(&relative),
        }
    }

    /// Whether `path` is listed in a `.spackleignore` of the workspace: such a file is never
    /// indexed, and nothing of it may reach a prompt.
    pub fn ignores(&self, path: &Path) -> bool {
        walk::is_ignored(&self.root, path)
    }

    /// Indexes an open buffer's text for `path`, overriding the file on disk. Only this file is
    /// re-extracted. Paths outside the workspace, and ignored files, are left out.
    pub fn update_buffer(&mut self, path: &Path, text: &str) {
        let Some(relative) = self.relative_path(path) else {
            return;
        };
        if self.ignores(path) {
            self.remove_relative(&relative);
            return;
        }
        let Some(module_name) = walk::module_name(&relative) else {
            return;
        };
        let Some(tree) = crate::store::parse_python(text, None) else {
            return;
        };
        self.update_buffer_with_tree(&relative, &module_name, text, &tree);
    }

    /// Like [`Index::update_buffer`] with a tree the caller already has (the document store's).
    pub fn update_buffer_with_tree(
        &mut self,
        relative: &str,
        module_name: &str,
        text: &str,
        tree: &tree_sitter::Tree,
    ) {
        let module = super::extract::extract_module(module_name, relative, text, tree);
        let state = FileState {
            module: module_name.to_string(),
            size: text.len() as u64,
            mtime_ns: 0,
            from_buffer: true,
        };
        self.insert_indexed(Indexed {
            relative: relative.to_string(),
            state,
            module: Arc::new(module),
            from_cache: false,
        });
    }

    /// Re-reads one file from disk (after a save, a change on disk or a buffer's close). A file
    /// that no longer exists, or that cannot be indexed any more, leaves the index.
    pub fn refresh_file(&mut self, path: &Path, max_file_bytes: u64) {
        let Some(relative) = self.relative_path(path) else {
            return;
        };
        if self.ignores(path) {
            self.remove_relative(&relative);
            return;
        }
        let Some(module) = walk::module_name(&relative) else {
            return;
        };
        let file = SourceFile {
            path: path.to_path_buf(),
            relative: relative.clone(),
            module,
        };
        match index_file(&file, None, max_file_bytes) {
            Ok(indexed) => self.insert_indexed(indexed),
            Err((path, reason)) => {
                tracing::info!(path = %path.display(), %reason, "file left the index");
                self.remove_relative(&relative);
            }
        }
    }

    /// Removes a deleted (or renamed-away) file.
    pub fn remove_file(&mut self, path: &Path) {
        if let Some(relative) = self.relative_path(path) {
            self.remove_relative(&relative);
        }
    }
}

/// How many workspace files an indexing run reads, and which top-level packages come first when
/// there are more.
struct FileLimit<'a> {
    max_files: usize,
    first: &'a dyn Fn() -> HashSet<String>,
}

/// The top-level modules a document belongs to and imports (`pkg` for `pkg/a.py`, `json` for
/// `import json.decoder`), read from its import lines; relative imports stay in its own package.
fn packages_of(module: Option<&str>, text: &str) -> HashSet<String> {
    let mut packages = HashSet::new();
    if let Some(top) = module.and_then(|module| module.split('.').next()) {
        packages.insert(top.to_string());
    }
    // Imports stand near the top of a module; the scan is bounded.
    let head = &text[..crate::check::floor_char_boundary(text, text.len().min(256 * 1024))];
    for line in head.lines() {
        let line = line.trim_start();
        let names = if let Some(rest) = line.strip_prefix("from ") {
            rest.split_whitespace()
                .next()
                .into_iter()
                .collect::<Vec<_>>()
        } else if let Some(rest) = line.strip_prefix("import ") {
            rest.split(',').collect()
        } else {
            continue;
        };
        for name in names {
            let top = name.trim().split(['.', ' ']).next().unwrap_or("");
            if !top.is_empty() && top.chars().all(|c| c.is_alphanumeric() || c == '_') {
                packages.insert(top.to_string());
            }
        }
    }
    packages
}

/// One file read and extracted, ready to be inserted.
struct Indexed {
    relative: String,
    state: FileState,
    module: Arc<ModuleInfo>,
    from_cache: bool,
}

/// A persisted entry, as the build reuses it.
struct CachedFile {
    size: u64,
    mtime_ns: u64,
    module: Arc<ModuleInfo>,
}

fn index_file(
    file: &SourceFile,
    cached: Option<&CachedFile>,
    max_file_bytes: u64,
) -> Result<Indexed, (PathBuf, String)> {
    // Never through a symbolic link (it may lead out of the workspace, as the walk never follows
    // one), and never a FIFO, socket or device (reading one may block forever).
    let metadata = std::fs::symlink_metadata(&file.path)
        .map_err(|e| (file.path.clone(), format!("vanished: {e}")))?;
    if metadata.file_type().is_symlink() {
        return Err((file.path.clone(), "a symbolic link".to_string()));
    }
    if !metadata.is_file() {
        return Err((file.path.clone(), "not a regular file".to_string()));
    }
    let size = metadata.len();
    let mtime_ns = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    if let Some(entry) = cached {
        if entry.size == size && entry.mtime_ns == mtime_ns && entry.module.name == file.module {
            let state = FileState {
                module: file.module.clone(),
                size,
                mtime_ns,
                from_buffer: false,
            };
            return Ok(Indexed {
                relative: file.relative.clone(),
                state,
                module: entry.module.clone(),
                from_cache: true,
            });
        }
    }
    if size > max_file_bytes {
        return Err((file.path.clone(), format!("too large ({size} bytes)")));
    }
    let bytes =
        std::fs::read(&file.path).map_err(|e| (file.path.clone(), format!("vanished: {e}")))?;
    let text =
        String::from_utf8(bytes).map_err(|_| (file.path.clone(), "not UTF-8".to_string()))?;
    let tree = crate::store::parse_python(&text, None)
        .ok_or_else(|| (file.path.clone(), "parser failed".to_string()))?;
    let module = super::extract::extract_module(&file.module, &file.relative, &text, &tree);
    let state = FileState {
        module: file.module.clone(),
        size,
        mtime_ns,
        from_buffer: false,
    };
    Ok(Indexed {
        relative: file.relative.clone(),
        state,
        module: Arc::new(module),
        from_cache: false,
    })
}

/// The index a server holds: the current snapshot, the open buffers, background indexing.
pub struct SharedIndex {
    current: RwLock<Index>,
    buffers: RwLock<HashSet<String>>,
    options: IndexOptions,
    /// Top-level packages of the open documents and of what they import: indexed first when the
    /// workspace has more files than the limit.
    wanted: RwLock<HashSet<String>>,
    max_files: std::sync::atomic::AtomicUsize,
}

impl SharedIndex {
    pub fn new(
        root: PathBuf,
        environment: Arc<Environment>,
        options: IndexOptions,
    ) -> Arc<SharedIndex> {
        Arc::new(SharedIndex {
            current: RwLock::new(Index::empty(root, environment)),
            buffers: RwLock::new(HashSet::new()),
            options,
            wanted: RwLock::new(HashSet::new()),
            max_files: std::sync::atomic::AtomicUsize::new(MAX_FILES),
        })
    }

    /// Sets how many workspace files an indexing run reads (50,000 unless set).
    pub fn set_max_files(&self, max_files: usize) {
        self.max_files
            .store(max_files, std::sync::atomic::Ordering::Relaxed);
    }

    /// A document was opened: its package, and the packages it imports, are indexed first if the
    /// workspace has more files than the limit.
    pub fn document_opened(&self, path: &Path, text: &str) {
        let module = self.snapshot().module_name_of(path);
        let packages = packages_of(module.as_deref(), text);
        if let Ok(mut wanted) = self.wanted.write() {
            wanted.extend(packages);
        }
    }

    /// The current snapshot (cheap; hold it as long as you like, no lock is kept).
    pub fn snapshot(&self) -> Index {
        self.current
            .read()
            .map(|i| i.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.current.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Indexes the workspace on a background thread, publishing every batch as it is parsed, so
    /// requests made meanwhile see what is there. Open buffers are never overwritten.
    pub fn spawn_indexing(
        self: &Arc<Self>,
        mut progress: impl FnMut(Progress) + Send + 'static,
    ) -> std::thread::JoinHandle<IndexReport> {
        let shared = Arc::clone(self);
        std::thread::spawn(move || {
            let mut scratch = shared.snapshot();
            let options = shared.options.clone();
            let first = || {
                shared
                    .wanted
                    .read()
                    .map(|wanted| wanted.clone())
                    .unwrap_or_default()
            };
            let limit = FileLimit {
                max_files: shared.max_files.load(std::sync::atomic::Ordering::Relaxed),
                first: &first,
            };
            let report = scratch.build_in_batches(
                &options,
                &limit,
                &mut |batch: Vec<Indexed>| {
                    let buffers = shared.buffers.read().map(|b| b.clone()).unwrap_or_default();
                    let batch: Vec<Indexed> = batch
                        .into_iter()
                        .filter(|i| !buffers.contains(&i.relative))
                        .collect();
                    let mut current = shared.write();
                    for indexed in &batch {
                        current.insert_indexed(Indexed {
                            relative: indexed.relative.clone(),
                            state: indexed.state.clone(),
                            module: indexed.module.clone(),
                            from_cache: indexed.from_cache,
                        });
                    }
                    batch
                },
                &mut progress,
            );
            tracing::info!(
                files = report.files,
                parsed = report.parsed,
                cached = report.from_cache,
                skipped = report.skipped.len(),
                "workspace indexed"
            );
            shared.write().whole = !report.truncated;
            // The names of the installed packages and the standard library, which the checks
            // judge members of untyped values by, are read now rather than at the first check.
            let environment = Arc::clone(scratch.environment());
            std::thread::spawn(move || {
                environment.vocabulary();
                crate::semantic::stdlib_vocabulary();
            });
            report
        })
    }

    /// An open buffer's new text (on open and on every change).
    pub fn buffer_changed(&self, path: &Path, text: &str) {
        let mut current = self.write();
        current.semantic.buffer_changed(path, text);
        if let Some(relative) = current.relative_path(path) {
            if let Ok(mut buffers) = self.buffers.write() {
                buffers.insert(relative);
            }
        }
        current.update_buffer(path, text);
    }

    /// An open buffer's new text, with the tree the document store already has (no reparse).
    pub fn buffer_changed_with_tree(&self, path: &Path, text: &str, tree: &tree_sitter::Tree) {
        let mut current = self.write();
        current.semantic.buffer_changed(path, text);
        let (Some(relative), Some(module)) =
            (current.relative_path(path), current.module_name_of(path))
        else {
            return;
        };
        if current.ignores(path) {
            current.remove_relative(&relative);
            return;
        }
        if let Ok(mut buffers) = self.buffers.write() {
            buffers.insert(relative.clone());
        }
        current.update_buffer_with_tree(&relative, &module, text, tree);
    }

    /// A buffer was closed: the file on disk speaks again.
    pub fn buffer_closed(&self, path: &Path) {
        let mut current = self.write();
        current.semantic.buffer_closed(path);
        if let Some(relative) = current.relative_path(path) {
            if let Ok(mut buffers) = self.buffers.write() {
                buffers.remove(&relative);
            }
        }
        current.refresh_file(path, self.options.max_file_bytes);
    }

    /// A file changed, appeared or vanished on disk (file watcher events).
    pub fn file_changed_on_disk(&self, path: &Path) {
        let mut current = self.write();
        current.semantic.file_changed(path);
        let is_buffer = current
            .relative_path(path)
            .map(|r| self.buffers.read().map(|b| b.contains(&r)).unwrap_or(false))
            .unwrap_or(false);
        if !is_buffer {
            current.refresh_file(path, self.options.max_file_bytes);
        }
    }

    /// A file was deleted on disk.
    pub fn file_deleted(&self, path: &Path) {
        let mut current = self.write();
        current.semantic.file_changed(path);
        current.remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("folders");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn build_update_remove_and_warm_start() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().join("ws");
        let cache_dir = dir.path().join("cache");
        write(&root, "pkg/__init__.py", "from .a import A\n");
        write(&root, "pkg/a.py", "class A:\n    def f(self): ...\n");
        write(&root, "pkg/bad.py", "");
        std::fs::write(root.join("pkg/bad.py"), [0xff, 0xfe, 0x00]).expect("write");
        let options = IndexOptions {
            cache_dir: Some(cache_dir.clone()),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        };
        let mut seen = Vec::new();
        let (index, report) = Index::build(
            root.clone(),
            Arc::new(Environment::none()),
            &options,
            &mut |p| seen.push(p),
        );
        assert_eq!((report.files, report.parsed, report.from_cache), (3, 2, 0));
        assert_eq!(report.skipped.len(), 1, "the non-UTF-8 file is reported");
        assert_eq!(seen.last().map(|p| (p.done, p.total)), Some((3, 3)));
        assert!(index.module("pkg.a").is_some());

        // A snapshot does not see later updates.
        let snapshot = index.clone();
        let mut index = index;
        index.update_buffer(&root.join("pkg/a.py"), "class B: ...\n");
        assert_eq!(
            index.module("pkg.a").expect("still there").classes[0].name,
            "B"
        );
        assert_eq!(
            snapshot.module("pkg.a").expect("unchanged").classes[0].name,
            "A"
        );
        index.remove_file(&root.join("pkg/a.py"));
        assert!(index.module("pkg.a").is_none());

        // A second build reads everything unchanged from the cache.
        let (warm, report) = Index::build(
            root.clone(),
            Arc::new(Environment::none()),
            &options,
            &mut |_| {},
        );
        assert_eq!((report.parsed, report.from_cache), (0, 2));
        assert_eq!(warm.module("pkg.a").expect("cached").classes[0].name, "A");
    }

    #[test]
    fn imports_of_installed_packages_resolve_through_the_environment() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().to_path_buf();
        write(
            &root,
            "app.py",
            "from lib_a import f\nfrom app_lib import g\n",
        );
        write(&root, "app_lib.py", "def g(): ...\n");
        let site = ".venv/lib/python3.12/site-packages";
        write(
            &root,
            &format!("{site}/lib_a/__init__.py"),
            "from .sub.mod import f\n",
        );
        write(
            &root,
            &format!("{site}/lib_a/sub/mod.py"),
            "def f(x: int) -> int: ...\n",
        );
        write(
            &root,
            &format!("{site}/app_lib.py"),
            "def shadowed(): ...\n",
        );
        let environment = Arc::new(Environment::discover(&root, &[]));
        let options = IndexOptions {
            cache_dir: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        };
        let (index, report) =
            Index::build(root.clone(), environment.clone(), &options, &mut |_| {});
        assert_eq!(
            report.files, 2,
            "the virtual environment is not part of the workspace"
        );
        assert_eq!(
            environment.loaded_count(),
            0,
            "nothing installed is read before it is asked for"
        );
        assert_eq!(
            crate::index::resolve::resolve_name(&index, "app", "f"),
            Some(crate::index::resolve::Symbol::Function {
                module: "lib_a.sub.mod".into(),
                qualname: "f".into()
            })
        );
        assert_eq!(environment.loaded_count(), 2);
        // The workspace's own module wins over an installed one of the same name.
        assert_eq!(
            crate::index::resolve::resolve_name(&index, "app", "g"),
            Some(crate::index::resolve::Symbol::Function {
                module: "app_lib".into(),
                qualname: "g".into()
            })
        );
    }

    #[test]
    fn over_the_file_limit_the_open_files_packages_come_first() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().to_path_buf();
        for n in 0..6 {
            write(&root, &format!("aaa_vendored/m{n}.py"), "x = 1\n");
        }
        write(&root, "zshop/__init__.py", "");
        write(&root, "zshop/deep/models.py", "class Cart: ...\n");
        write(
            &root,
            "zshop/checkout.py",
            "from zshop.deep.models import Cart\nimport zlib_local\n",
        );
        write(&root, "zlib_local.py", "def z(): ...\n");
        let shared = SharedIndex::new(
            root.clone(),
            Arc::new(Environment::none()),
            IndexOptions {
                cache_dir: None,
                max_file_bytes: 1 << 20,
            },
        );
        shared.set_max_files(4);
        shared.document_opened(
            &root.join("zshop/checkout.py"),
            "from zshop.deep.models import Cart\nimport zlib_local\n",
        );
        let report = shared
            .spawn_indexing(|_| {})
            .join()
            .expect("indexing thread");
        assert_eq!(report.files, 4);
        assert!(report.truncated);
        let snapshot = shared.snapshot();
        assert!(!snapshot.is_whole(), "files were left out");
        let mut indexed: Vec<&str> = snapshot
            .workspace_modules()
            .map(|module| module.name.as_str())
            .collect();
        indexed.sort();
        assert_eq!(
            indexed,
            ["zlib_local", "zshop", "zshop.checkout", "zshop.deep.models"]
        );
    }

    #[test]
    fn background_indexing_keeps_open_buffers() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().to_path_buf();
        write(&root, "m.py", "def from_disk(): ...\n");
        write(&root, "n.py", "def other(): ...\n");
        let shared = SharedIndex::new(
            root.clone(),
            Arc::new(Environment::none()),
            IndexOptions {
                cache_dir: None,
                max_file_bytes: 1 << 20,
            },
        );
        shared.buffer_changed(&root.join("m.py"), "def from_buffer(): ...\n");
        assert!(!shared.snapshot().is_whole(), "not indexed yet");
        let report = shared
            .spawn_indexing(|_| {})
            .join()
            .expect("indexing thread");
        assert_eq!(report.files, 2);
        let snapshot = shared.snapshot();
        assert!(snapshot.is_whole());
        assert_eq!(
            snapshot.module("m").expect("indexed").functions[0].name,
            "from_buffer"
        );
        assert_eq!(
            snapshot.module("n").expect("indexed").functions[0].name,
            "other"
        );
        shared.buffer_closed(&root.join("m.py"));
        assert_eq!(
            shared.snapshot().module("m").expect("indexed").functions[0].name,
            "from_disk"
        );
        std::fs::remove_file(root.join("n.py")).expect("remove");
        shared.file_changed_on_disk(&root.join("n.py"));
        assert!(shared.snapshot().module("n").is_none());
    }
}
