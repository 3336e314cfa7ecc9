//! The repository index: every module of the workspace and the installed packages it imports.

pub mod model;
