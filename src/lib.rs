//! spackle: a language server that fills holes in Python code with a language model and checks the
//! model's work before the editor shows it. See ARCHITECTURE.md for the map.

pub mod actions;
pub mod bench;
pub mod check;
pub mod cli;
pub mod config;
pub mod context;
pub mod engine;
pub mod index;
pub mod llm;
pub mod lsp;
pub mod prompt;
pub mod reuse;
pub mod semantic;
pub mod store;
pub mod text;
