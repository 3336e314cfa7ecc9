//! `spackle bench ...`: measurements over real cases (holebench) and the server's own latency.
//!
//! Each benchmark prints its figures to stderr and, as its last line on stdout, one JSON object.

pub mod checks;
pub mod context;
pub mod diagnostics;
pub mod docstrings;
pub mod index;
pub mod latency;
