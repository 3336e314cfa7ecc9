//! `spackle bench context`: the repository context spackle would send for every holebench case.
//!
//! `spackle bench context HOLES.jsonl... --cache DIR --out CONTEXTS.jsonl [--budget BYTES]`
//!
//! For each case the workspace is the unpacked wheel under `DIR` (holebench's cache). The edited
//! file's text is rebuilt as `holebench.py`'s `hole_source` does (the body replaced by one line
//! holding its indentation) and checked against `hole_file_sha256`. Each package is indexed once;
//! for each case a snapshot of it gets the hole text as the open buffer of the edited file, which
//! replaces that file's entry before any lookup, so the original body is never read by the
//! context. The output has one `{"id", "context"}` object a line, `context` being exactly
//! [`HoleContext::repository_text`](crate::context::HoleContext::repository_text).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::context::{build_context, Budget};
use crate::index::environment::Environment;
use crate::index::{Index, IndexOptions};

#[derive(Debug, Deserialize)]
struct Cursor {
    line: usize,
    character: usize,
}

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    package: String,
    file: String,
    cursor: Cursor,
    body_lines: (usize, usize),
    hole_file_sha256: String,
}

struct Arguments {
    holes: Vec<PathBuf>,
    cache: PathBuf,
    out: PathBuf,
    budget: usize,
    /// Where to write each case's part listing (`HoleContext::describe`), if anywhere.
    explain: Option<PathBuf>,
}

fn parse_arguments(args: &[String]) -> anyhow::Result<Arguments> {
    let mut holes = Vec::new();
    let mut cache = None;
    let mut out = None;
    let mut budget = 6144;
    let mut explain = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--cache" => {
                cache = Some(PathBuf::from(
                    iter.next().context("--cache needs a folder")?,
                ))
            }
            "--out" => out = Some(PathBuf::from(iter.next().context("--out needs a file")?)),
            "--explain" => explain = Some(PathBuf::from(iter.next().context("--explain needs a file")?)),
            "--budget" => {
                budget = iter
                    .next()
                    .context("--budget needs a number of bytes")?
                    .parse()?
            }
            other if other.starts_with("--") => bail!("unknown option {other}"),
            other => holes.push(PathBuf::from(other)),
        }
    }
    if holes.is_empty() {
        bail!("usage: spackle bench context HOLES.jsonl... --cache DIR --out CONTEXTS.jsonl [--budget BYTES]");
    }
    let cache = match cache {
        Some(cache) => cache,
        None => PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/holebench"),
    };
    let out = out.context("--out CONTEXTS.jsonl is required")?;
    Ok(Arguments {
        holes,
        cache,
        out,
        budget,
        explain,
    })
}

/// The folder holebench unpacks `name@version` into.
fn package_dir(cache: &Path, label: &str) -> anyhow::Result<PathBuf> {
    let (name, version) = label
        .split_once('@')
        .context("package label is name@version")?;
    Ok(cache.join(format!("{name}-{version}")))
}

/// The edited file as the user has it: holebench's `hole_source`.
pub fn hole_source(original: &str, body_lines: (usize, usize), indent: usize) -> String {
    let lines: Vec<&str> = original.split('\n').collect();
    let (first, end) = body_lines;
    let indentation = " ".repeat(indent);
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    out.extend_from_slice(&lines[..first.min(lines.len())]);
    out.push(&indentation);
    out.extend_from_slice(&lines[end.min(lines.len())..]);
    out.join("\n")
}

fn sha256_hex(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The byte offset of a (line, character) position whose line starts with ASCII indentation.
fn offset_of(text: &str, line: usize, character: usize) -> usize {
    let mut start = 0;
    for _ in 0..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[start..]
        .find('\n')
        .map(|i| start + i)
        .unwrap_or(text.len());
    let mut offset = start;
    for (count, (i, c)) in text[start..line_end].char_indices().enumerate() {
        if count == character {
            return start + i;
        }
        offset = start + i + c.len_utf8();
    }
    offset
}

/// Runs the benchmark with the command line's arguments (after `bench context`).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let arguments = parse_arguments(args)?;
    let mut cases = Vec::new();
    for path in &arguments.holes {
        let file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line?;
            if !line.trim().is_empty() {
                cases.push(
                    serde_json::from_str::<Case>(&line)
                        .with_context(|| format!("a case in {}", path.display()))?,
                );
            }
        }
    }
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&arguments.out)
            .with_context(|| format!("writing {}", arguments.out.display()))?,
    );
    let mut explain = match &arguments.explain {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    let mut indexes: HashMap<String, Index> = HashMap::new();
    let mut times_ms = Vec::new();
    let mut bytes_total = 0usize;
    let stderr = std::io::stderr();
    for case in &cases {
        let root = package_dir(&arguments.cache, &case.package)?;
        if !root.is_dir() {
            bail!(
                "{} is not unpacked under {}: run holebench.py fetch first",
                case.package,
                arguments.cache.display()
            );
        }
        let base = match indexes.get(&case.package) {
            Some(index) => index.clone(),
            None => {
                let started = Instant::now();
                let options = IndexOptions {
                    cache_dir: None,
                    ..IndexOptions::default()
                };
                let (index, report) = Index::build(
                    root.clone(),
                    Arc::new(Environment::none()),
                    &options,
                    &mut |_| {},
                );
                writeln!(
                    stderr.lock(),
                    "bench context: {} indexed: {} modules, {} skipped, {:.0} ms",
                    case.package,
                    index.len(),
                    report.skipped.len(),
                    started.elapsed().as_secs_f64() * 1000.0
                )?;
                indexes.insert(case.package.clone(), index.clone());
                index
            }
        };
        let original = std::fs::read_to_string(root.join(&case.file))
            .with_context(|| format!("{}: reading {}", case.id, case.file))?;
        let text = hole_source(&original, case.body_lines, case.cursor.character);
        if sha256_hex(&text) != case.hole_file_sha256 {
            bail!(
                "{}: the rebuilt hole file does not match hole_file_sha256",
                case.id
            );
        }
        drop(original);
        let started = Instant::now();
        let mut index = base;
        let path = root.join(&case.file);
        let Some(tree) = crate::store::parse_python(&text, None) else {
            bail!("{}: the parser gave up", case.id)
        };
        let module = index
            .module_name_of(&path)
            .context("the edited file has a module name")?;
        index.update_buffer_with_tree(&case.file, &module, &text, &tree);
        let offset = offset_of(&text, case.cursor.line, case.cursor.character);
        let context = build_context(
            &index,
            &text,
            &tree,
            &module,
            &case.file,
            offset,
            Budget::bytes(arguments.budget),
        );
        let repository = context.repository_text();
        times_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        bytes_total += repository.len();
        if let Some(explain) = explain.as_mut() {
            writeln!(explain, "== {}\n{}", case.id, context.describe())?;
        }
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({ "id": case.id, "context": repository }),
        )?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    times_ms.sort_by(|a, b| a.total_cmp(b));
    let percentile = |p: f64| {
        times_ms
            .get(((times_ms.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let summary = serde_json::json!({
        "cases": cases.len(),
        "budget_bytes": arguments.budget,
        "mean_context_bytes": if cases.is_empty() { 0 } else { bytes_total / cases.len() },
        "context_p50_ms": (percentile(0.5) * 1000.0).round() / 1000.0,
        "context_p99_ms": (percentile(0.99) * 1000.0).round() / 1000.0,
    });
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    writeln!(
        lock,
        "wrote {} contexts to {}",
        cases.len(),
        arguments.out.display()
    )?;
    writeln!(lock, "{summary}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hole_source_matches_holebench() {
        let original = "def f():\n    a = 1\n    return a\n\nx = 2";
        assert_eq!(hole_source(original, (1, 3), 4), "def f():\n    \n\nx = 2");
        assert_eq!(offset_of("ab\n    \n", 1, 4), 7);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// Runs the real benchmark when holebench's cache is there (`cargo test -- --ignored`).
    #[test]
    #[ignore]
    fn holebench_contexts() {
        let out = std::env::temp_dir().join("spackle-contexts.jsonl");
        let holes = std::env::var("HOLES")
            .unwrap_or_else(|_| "/work/shared/bench/holes/httpx.jsonl".into());
        let mut args: Vec<String> = holes.split(',').map(str::to_string).collect();
        args.extend(["--out".to_string(), out.to_string_lossy().into_owned()]);
        if let Ok(budget) = std::env::var("BUDGET") {
            args.extend(["--budget".to_string(), budget]);
        }
        run(&args).expect("benchmark runs");
    }
}
