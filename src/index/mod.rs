//! The repository index: every module of the workspace and the installed packages it imports.

pub mod cache;
mod dynamic;
pub mod environment;
pub mod extract;
pub mod model;
pub mod resolve;
pub mod search;
pub mod vocabulary;
pub mod walk;
pub mod workspace;

pub use workspace::{Index, IndexOptions, IndexReport, Progress, SharedIndex};

use std::sync::Arc;

/// Something that can hand out the index entry of a module by its dotted name.
///
/// The resolution functions in this module work over any `ModuleSource`, so the checks and the
/// context builder can run against the full index or against a few modules built in a test.
pub trait ModuleSource: Send + Sync {
    fn module(&self, name: &str) -> Option<Arc<model::ModuleInfo>>;
}

/// A module source with nothing in it, for documents outside any index.
pub struct NoModules;

impl ModuleSource for NoModules {
    fn module(&self, _: &str) -> Option<Arc<model::ModuleInfo>> {
        None
    }
}

static NO_MODULES: NoModules = NoModules;

/// The document at `path` in the semantic layer of the index's workspace, for the typed checks;
/// `None` without an index or for a document outside the workspace.
pub fn typed_file(
    index: Option<&Index>,
    path: Option<&std::path::Path>,
) -> Option<crate::check::TypedFile> {
    let (index, path) = index.zip(path)?;
    index.relative_path(path)?;
    Some(crate::check::TypedFile::new(index.semantic().clone(), path).with_index(index.clone()))
}

/// The dotted module name of the document at `path` and the modules its names resolve against:
/// the index when the document belongs to it, else no modules and the name `__main__`.
pub fn module_scope<'a>(
    index: Option<&'a Index>,
    path: Option<&std::path::Path>,
) -> (String, &'a (dyn ModuleSource + Sync)) {
    let name = index
        .zip(path)
        .and_then(|(index, path)| index.module_name_of(path))
        .unwrap_or_else(|| "__main__".to_string());
    match index {
        Some(index) => (name, index),
        None => (name, &NO_MODULES),
    }
}
