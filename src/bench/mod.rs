//! `spackle bench ...`: measurements over real cases (holebench) and the server's own latency.
//!
//! Each benchmark prints its figures to stderr and, as its last line on stdout, one JSON object.

pub mod checks;
pub mod context;
pub mod diagnostics;
pub mod docstrings;
pub mod index;
pub mod latency;

/// The benchmarks, each with its own help text (`spackle bench KIND --help`).
pub const KINDS: [(&str, &str); 6] = [
    (
        "context",
        "spackle bench context HOLES.jsonl... --cache DIR --out CONTEXTS.jsonl [--budget BYTES] [--explain FILE]

Builds the repository context spackle would send for every case of holebench's hole files and
writes one JSON line per case to CONTEXTS.jsonl, for `holebench.py score`. DIR is where
holebench's pinned wheels were unpacked (`holebench.py fetch`). --budget sets the context's size
in bytes (default: `context.repository_tokens`); --explain writes why each part was chosen.",
    ),
    (
        "checks",
        "spackle bench checks HOLES.jsonl CHECKS.jsonl --cache DIR --out RESULTS.jsonl [--site-packages DIR]...

Runs the static checks on holebench's check cases (real bodies and injected mistakes, one package
at a time) and writes what they found to RESULTS.jsonl, for `holebench.py checks`. It also checks
every file of each package whole, as the editor's diagnostics do, and lists what it reports there:
on real code each report is a false alarm or a real bug. holebench's wheels come without their
dependencies; --site-packages names a folder of installed packages they may import (a
virtualenv's `lib/pythonX.Y/site-packages`), as a user's environment would have them.",
    ),
    (
        "diagnostics",
        "spackle bench diagnostics DIR [--list]

Checks every Python file under DIR whole, as the editor's diagnostics do, and prints the reports by
kind with the time per file (median and slowest). On real code each report is a false alarm or a
real bug. --list prints every report with its file and line.",
    ),
    (
        "docstrings",
        "spackle bench docstrings [PACKAGE_DIR...]

How well the docstring check tells real docstrings from defective ones: for every documented
function, its real docstring should pass and each injected defect (a parameter dropped or
invented, an exception the body never raises) should be refused. Also measures how often the
prompt's style and its few-shot examples agree with the real docstring. Without arguments, every
package unpacked under $HOLEBENCH_CACHE (default ~/.cache/holebench) is used.",
    ),
    (
        "index",
        "spackle bench index DIR

Indexes DIR as a workspace (cold, then from the on-disk cache) and times it against the floor of
parsing every file once.",
    ),
    (
        "latency",
        "spackle bench latency [--requests N] [--backend ollama|openai|llamacpp|anthropic]

The server's own latency: N completion requests (at least 10, default 100) over real LSP against
a scripted model server that answers at once, in that backend's wire format, next to the model
layer alone.",
    ),
];

/// The help text of benchmark `kind`.
pub fn help(kind: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, help)| *help)
}
