//! Installed packages: the workspace's virtual environment, indexed lazily, one imported module
//! at a time, so the model sees the API of the version that is installed.
//!
//! Site-packages folders come from `.venv` and `venv` in the workspace, `$VIRTUAL_ENV`, and any
//! folder the configuration adds (a configured interpreter's site-packages). A module is looked up
//! only when something asks for it (an import being resolved); `.pyi` stubs, including
//! `pkg-stubs` distributions, are preferred over `.py` sources.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::model::ModuleInfo;
use super::vocabulary::Vocabulary;

/// Installed modules larger than this are not indexed.
const MAX_INSTALLED_MODULE_BYTES: u64 = 2 * 1024 * 1024;

/// The site-packages folders of the workspace's environment and the modules read from them.
#[derive(Default)]
pub struct Environment {
    roots: Vec<PathBuf>,
    loaded: Mutex<HashMap<String, Option<Arc<ModuleInfo>>>>,
    /// The installed packages' vocabulary and the modification times of the site-packages
    /// folders it was read at (installing or removing a package changes them).
    vocabulary: Mutex<Option<(FolderTimes, Arc<Vocabulary>)>>,
}

/// The modification times of the site-packages folders.
type FolderTimes = Vec<Option<SystemTime>>;

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("roots", &self.roots)
            .finish()
    }
}

impl Environment {
    /// An environment with no installed packages.
    pub fn none() -> Environment {
        Environment::default()
    }

    /// An environment reading the given site-packages folders, in order.
    pub fn with_roots(roots: Vec<PathBuf>) -> Environment {
        Environment {
            roots,
            loaded: Mutex::new(HashMap::new()),
            vocabulary: Mutex::new(None),
        }
    }

    /// Finds the site-packages folders of `.venv`, `venv` and `$VIRTUAL_ENV`, plus `extra`.
    pub fn discover(workspace_root: &Path, extra: &[PathBuf]) -> Environment {
        let mut environments = vec![workspace_root.join(".venv"), workspace_root.join("venv")];
        if let Some(virtual_env) = std::env::var_os("VIRTUAL_ENV") {
            environments.push(PathBuf::from(virtual_env));
        }
        let mut roots = Vec::new();
        for environment in environments {
            roots.extend(site_packages_of(&environment));
        }
        roots.extend(extra.iter().filter(|p| p.is_dir()).cloned());
        // A virtualenv's `lib64` is a link to its `lib`: one folder, read once.
        let mut seen = std::collections::HashSet::new();
        roots.retain(|root| seen.insert(root.canonicalize().unwrap_or_else(|_| root.clone())));
        if !roots.is_empty() {
            tracing::info!(
                ?roots,
                "installed packages are read from these site-packages folders"
            );
        }
        Environment::with_roots(roots)
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The installed module `name`, read and indexed on first use.
    pub fn module(&self, name: &str) -> Option<Arc<ModuleInfo>> {
        if self.roots.is_empty() || name.is_empty() {
            return None;
        }
        if let Some(found) = self.loaded.lock().ok()?.get(name) {
            return found.clone();
        }
        let found = self.load(name).map(Arc::new);
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(name.to_string(), found.clone());
        }
        found
    }

    /// Every identifier the installed packages spell, read on first use and again after a
    /// package is installed or removed (a second or so for a large environment; `spackle serve`
    /// reads it in the background after indexing).
    pub fn vocabulary(&self) -> Arc<Vocabulary> {
        let stamps: FolderTimes = self
            .roots
            .iter()
            .map(|root| std::fs::metadata(root).and_then(|m| m.modified()).ok())
            .collect();
        let mut current = self
            .vocabulary
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match current.as_ref() {
            Some((read_at, vocabulary)) if *read_at == stamps => vocabulary.clone(),
            _ => {
                let vocabulary = Arc::new(Vocabulary::of_folders(&self.roots));
                *current = Some((stamps, vocabulary.clone()));
                vocabulary
            }
        }
    }

    /// How many installed modules were indexed so far.
    pub fn loaded_count(&self) -> usize {
        self.loaded
            .lock()
            .map(|l| l.values().filter(|m| m.is_some()).count())
            .unwrap_or(0)
    }

    fn load(&self, name: &str) -> Option<ModuleInfo> {
        let parts: Vec<&str> = name.split('.').collect();
        let first = parts[0];
        let rest = &parts[1..];
        for root in &self.roots {
            for (top, extension) in [
                (format!("{first}-stubs"), "pyi"),
                (first.to_string(), "pyi"),
                (first.to_string(), "py"),
            ] {
                let mut base = root.join(&top);
                for part in rest {
                    base.push(part);
                }
                let module_file = base.with_extension(extension);
                let package_file = base.join(format!("__init__.{extension}"));
                let candidates: Vec<PathBuf> = if rest.is_empty() {
                    vec![package_file, root.join(format!("{top}.{extension}"))]
                } else {
                    vec![module_file, package_file]
                };
                for candidate in candidates {
                    if let Some(module) = read_installed(root, &candidate, name) {
                        return Some(module);
                    }
                }
            }
        }
        None
    }
}

fn read_installed(root: &Path, path: &Path, name: &str) -> Option<ModuleInfo> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    if metadata.len() > MAX_INSTALLED_MODULE_BYTES {
        tracing::info!(path = %path.display(), "installed module skipped: too large");
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let Ok(text) = String::from_utf8(bytes) else {
        tracing::info!(path = %path.display(), "installed module skipped: not UTF-8");
        return None;
    };
    let tree = crate::store::parse_python(&text, None)?;
    let relative = path
        .strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
    Some(super::extract::extract_module(
        name, &relative, &text, &tree,
    ))
}

/// The site-packages folders of one virtual environment (Unix and Windows layouts).
fn site_packages_of(environment: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let windows = environment.join("Lib").join("site-packages");
    if windows.is_dir() {
        out.push(windows);
    }
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(environment.join(lib)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
            .map(|e| e.path().join("site-packages"))
            .filter(|p| p.is_dir())
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtualenvs_lib64_link_is_one_folder_with_its_lib() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let venv = dir.path().join(".venv");
        std::fs::create_dir_all(venv.join("lib/python3.11/site-packages")).expect("folders");
        std::os::unix::fs::symlink("lib", venv.join("lib64")).expect("link");
        let environment = Environment::discover(dir.path(), &[]);
        // (`$VIRTUAL_ENV` may add the environment the tests run in.)
        let ours: Vec<&PathBuf> = environment
            .roots()
            .iter()
            .filter(|root| root.starts_with(&venv))
            .collect();
        assert_eq!(ours, [&venv.join("lib/python3.11/site-packages")]);
    }

    #[test]
    fn the_vocabulary_is_read_again_after_a_package_is_installed() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let site = dir.path().join("site-packages");
        std::fs::create_dir_all(site.join("first")).expect("folders");
        std::fs::write(site.join("first/__init__.py"), "def first_api(): ...\n").expect("write");
        let environment = Environment::with_roots(vec![site.clone()]);
        let before = environment.vocabulary();
        assert!(before.contains("first_api") && !before.contains("second_api"));
        assert!(Arc::ptr_eq(&before, &environment.vocabulary()), "read once");
        std::fs::create_dir_all(site.join("second")).expect("folders");
        std::fs::write(site.join("second/__init__.py"), "def second_api(): ...\n").expect("write");
        // The folder's time as an installer leaves it (set, since a clock tick may be coarse).
        let later = std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000);
        std::fs::File::open(&site)
            .and_then(|folder| folder.set_modified(later))
            .expect("folder time");
        assert!(environment.vocabulary().contains("second_api"));
    }

    #[test]
    fn installed_modules_are_read_lazily_and_stubs_win() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let site = dir.path().join(".venv/lib/python3.12/site-packages");
        std::fs::create_dir_all(site.join("lib_a/sub")).expect("folders");
        std::fs::create_dir_all(site.join("lib_b-stubs")).expect("folders");
        std::fs::create_dir_all(site.join("lib_b")).expect("folders");
        std::fs::write(site.join("lib_a/__init__.py"), "from .sub.mod import f\n").expect("write");
        std::fs::write(site.join("lib_a/sub/mod.py"), "def f(x: int) -> int: ...\n")
            .expect("write");
        std::fs::write(site.join("lib_b/__init__.py"), "def g(*args): ...\n").expect("write");
        std::fs::write(
            site.join("lib_b-stubs/__init__.pyi"),
            "def g(x: str) -> str: ...\n",
        )
        .expect("write");
        std::fs::write(site.join("single.py"), "X = 1\n").expect("write");
        let environment = Environment::discover(dir.path(), &[]);
        assert_eq!(environment.roots().len(), 1);
        assert_eq!(environment.loaded_count(), 0);
        let package = environment.module("lib_a").expect("package found");
        assert!(package.is_package);
        assert_eq!(package.imports[0].module, "lib_a.sub.mod");
        assert_eq!(
            environment
                .module("lib_a.sub.mod")
                .expect("module found")
                .functions[0]
                .name,
            "f"
        );
        let stub = environment.module("lib_b").expect("stub found");
        assert_eq!(stub.functions[0].params[0].name, "x");
        assert!(environment.module("single").is_some());
        assert!(environment.module("missing").is_none());
        assert_eq!(environment.loaded_count(), 4);
    }
}
