//! `spackle bench index DIR`: how fast the repository index is built, restored and updated, how
//! fast a context is assembled from it, and how much memory it takes, on a real workspace.
//!
//! Figures (the last stdout line is one JSON object with them):
//! - `parse_floor_ms`: tree-sitter alone parsing every file (texts already in memory), on the
//!   same rayon threads the indexer uses;
//! - `index_ms`: a cold build (walk, read, parse, extract), persistence off;
//! - `cache_write_ms`: writing the persisted index; `warm_start_ms`: a build that finds it;
//! - `ctags_ms`: `ctags -R` over the same folder, when ctags is installed;
//! - `update_ms` / `update_p99_ms`: re-indexing one edited file as an open buffer (median, p99
//!   over up to 200 files);
//! - `context_p50_ms` / `context_p99_ms`: `build_context` at 500 cursor positions (the first
//!   statement of function bodies spread over the workspace), 1,500-token budget;
//! - `peak_rss_mb`: the process's peak resident memory (`VmHWM`).

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use rayon::prelude::*;

use crate::context::{build_context, Budget};
use crate::index::environment::Environment;
use crate::index::walk;
use crate::index::{Index, IndexOptions};

const CONTEXT_POSITIONS: usize = 500;
const UPDATE_FILES: usize = 200;

fn milliseconds(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The peak resident set size in MB, from `/proc/self/status` (Linux only; 0 elsewhere).
fn peak_rss_mb() -> f64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0.0 };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| (kb / 1024.0 * 10.0).round() / 10.0)
        .unwrap_or(0.0)
}

/// Runs the benchmark with the command line's arguments (after `bench index`).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let Some(dir) = args.first() else { bail!("usage: spackle bench index DIR") };
    let root = std::fs::canonicalize(dir).with_context(|| format!("{dir} is not a folder"))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();

    // The parse floor: the same files, texts in memory, parsed on the same threads.
    let walked = walk::discover(&root);
    let texts: Vec<String> = walked
        .files
        .iter()
        .filter_map(|f| std::fs::read(&f.path).ok().and_then(|b| String::from_utf8(b).ok()))
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let started = Instant::now();
    let parsed = texts.par_iter().filter(|text| crate::store::parse_python(text, None).is_some()).count();
    let parse_floor_ms = milliseconds(started);
    writeln!(out, "{} files, {:.1} MB; tree-sitter parse floor: {parse_floor_ms:.1} ms ({parsed} parsed)", texts.len(), bytes as f64 / 1e6)?;
    drop(texts);

    // Cold index, no persistence.
    let environment = Arc::new(Environment::none());
    let started = Instant::now();
    let options = IndexOptions { cache_dir: None, ..IndexOptions::default() };
    let (index, report) = Index::build(root.clone(), environment.clone(), &options, &mut |_| {});
    let index_ms = milliseconds(started);
    writeln!(
        out,
        "cold index: {index_ms:.1} ms ({:.2}x the parse floor), {} modules, {} skipped",
        index_ms / parse_floor_ms.max(0.001),
        index.len(),
        report.skipped.len()
    )?;

    // Persistence: write, then a warm start that finds everything in the cache.
    let cache_dir = std::env::temp_dir().join(format!("spackle-bench-index-{}", std::process::id()));
    let started = Instant::now();
    index.save_cache(&cache_dir)?;
    let cache_write_ms = milliseconds(started);
    let started = Instant::now();
    let options = IndexOptions { cache_dir: Some(cache_dir.clone()), ..IndexOptions::default() };
    let (warm, warm_report) = Index::build(root.clone(), environment.clone(), &options, &mut |_| {});
    let warm_start_ms = milliseconds(started);
    // What a warm start is made of: the walk, and reading the cache file.
    let started = Instant::now();
    let walk_files = walk::discover(&root).files.len();
    let walk_ms = milliseconds(started);
    let started = Instant::now();
    let cache_entries = crate::index::cache::load(&crate::index::cache::cache_file(&cache_dir, &root), &root).map_or(0, |c| c.len());
    let cache_load_ms = milliseconds(started);
    writeln!(out, "  of which: walk {walk_ms:.1} ms ({walk_files} files), cache read {cache_load_ms:.1} ms ({cache_entries} entries)")?;
    let _ = std::fs::remove_dir_all(&cache_dir);
    writeln!(
        out,
        "cache write: {cache_write_ms:.1} ms; warm start: {warm_start_ms:.1} ms ({} of {} files from the cache)",
        warm_report.from_cache, warm_report.files
    )?;
    drop(warm);

    // ctags over the same tree, for scale.
    let ctags_ms = {
        let started = Instant::now();
        let status = std::process::Command::new("ctags")
            .args(["-R", "-f", "/dev/null", "--languages=Python"])
            .arg(&root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(status) if status.success() => Some(milliseconds(started)),
            _ => None,
        }
    };
    if let Some(ms) = ctags_ms {
        writeln!(out, "ctags -R: {ms:.1} ms")?;
    }

    // One edited file as an open buffer.
    let step = (walked.files.len() / UPDATE_FILES).max(1);
    let mut update_times = Vec::new();
    let mut snapshot = index.clone();
    for file in walked.files.iter().step_by(step).take(UPDATE_FILES) {
        let Ok(text) = std::fs::read_to_string(&file.path) else { continue };
        let edited = format!("{text}\ndef spackle_bench_added(x: int) -> int:\n    return x\n");
        let started = Instant::now();
        snapshot.update_buffer(&file.path, &edited);
        update_times.push(milliseconds(started));
    }
    drop(snapshot);
    update_times.sort_by(|a, b| a.total_cmp(b));
    let update_ms = percentile(&update_times, 0.5);
    let update_p99_ms = percentile(&update_times, 0.99);
    writeln!(out, "update one file: median {update_ms:.2} ms, p99 {update_p99_ms:.2} ms ({} files)", update_times.len())?;

    // Context assembly at cursor positions spread over the workspace. Positions are chosen in a
    // first pass; then each file is parsed once and its positions run (one tree alive at a time).
    let mut positions: Vec<(usize, usize)> = Vec::new();
    for (file_index, file) in walked.files.iter().enumerate() {
        let Ok(text) = std::fs::read_to_string(&file.path) else { continue };
        let Some(tree) = crate::store::parse_python(&text, None) else { continue };
        let mut bodies = Vec::new();
        collect_body_starts(tree.root_node(), &mut bodies, 0);
        positions.extend(bodies.into_iter().map(|offset| (file_index, offset)));
    }
    let step = (positions.len() / CONTEXT_POSITIONS).max(1);
    let chosen: Vec<(usize, usize)> = positions.iter().step_by(step).take(CONTEXT_POSITIONS).copied().collect();
    let _ = crate::context::count_tokens("warm up the tokenizer");
    let mut context_times = Vec::new();
    let mut start = 0;
    while start < chosen.len() {
        let file_index = chosen[start].0;
        let end = start + chosen[start..].iter().take_while(|(f, _)| *f == file_index).count();
        let file = &walked.files[file_index];
        if let Ok(text) = std::fs::read_to_string(&file.path) {
            if let Some(tree) = crate::store::parse_python(&text, None) {
                for &(_, offset) in &chosen[start..end] {
                    let started = Instant::now();
                    let context = build_context(&index, &text, &tree, &file.module, &file.relative, offset, Budget::tokens(1500));
                    context_times.push(milliseconds(started));
                    std::hint::black_box(context);
                }
            }
        }
        start = end;
    }
    context_times.sort_by(|a, b| a.total_cmp(b));
    let context_p50_ms = percentile(&context_times, 0.5);
    let context_p99_ms = percentile(&context_times, 0.99);
    writeln!(out, "context: p50 {context_p50_ms:.2} ms, p99 {context_p99_ms:.2} ms ({} positions)", context_times.len())?;
    let peak = peak_rss_mb();
    writeln!(out, "peak memory: {peak:.1} MB")?;
    let summary = serde_json::json!({
        "files": walked.files.len(),
        "bytes": bytes,
        "index_ms": index_ms,
        "parse_floor_ms": parse_floor_ms,
        "index_over_parse": (index_ms / parse_floor_ms.max(0.001) * 100.0).round() / 100.0,
        "cache_write_ms": cache_write_ms,
        "warm_start_ms": warm_start_ms,
        "walk_ms": walk_ms,
        "cache_load_ms": cache_load_ms,
        "ctags_ms": ctags_ms,
        "update_ms": update_ms,
        "update_p99_ms": update_p99_ms,
        "context_p50_ms": context_p50_ms,
        "context_p99_ms": context_p99_ms,
        "peak_rss_mb": peak,
    });
    writeln!(out, "{summary}")?;
    Ok(())
}

/// Byte offsets of the first statement of every function body (past a docstring).
fn collect_body_starts(node: tree_sitter::Node, out: &mut Vec<usize>, depth: usize) {
    if depth > 64 {
        return;
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.kind() == "function_definition" {
            if let Some(body) = child.child_by_field_name("body") {
                let mut body_cursor = body.walk();
                let statements: Vec<tree_sitter::Node> = body.named_children(&mut body_cursor).collect();
                let first = statements
                    .iter()
                    .find(|s| !(s.kind() == "expression_statement" && s.named_child(0).map(|c| c.kind()) == Some("string")))
                    .or(statements.first());
                if let Some(first) = first {
                    out.push(first.start_byte());
                }
            }
        }
        collect_body_starts(child, out, depth + 1);
    }
}
