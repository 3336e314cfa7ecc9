//! The workspace walk: which files are Python modules of the workspace, and their dotted names.
//!
//! Honours `.gitignore` (even outside a git repository) and `.spackleignore` (files that must never
//! reach a prompt), skips hidden folders, virtual environments (any folder holding a `pyvenv.cfg`),
//! build, cache and dependency folders, and never follows symbolic links, so nothing outside the
//! workspace is read.

use std::path::{Path, PathBuf};

/// Folder names never walked into.
const SKIPPED_FOLDERS: &[&str] = &[
    "__pycache__",
    "node_modules",
    "site-packages",
    "dist-packages",
    "build",
    "dist",
    "venv",
    "env",
    "htmlcov",
    "__pypackages__",
];

/// The ignore file (gitignore syntax) listing files spackle must never index or put in a prompt.
pub const IGNORE_FILE: &str = ".spackleignore";

/// Whether `path` (a file under `root`) is listed in a `.spackleignore` of `root` or of a folder
/// between `root` and the file. As with `.gitignore`, a deeper file's rules win, a later rule wins
/// within a file, and a file under an ignored folder is ignored.
pub fn is_ignored(root: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    let mut ignored = false;
    let mut folder = root.to_path_buf();
    let mut folders = vec![folder.clone()];
    if let Some(parent) = relative.parent() {
        for part in parent.components() {
            folder.push(part);
            folders.push(folder.clone());
        }
    }
    for folder in folders {
        let file = folder.join(IGNORE_FILE);
        if !file.is_file() {
            continue;
        }
        let mut builder = ignore::gitignore::GitignoreBuilder::new(&folder);
        if let Some(error) = builder.add(&file) {
            tracing::warn!(path = %file.display(), %error, "part of an ignore file is unreadable");
        }
        let Ok(matcher) = builder.build() else {
            continue;
        };
        match matcher.matched_path_or_any_parents(path, false) {
            ignore::Match::Ignore(_) => ignored = true,
            ignore::Match::Whitelist(_) => ignored = false,
            ignore::Match::None => {}
        }
    }
    ignored
}

/// The folder imports are resolved from when `folder` is a package: the folder above its topmost
/// package (walking up while the folder holds an `__init__.py`). A folder that is no package is
/// its own import root. So a workspace opened at `proj/shop`, a package, is indexed from `proj`,
/// where `from shop.models import Cart` names a real module.
pub fn import_root(folder: &Path) -> PathBuf {
    let is_package = |folder: &Path| {
        folder.join("__init__.py").is_file() || folder.join("__init__.pyi").is_file()
    };
    let mut root = folder.to_path_buf();
    while is_package(&root) {
        match root.parent() {
            Some(parent) if parent != root && !parent.as_os_str().is_empty() => {
                root = parent.to_path_buf()
            }
            _ => break,
        }
    }
    root
}

/// One Python file of the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path relative to the workspace root, with `/` separators.
    pub relative: String,
    /// The dotted module name.
    pub module: String,
}

/// What the walk found and what it left out.
#[derive(Debug, Clone, Default)]
pub struct WalkReport {
    pub files: Vec<SourceFile>,
    /// Files that look like Python but have no importable module name, or walk errors.
    pub skipped: Vec<(PathBuf, String)>,
}

/// One walk entry: a Python file with its module name, a file left out, or nothing.
fn visit(
    root: &Path,
    entry: Result<ignore::DirEntry, ignore::Error>,
) -> Option<Result<SourceFile, (PathBuf, String)>> {
    let entry = match entry {
        Ok(entry) => entry,
        Err(error) => return Some(Err((root.to_path_buf(), error.to_string()))),
    };
    if !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
        return None;
    }
    let path = entry.path();
    let extension = path.extension().and_then(|e| e.to_str())?;
    if extension != "py" && extension != "pyi" {
        return None;
    }
    let relative = path
        .strip_prefix(root)
        .ok()?
        .to_string_lossy()
        .replace('\\', "/");
    Some(match module_name(&relative) {
        Some(module) => Ok(SourceFile {
            path: path.to_path_buf(),
            relative,
            module,
        }),
        None => Err((path.to_path_buf(), "no importable module name".to_string())),
    })
}

/// Whether a folder is one the walk never enters.
fn skip_folder(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    if SKIPPED_FOLDERS.contains(&name)
        || name.ends_with(".egg-info")
        || name.ends_with(".dist-info")
    {
        return true;
    }
    path.join("pyvenv.cfg").exists()
}

/// Walks the workspace and lists its Python modules (`.py` and `.pyi`).
pub fn discover(root: &Path) -> WalkReport {
    let found: std::sync::Mutex<WalkReport> = std::sync::Mutex::new(WalkReport::default());
    // The walk runs on two threads: on large trees (Django has 2,500 folders, most of them
    // translations) it is bound by the per-folder look-ups for ignore files.
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .ignore(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .require_git(false)
        .parents(false)
        .follow_links(false)
        .threads(2)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            !(is_dir && entry.depth() > 0 && skip_folder(entry.path()))
        })
        .build_parallel();
    walker.run(|| {
        Box::new(|entry| {
            let outcome = visit(root, entry);
            if let Some(outcome) = outcome {
                if let Ok(mut report) = found.lock() {
                    match outcome {
                        Ok(file) => report.files.push(file),
                        Err(skipped) => report.skipped.push(skipped),
                    }
                }
            }
            ignore::WalkState::Continue
        })
    });
    let mut report = found.into_inner().unwrap_or_default();
    // A `.pyi` stub and its `.py` share a module name: the stub wins, it is what checkers read.
    report.files.sort_by(|a, b| {
        a.module.cmp(&b.module).then(
            b.relative
                .ends_with(".pyi")
                .cmp(&a.relative.ends_with(".pyi")),
        )
    });
    report
        .files
        .dedup_by(|later, first| later.module == first.module);
    report
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The dotted module name of a path relative to the workspace root (or to a site-packages folder).
///
/// `pkg/sub/mod.py` is `pkg.sub.mod`, `pkg/__init__.py` is `pkg`. A leading `src/`
/// (the src layout) is not part of the name. Folders that are not identifiers cut the name: the
/// module is named from the first identifier folder after the last one that is not (so
/// `scripts-2/tool.py` is `tool`). Returns `None` when the file name has characters other than
/// letters, digits and `_`.
pub fn module_name(relative: &str) -> Option<String> {
    let relative = relative.trim_start_matches("./");
    let mut parts: Vec<&str> = relative.split('/').filter(|p| !p.is_empty()).collect();
    let file = parts.pop()?;
    let stem = file
        .strip_suffix(".pyi")
        .or_else(|| file.strip_suffix(".py"))?;
    // A stem such as `0001_initial` cannot be named in an import statement, but `importlib` loads
    // it (Django's migrations): it is indexed under that name.
    if stem.is_empty() || !stem.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    if parts.first() == Some(&"src") {
        parts.remove(0);
    }
    let start = parts
        .iter()
        .rposition(|p| !is_identifier(p))
        .map(|i| i + 1)
        .unwrap_or(0);
    let mut name: Vec<&str> = parts[start..]
        .iter()
        .map(|p| p.strip_suffix("-stubs").unwrap_or(p))
        .collect();
    if stem != "__init__" {
        name.push(stem);
    }
    if name.is_empty() {
        None
    } else {
        Some(name.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_follow_packages_and_the_src_layout() {
        assert_eq!(
            module_name("pkg/sub/mod.py").as_deref(),
            Some("pkg.sub.mod")
        );
        assert_eq!(module_name("pkg/__init__.py").as_deref(), Some("pkg"));
        assert_eq!(module_name("src/pkg/__init__.pyi").as_deref(), Some("pkg"));
        assert_eq!(module_name("setup.py").as_deref(), Some("setup"));
        assert_eq!(module_name("my-scripts/tool.py").as_deref(), Some("tool"));
        assert_eq!(module_name("pkg/not-a-module.py"), None);
        assert_eq!(
            module_name("app/migrations/0001_initial.py").as_deref(),
            Some("app.migrations.0001_initial")
        );
        assert_eq!(module_name("__init__.py"), None);
    }

    #[test]
    fn the_walk_skips_ignored_and_environment_folders() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path();
        let write = |relative: &str| {
            let path = root.join(relative);
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create folders");
            std::fs::write(path, "x = 1\n").expect("write file");
        };
        write("pkg/__init__.py");
        write("pkg/a.py");
        write("pkg/a.pyi");
        write("src/other/b.py");
        write("ignored/c.py");
        write(".venv/lib/site-packages/d.py");
        write("myenv/e.py");
        write("myenv/pyvenv.cfg");
        write("pkg/__pycache__/f.py");
        write("pkg/secrets.py");
        write("pkg/keys/g.py");
        std::fs::write(root.join(".gitignore"), "ignored/\n").expect("write .gitignore");
        std::fs::write(root.join(IGNORE_FILE), "secrets.py\nkeys/\n").expect("write ignore file");
        let report = discover(root);
        let got: Vec<(&str, &str)> = report
            .files
            .iter()
            .map(|f| (f.module.as_str(), f.relative.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("other.b", "src/other/b.py"),
                ("pkg", "pkg/__init__.py"),
                ("pkg.a", "pkg/a.pyi")
            ]
        );
        assert!(is_ignored(root, &root.join("pkg/secrets.py")));
        assert!(is_ignored(root, &root.join("pkg/keys/g.py")));
        assert!(!is_ignored(root, &root.join("pkg/a.py")));
        assert!(!is_ignored(root, &root.join("elsewhere.py")));
        assert_eq!(import_root(&root.join("pkg")), root);
        assert_eq!(import_root(&root.join("src/other")), root.join("src/other"));
    }
}
