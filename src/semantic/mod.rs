//! The semantic layer: what Python's types say about a file, from ty's type inference used as a
//! library. The checks ask it which problems a candidate introduces; diagnostics ask it about the
//! user's own code.
//!
//! One [`Semantic`] serves one workspace: its root is the first-party search path, the
//! environment's site-packages follow, and typeshed (vendored in ty) gives the standard library.
//! Open buffers and candidates reach the database as source overrides of their files, so nothing is
//! written to disk. The database sits behind a mutex and is built on first use; buffer edits only
//! record the new text in a separate, briefly held map and never wait for a check to finish.

mod db;
mod origin;
mod types;

pub use types::{ClassAt, ParameterAt, MAX_PROBED};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use ruff_db::diagnostic::{Diagnostic, DiagnosticId, Severity};
use ruff_db::files::{system_path_to_file, vendored_path_to_file, File};
use ruff_db::source::source_text;
use ruff_db::system::{OsSystem, SystemPathBuf, SystemVirtualPath};
use ruff_db::vendored::VendoredPath;
use ruff_db::Db as _;
use ruff_python_ast::PythonVersion;
use salsa::Setter as _;
use ty_module_resolver::SearchPathSettings;
use ty_python_core::program::{ProgramSettings, UseDefaultStrategy};
use ty_python_semantic::lint::RuleSelection;
use ty_python_semantic::{
    default_lint_registry, Db as _, PythonVersionSource, PythonVersionWithSource,
};

use db::SemanticDb;

/// The rules spackle reports, chosen for precision: each is a certain error when the types it
/// relies on are known, and ty stays silent when they are not (`Unknown` has every member).
pub const RULES: [&str; 9] = [
    "unresolved-attribute",
    "possibly-missing-attribute",
    "unresolved-reference",
    "unresolved-import",
    "too-many-positional-arguments",
    "unknown-argument",
    "missing-argument",
    "parameter-already-assigned",
    "invalid-argument-type",
];

/// The rule name of member reads on values ty types as `Unknown` (spackle's own, not ty's): the
/// checks judge their names against the program's vocabulary.
pub const UNKNOWN_RECEIVER: &str = "attribute-of-unknown";

/// The rule name of a candidate's store to a member of `self` while the class reads another
/// member of `self` that nothing assigns (spackle's own): the store is likely that member
/// misnamed. The checks keep it when nothing else names the stored member.
pub const UNREAD_STORE: &str = "store-of-unread-member";

/// Every identifier typeshed's standard library stubs spell, read once (about a tenth of a
/// second).
pub fn stdlib_vocabulary() -> &'static crate::index::vocabulary::Vocabulary {
    static VOCABULARY: std::sync::OnceLock<crate::index::vocabulary::Vocabulary> =
        std::sync::OnceLock::new();
    VOCABULARY.get_or_init(|| {
        let system = ty_vendored::file_system();
        let mut texts = Vec::new();
        let mut folders = vec![ruff_db::vendored::VendoredPathBuf::from("stdlib")];
        while let Some(folder) = folders.pop() {
            for entry in system.read_directory(&folder) {
                let path = entry.path();
                if entry.file_type().is_directory() {
                    folders.push(path.to_path_buf());
                } else if path.extension() == Some("pyi") {
                    if let Ok(text) = system.read_to_string(path) {
                        texts.push(text);
                    }
                }
            }
        }
        crate::index::vocabulary::Vocabulary::of_texts(texts.iter().map(String::as_str))
    })
}

/// The rule name of syntax errors (not a lint: ty reports them whatever the selection).
pub const INVALID_SYNTAX: &str = "invalid-syntax";

/// The largest file the typed checks analyse, in lines and in bytes.
pub const MAX_LINES: usize = 20_000;
pub const MAX_BYTES: usize = 1 << 20;

/// One problem ty found, located by byte offsets in the text that was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's name, e.g. `unresolved-attribute`, or [`INVALID_SYNTAX`].
    pub rule: &'static str,
    /// ty's one-line message, e.g. "Object of type `Cart` has no attribute `total`".
    pub message: String,
    pub start: usize,
    pub end: usize,
    /// The finding this one stands on ([`UNREAD_STORE`]'s read of a member nothing assigns).
    pub cause: Option<Box<Finding>>,
}

/// The type-aware view of one workspace. Cheap to create: the database is built on first use.
pub struct Semantic {
    root: PathBuf,
    site_packages: Vec<PathBuf>,
    database: Mutex<Option<Database>>,
    /// Buffer changes not yet applied to the database: the open text, or `None` once closed or
    /// changed on disk (the file on disk speaks again).
    pending: Mutex<HashMap<PathBuf, Option<String>>>,
    /// How many buffer and file changes were announced: findings computed before a change may
    /// not hold after it.
    changes: AtomicU64,
    /// The findings of the last text asked about by [`Semantic::findings`]: the document as the
    /// user wrote it, which every candidate for it is compared with.
    recent: Mutex<Option<Recent>>,
}

struct Recent {
    path: PathBuf,
    text: String,
    changes: u64,
    findings: Vec<Finding>,
}

impl std::fmt::Debug for Semantic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semantic")
            .field("root", &self.root)
            .finish()
    }
}

/// The database and the texts of the open buffers it holds as overrides.
struct Database {
    db: SemanticDb,
    buffers: HashMap<PathBuf, String>,
}

impl Semantic {
    /// The semantic layer of the workspace at `root`, with the installed packages of
    /// `site_packages` (in order).
    pub fn new(root: &Path, site_packages: &[PathBuf]) -> Semantic {
        Semantic {
            root: root.to_path_buf(),
            site_packages: site_packages.to_vec(),
            database: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            changes: AtomicU64::new(0),
            recent: Mutex::new(None),
        }
    }

    /// Whether a file with this text is small enough for the typed checks ([`MAX_LINES`],
    /// [`MAX_BYTES`]).
    pub fn can_analyse(text: &str) -> bool {
        text.len() <= MAX_BYTES && text.bytes().filter(|&byte| byte == b'\n').count() <= MAX_LINES
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// An open buffer's new text. Returns at once: the text is applied before the next query.
    pub fn buffer_changed(&self, path: &Path, text: &str) {
        self.pending_map()
            .insert(path.to_path_buf(), Some(text.to_string()));
        // Counted after the change is recorded: a query that read the count before it then
        // applies the change anyway, and only its cached answer is wasted.
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// A buffer was closed, or a file changed on disk: the file on disk speaks again.
    pub fn file_changed(&self, path: &Path) {
        let mut pending = self.pending_map();
        if !matches!(pending.get(path), Some(Some(_))) {
            pending.insert(path.to_path_buf(), None);
        }
        drop(pending);
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// A buffer was closed.
    pub fn buffer_closed(&self, path: &Path) {
        self.pending_map().insert(path.to_path_buf(), None);
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    fn pending_map(&self) -> MutexGuard<'_, HashMap<PathBuf, Option<String>>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The problems of the rules in [`RULES`] (and syntax errors) in `text` as the content of
    /// `path`. Empty when the file cannot be analysed (a path outside UTF-8, say).
    ///
    /// Files past [`MAX_LINES`] lines or [`MAX_BYTES`] bytes are not analysed: ty's time grows
    /// faster than linearly on some such files (thousands of rebindings of one name), and a check
    /// must stay interactive.
    pub fn findings(&self, path: &Path, text: &str) -> Vec<Finding> {
        if !Semantic::can_analyse(text) {
            tracing::debug!(path = %path.display(), bytes = text.len(), "too large for the typed checks");
            return Vec::new();
        }
        let changes = self.changes.load(Ordering::Acquire);
        let recent = |recent: &Recent| {
            recent.changes == changes && recent.path == path && recent.text == text
        };
        if let Some(found) = self
            .recent_findings()
            .as_ref()
            .filter(|found| recent(found))
        {
            return found.findings.clone();
        }
        let Some(findings) = self.with_text(path, text, findings_of) else {
            return Vec::new();
        };
        *self.recent_findings() = Some(Recent {
            path: path.to_path_buf(),
            text: text.to_string(),
            changes,
            findings: findings.clone(),
        });
        findings
    }

    fn recent_findings(&self) -> MutexGuard<'_, Option<Recent>> {
        self.recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The problems a candidate introduces: `spliced` is the document with the candidate in bytes
    /// `start..end`, `before` the document without it. A finding counts when it touches the
    /// candidate, or when it lies outside it and the document before had no finding of the same
    /// rule, message and (shifted) place.
    pub fn introduced(
        &self,
        path: &Path,
        before: &str,
        spliced: &str,
        start: usize,
        end: usize,
    ) -> Vec<Finding> {
        if !Semantic::can_analyse(spliced) {
            return Vec::new();
        }
        // Reads on values of unknown type: when an import of the document does not resolve, only
        // those whose values come from the workspace's callers (`origin`).
        let Some((mut after, stores, reads_on_self)) = self.with_text(path, spliced, |db, file| {
            let (mut after, every_import_resolves) = checked(db, file);
            after.extend(types::unknown_receiver_reads(
                db,
                file,
                start,
                end,
                every_import_resolves,
            ));
            let stores = types::stores_on_self(db, file, start, end);
            // Which findings read a member of `self` that nothing assigns: asked only when the
            // candidate stores one.
            let reads_on_self: Vec<Option<ruff_text_size::TextRange>> = after
                .iter()
                .map(|finding| {
                    if stores.is_empty() {
                        return None;
                    }
                    let read = finding.rule == "unresolved-attribute"
                        && !finding.message.starts_with("Unresolved attribute");
                    let range = ruff_text_size::TextRange::new(
                        u32::try_from(finding.start).ok()?.into(),
                        u32::try_from(finding.end).ok()?.into(),
                    );
                    read.then(|| types::class_of_read_on_self(db, file, range))
                        .flatten()
                })
                .collect();
            (after, stores, reads_on_self)
        }) else {
            return Vec::new();
        };
        let touching = |finding: &Finding| {
            finding.start < end && finding.end > start
                || (finding.start == finding.end && (start..=end).contains(&finding.start))
        };
        if after.iter().all(touching) {
            after.sort_by_key(|finding| (finding.start, finding.end));
            return after;
        }
        let inserted = spliced.len().saturating_sub(before.len());
        let earlier: HashSet<(&str, String, usize, usize)> = self
            .findings(path, before)
            .into_iter()
            .map(|old| (old.rule, old.message, old.start, old.end))
            .collect();
        let shift = |offset: usize| {
            if offset >= end {
                offset.saturating_sub(inserted)
            } else {
                offset
            }
        };
        let mut introduced = Vec::new();
        // Reads of members of `self` that nothing assigns, which the document had before the
        // candidate too: a candidate that fills a method of their class had better assign them.
        let mut unassigned_reads = Vec::new();
        for (finding, class) in after.drain(..).zip(reads_on_self) {
            let persisting = !touching(&finding)
                && earlier.contains(&(
                    finding.rule,
                    finding.message.clone(),
                    shift(finding.start),
                    shift(finding.end),
                ));
            match (persisting, class) {
                (false, _) => introduced.push(finding),
                (true, Some(class)) => unassigned_reads.push((finding, class)),
                (true, None) => {}
            }
        }
        for store in stores {
            let Some((read, _)) = unassigned_reads
                .iter()
                .find(|(_, class)| *class == store.class)
            else {
                continue;
            };
            let stored = spliced.get(store.range.to_std_range()).unwrap_or("");
            let read_text = spliced.get(read.start..read.end).unwrap_or("");
            introduced.push(Finding {
                rule: UNREAD_STORE,
                message: format!(
                    "`{stored}` is assigned, but nothing reads a member `{}`, while `{read_text}` \
                     is read and nothing assigns it",
                    store.member
                ),
                start: store.range.start().to_usize(),
                end: store.range.end().to_usize(),
                cause: Some(Box::new(read.clone())),
            });
        }
        introduced.sort_by_key(|finding| (finding.start, finding.end));
        introduced
    }

    /// Runs `query` with `text` as the content of `path`, then puts the file's own text back (the
    /// open buffer's, or the file on disk). `None` when the path cannot be analysed or ty failed.
    fn with_text<T>(
        &self,
        path: &Path,
        text: &str,
        query: impl FnOnce(&SemanticDb, File) -> T,
    ) -> Option<T> {
        let system_path = SystemPathBuf::from_path_buf(path.to_path_buf()).ok()?;
        let mut guard = self
            .database
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            *guard = Some(self.build_database()?);
        }
        let database = guard.as_mut()?;
        let pending: Vec<(PathBuf, Option<String>)> = self.pending_map().drain().collect();
        for (changed, buffer) in pending {
            database.apply_buffer(&changed, buffer);
        }
        // A buffer that was never saved has no file on disk: ty analyses it as a virtual file
        // (its imports of other modules resolve; its relative imports cannot, see `findings_of`).
        let file = match system_path_to_file(&database.db, &system_path) {
            Ok(file) => file,
            Err(_) => {
                let virtual_path = SystemVirtualPath::new(system_path.as_str());
                match database.db.files().try_virtual_file(virtual_path) {
                    Some(existing) => existing.file(),
                    None => database
                        .db
                        .files()
                        .virtual_file(&database.db, virtual_path)
                        .file(),
                }
            }
        };
        database.set_text(file, Some(text));
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| query(&database.db, file)));
        let own = database.buffers.get(path).cloned();
        database.set_text(file, own.as_deref());
        match outcome {
            Ok(value) => Some(value),
            Err(_) => {
                // A panic inside ty leaves the database in an unknown state: start afresh next time.
                tracing::warn!(path = %path.display(), "the type checker failed on this file; its checks are skipped");
                *guard = None;
                None
            }
        }
    }

    fn build_database(&self) -> Option<Database> {
        let root = SystemPathBuf::from_path_buf(self.root.clone()).ok()?;
        let system = OsSystem::new(&root);
        let vendored = ty_vendored::file_system().clone();
        let site_packages: Vec<SystemPathBuf> = self
            .site_packages
            .iter()
            .filter(|path| path.is_dir())
            .filter_map(|path| SystemPathBuf::from_path_buf(path.clone()).ok())
            .collect();
        let mut settings = SearchPathSettings::new(vec![root.clone()]);
        settings.site_packages_paths = site_packages;
        let search_paths = match settings.to_search_paths(&system, &vendored, &UseDefaultStrategy) {
            Ok(paths) => paths,
            Err(error) => {
                tracing::warn!(%error, "the type checker's search paths are invalid; only the workspace is searched");
                SearchPathSettings::new(vec![root.clone()])
                    .to_search_paths(&system, &vendored, &UseDefaultStrategy)
                    .ok()?
            }
        };
        let version = python_version(&self.root, &self.site_packages);
        tracing::info!(root = %self.root.display(), python = %version.version, "type checker ready");
        let program = ProgramSettings {
            python_version: version,
            python_platform: Default::default(),
            search_paths,
        };
        Some(Database {
            db: SemanticDb::new(system, program, rule_selection()),
            buffers: HashMap::new(),
        })
    }
}

impl Database {
    /// Records an open buffer's text (or its closing) and makes it the file's content.
    fn apply_buffer(&mut self, path: &Path, buffer: Option<String>) {
        match buffer {
            Some(text) => {
                self.buffers.insert(path.to_path_buf(), text);
            }
            None => {
                self.buffers.remove(path);
            }
        }
        let Ok(system_path) = SystemPathBuf::from_path_buf(path.to_path_buf()) else {
            return;
        };
        // The file on disk may have changed too: let ty read it again.
        File::sync_path(&mut self.db, &system_path);
        if let Ok(file) = system_path_to_file(&self.db, &system_path) {
            let text = self.buffers.get(path).cloned();
            self.set_text(file, text.as_deref());
        }
    }

    /// Makes `text` the content of `file`, or lets the file on disk speak with `None`. Setting the
    /// text the file already has leaves the database as it is.
    fn set_text(&mut self, file: File, text: Option<&str>) {
        let current = file
            .source_text_override(&self.db)
            .as_ref()
            .map(|source| source.as_str().to_string());
        if current.as_deref() == text {
            return;
        }
        // ruff_db builds source texts only from others; a virtual file's own has its read error
        // (there is nothing to read), so it takes the shape of a file that reads cleanly.
        let template = if file.path(&self.db).is_system_virtual_path() {
            vendored_path_to_file(&self.db, VendoredPath::new("stdlib/builtins.pyi"))
                .unwrap_or(file)
        } else {
            file
        };
        let source = text.map(|text| {
            source_text(&self.db, template).with_text(text.to_string(), &Default::default())
        });
        file.set_source_text_override(&mut self.db).to(source);
    }
}

/// Only the rules of [`RULES`], as errors.
fn rule_selection() -> RuleSelection {
    let registry = default_lint_registry();
    let mut selection = RuleSelection::all(registry, Severity::Error);
    for lint in registry.lints() {
        if !RULES.contains(&lint.name().as_str()) {
            selection.disable(*lint);
        }
    }
    selection
}

/// The findings of the selected rules in `file`, in order, without those a `# type: ignore`
/// comment silences (ty drops those itself).
fn findings_of(db: &SemanticDb, file: File) -> Vec<Finding> {
    checked(db, file).0
}

/// The findings of `file`, and whether every import of it resolves.
///
/// A file that exists only as a buffer has no module name, so its relative imports cannot
/// resolve: whether they would is not known, and they are not reported (but they do leave the
/// file's imports unresolved).
fn checked(db: &SemanticDb, file: File) -> (Vec<Finding>, bool) {
    let is_virtual = file.path(db).is_system_virtual_path();
    let mut every_import_resolves = true;
    let mut findings: Vec<Finding> = db
        .check_file(file)
        .iter()
        .filter_map(finding)
        .filter(|finding| {
            if finding.rule != "unresolved-import" {
                return true;
            }
            every_import_resolves = false;
            !(is_virtual && in_relative_import(db, file, finding))
        })
        .collect();
    findings.sort_by_key(|finding| (finding.start, finding.end));
    (findings, every_import_resolves)
}

/// Whether `finding` lies in a relative import (`from . import x`, `from .models import Cart`),
/// at any depth (`try`, `if TYPE_CHECKING:`, a function's body).
fn in_relative_import(db: &SemanticDb, file: File, finding: &Finding) -> bool {
    use ruff_python_ast::{ExceptHandler, Stmt};
    use ruff_text_size::Ranged as _;
    let (Ok(start), Ok(end)) = (u32::try_from(finding.start), u32::try_from(finding.end)) else {
        return false;
    };
    let range = ruff_text_size::TextRange::new(start.into(), end.max(start).into());
    let parsed = ruff_db::parsed::parsed_module(db, db.program_file(file).python_file(db)).load(db);
    let mut bodies: Vec<&[Stmt]> = vec![parsed.suite()];
    while let Some(body) = bodies.pop() {
        for statement in body {
            if !statement.range().contains_range(range) {
                continue;
            }
            match statement {
                Stmt::ImportFrom(import) => return import.level > 0,
                Stmt::FunctionDef(function) => bodies.push(&function.body),
                Stmt::ClassDef(class) => bodies.push(&class.body),
                Stmt::If(branch) => {
                    bodies.push(&branch.body);
                    for clause in &branch.elif_else_clauses {
                        bodies.push(&clause.body);
                    }
                }
                Stmt::Try(attempt) => {
                    bodies.extend(
                        [&attempt.body, &attempt.orelse, &attempt.finalbody]
                            .map(|body| body.as_slice()),
                    );
                    for ExceptHandler::ExceptHandler(handler) in &attempt.handlers {
                        bodies.push(&handler.body);
                    }
                }
                Stmt::With(with) => bodies.push(&with.body),
                Stmt::For(each) => {
                    bodies.extend([&each.body, &each.orelse].map(|body| body.as_slice()))
                }
                Stmt::While(each) => {
                    bodies.extend([&each.body, &each.orelse].map(|body| body.as_slice()))
                }
                _ => {}
            }
        }
    }
    false
}

fn finding(diagnostic: &Diagnostic) -> Option<Finding> {
    let rule = match diagnostic.id() {
        DiagnosticId::InvalidSyntax => INVALID_SYNTAX,
        DiagnosticId::Lint(name) => RULES.iter().find(|rule| **rule == name.as_str())?,
        _ => return None,
    };
    let range = diagnostic.range()?;
    Some(Finding {
        rule,
        message: diagnostic.concise_message().to_string(),
        start: range.start().to_usize(),
        end: range.end().to_usize(),
        cause: None,
    })
}

/// The Python version to analyse for: the environment's (from its `lib/pythonX.Y/site-packages`
/// layout or its `pyvenv.cfg`), else the lowest the project's `requires-python` allows, else ty's
/// default (the newest it knows).
fn python_version(root: &Path, site_packages: &[PathBuf]) -> PythonVersionWithSource {
    let from_environment = site_packages.iter().find_map(|site| {
        let parent = site.parent()?.file_name()?.to_str()?;
        parse_version(parent.strip_prefix("python")?).or_else(|| {
            let config =
                std::fs::read_to_string(site.ancestors().nth(3)?.join("pyvenv.cfg")).ok()?;
            config.lines().find_map(|line| {
                let (key, value) = line.split_once('=')?;
                matches!(key.trim(), "version" | "version_info")
                    .then(|| parse_version(value.trim()))?
            })
        })
    });
    let from_project = || {
        let pyproject = std::fs::read_to_string(root.join("pyproject.toml")).ok()?;
        let requires = pyproject
            .lines()
            .find_map(|line| line.trim().strip_prefix("requires-python"))?;
        let lower = requires.split(',').find(|part| part.contains(">="))?;
        parse_version(lower.trim_start_matches(|c: char| !c.is_ascii_digit()))
    };
    match from_environment.or_else(from_project) {
        Some(version) => PythonVersionWithSource {
            version,
            source: PythonVersionSource::Default,
        },
        None => PythonVersionWithSource::default(),
    }
}

/// `3.11`, `3.11.7` or `3.11"` → 3.11.
fn parse_version(text: &str) -> Option<PythonVersion> {
    let mut parts = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty());
    let major: u8 = parts.next()?.parse().ok()?;
    let minor: u8 = parts.next()?.parse().ok()?;
    (major == 3).then_some(PythonVersion { major, minor })
}

/// Workspaces on disk for tests: ty reads the files it analyses from disk.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::Semantic;

    /// A temporary workspace holding `files` (relative path, text), its index and its semantic
    /// layer.
    pub struct Workspace {
        _dir: tempfile::TempDir,
        pub root: PathBuf,
        pub index: crate::index::Index,
        pub semantic: Arc<Semantic>,
    }

    impl Workspace {
        pub fn new(files: &[(&str, &str)]) -> Workspace {
            Workspace::with_installed(files, &[])
        }

        /// A workspace whose environment has the packages `installed` (relative path in
        /// site-packages, text), in a `.venv` of its own.
        pub fn with_installed(files: &[(&str, &str)], installed: &[(&str, &str)]) -> Workspace {
            let dir = tempfile::tempdir().expect("temporary folder");
            let site_packages = ".venv/lib/python3.11/site-packages";
            let installed: Vec<(String, &str)> = installed
                .iter()
                .map(|(relative, text)| (format!("{site_packages}/{relative}"), *text))
                .collect();
            let all = files
                .iter()
                .map(|(relative, text)| (relative.to_string(), *text))
                .chain(installed.iter().cloned());
            for (relative, text) in all {
                let path = dir.path().join(relative);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
                std::fs::write(path, text).expect("write");
            }
            let root = dir.path().canonicalize().expect("root");
            let options = crate::index::IndexOptions {
                cache_dir: None,
                ..crate::index::IndexOptions::default()
            };
            let environment = Arc::new(if installed.is_empty() {
                crate::index::environment::Environment::none()
            } else {
                crate::index::environment::Environment::with_roots(vec![root.join(site_packages)])
            });
            let (index, _) =
                crate::index::Index::build(root.clone(), environment, &options, &mut |_| {});
            let semantic = index.semantic().clone();
            Workspace {
                _dir: dir,
                root,
                index,
                semantic,
            }
        }

        pub fn path(&self, relative: &str) -> PathBuf {
            self.root.join(relative)
        }

        /// The file `relative` as the checks see it.
        pub fn typed(&self, relative: &str) -> crate::check::TypedFile {
            crate::check::TypedFile::new(self.semantic.clone(), &self.path(relative))
                .with_index(self.index.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::Workspace;
    use super::*;

    const MODELS: &str = "class Cart:\n    def __init__(self) -> None:\n        self.items: list[int] = []\n\n    def add(self, item: int) -> None:\n        self.items.append(item)\n";

    /// A package `shop` with `Cart` in `shop.models` and an empty `shop.checkout`.
    fn shop() -> Workspace {
        Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/models.py", MODELS),
            ("shop/checkout.py", ""),
        ])
    }

    fn rules(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|finding| finding.rule).collect()
    }

    #[test]
    fn members_and_calls_of_a_class_in_another_module_are_known() {
        let workspace = shop();
        let (root, semantic) = (&workspace.root, &workspace.semantic);
        let text = "from shop.models import Cart\n\n\ndef total(cart: Cart) -> int:\n    cart.add(1, 2)\n    return cart.total()\n";
        let findings = semantic.findings(&root.join("shop/checkout.py"), text);
        assert_eq!(
            rules(&findings),
            vec!["too-many-positional-arguments", "unresolved-attribute"]
        );
        assert!(
            findings[1].message.contains("has no attribute `total`"),
            "{findings:?}"
        );
        assert_eq!(&text[findings[1].start..findings[1].end], "cart.total");
    }

    #[test]
    fn a_buffer_never_saved_is_analysed_too() {
        let workspace = Workspace::new(&[("shop/__init__.py", ""), ("shop/models.py", MODELS)]);
        let (root, semantic) = (&workspace.root, &workspace.semantic);
        let unsaved = root.join("shop/draft.py");
        assert!(!unsaved.exists());
        let text = "from shop.models import Cart\nfrom .models import Cart as Same\n\n\ndef total(cart: Cart) -> int:\n    return cart.total()\n";
        semantic.buffer_changed(&unsaved, text);
        let findings = semantic.findings(&unsaved, text);
        // The relative import's module is unknown without a file, so it is not reported.
        assert_eq!(
            rules(&findings),
            vec!["unresolved-attribute"],
            "{findings:?}"
        );
        let fixed = text.replace("cart.total()", "len(cart.items)");
        assert_eq!(
            rules(&semantic.findings(&unsaved, &fixed)),
            Vec::<&str>::new()
        );
        // An absolute import that does not resolve is reported as in any file.
        let missing = format!("import not_installed_anywhere\n{fixed}");
        assert_eq!(
            rules(&semantic.findings(&unsaved, &missing)),
            vec!["unresolved-import"]
        );
        // Its relative imports leave what their names hold unknown: reads on values they may
        // have made are not judged, reads on values from the callers are.
        let untyped = |imports: &str, candidate: &str| {
            let before = format!("{imports}def fetch(response):\n    \n");
            let at = before.len() - 1;
            let spliced = format!("{}{candidate}\n", &before[..at]);
            rules(&semantic.introduced(&unsaved, &before, &spliced, at, at + candidate.len()))
        };
        let relative = "from .models import Cart\n";
        assert_eq!(
            untyped("", "return response.status_codes"),
            vec![UNKNOWN_RECEIVER]
        );
        assert_eq!(
            untyped(relative, "return response.status_codes"),
            vec![UNKNOWN_RECEIVER]
        );
        assert_eq!(
            untyped(relative, "return Cart().status_codes"),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_candidate_is_judged_by_what_it_introduces_and_the_buffer_comes_back() {
        let workspace = shop();
        let (root, semantic) = (&workspace.root, &workspace.semantic);
        let path = root.join("shop/checkout.py");
        // An unresolved name the user wrote elsewhere is not the candidate's problem.
        let before = "from shop.models import Cart\n\n\ndef total(cart: Cart) -> int:\n    \n\n\nprint(undefined_elsewhere)\n";
        semantic.buffer_changed(&path, before);
        let offset = before.find("    \n").expect("hole") + 4;
        let candidate = "return len(cart.itemz)";
        let spliced = format!("{}{candidate}{}", &before[..offset], &before[offset..]);
        let introduced =
            semantic.introduced(&path, before, &spliced, offset, offset + candidate.len());
        assert_eq!(rules(&introduced), vec!["unresolved-attribute"]);
        let good = format!(
            "{}return len(cart.items){}",
            &before[..offset],
            &before[offset..]
        );
        assert!(semantic
            .introduced(&path, before, &good, offset, offset + 22)
            .is_empty());
        // The buffer's own text is what the file holds again.
        assert_eq!(
            rules(&semantic.findings(&path, before)),
            vec!["invalid-syntax", "unresolved-reference"]
        );
    }

    #[test]
    fn findings_of_the_same_text_follow_changes_to_other_buffers() {
        let workspace = shop();
        let (root, semantic) = (&workspace.root, &workspace.semantic);
        let path = root.join("shop/checkout.py");
        let text = "from shop.models import Cart\n\n\ndef total(cart: Cart) -> int:\n    return cart.total()\n";
        assert_eq!(
            rules(&semantic.findings(&path, text)),
            vec!["unresolved-attribute"]
        );
        assert_eq!(
            rules(&semantic.findings(&path, text)),
            vec!["unresolved-attribute"]
        );
        // Another module's buffer gives `Cart` the member: the same text is judged afresh.
        let grown = format!("{MODELS}\n    def total(self) -> int:\n        return 0\n");
        semantic.buffer_changed(&root.join("shop/models.py"), &grown);
        assert_eq!(rules(&semantic.findings(&path, text)), Vec::<&str>::new());
        semantic.buffer_closed(&root.join("shop/models.py"));
        assert_eq!(
            rules(&semantic.findings(&path, text)),
            vec!["unresolved-attribute"]
        );
    }

    #[test]
    fn type_ignore_comments_silence_a_line() {
        let workspace = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/models.py", MODELS),
            ("shop/a.py", ""),
        ]);
        let (root, semantic) = (&workspace.root, &workspace.semantic);
        let text =
            "from shop.models import Cart\n\nCart().total()  # type: ignore\nCart().total()\n";
        assert_eq!(semantic.findings(&root.join("shop/a.py"), text).len(), 1);
    }

    #[test]
    fn versions_come_from_the_environment_layout_and_the_project() {
        assert_eq!(
            parse_version("3.11.7"),
            Some(PythonVersion {
                major: 3,
                minor: 11
            })
        );
        assert_eq!(parse_version("2.7"), None);
        let dir = Workspace::new(&[(
            "pyproject.toml",
            "[project]\nrequires-python = \">=3.9, <4\"\n",
        )]);
        assert_eq!(
            python_version(&dir.root, &[]).version,
            PythonVersion { major: 3, minor: 9 }
        );
        let site = dir.root.join(".venv/lib/python3.12/site-packages");
        assert_eq!(
            python_version(&dir.root, &[site]).version,
            PythonVersion {
                major: 3,
                minor: 12
            }
        );
    }
}
