//! The repository index: every module of the workspace and the installed packages it imports.

pub mod cache;
pub mod environment;
pub mod extract;
pub mod model;
pub mod resolve;
pub mod search;
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
