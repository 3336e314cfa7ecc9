//! `spackle bench checks HOLES.jsonl CHECKS.jsonl --cache DIR --out RESULTS.jsonl`: runs the static
//! checks over holebench's check cases and writes holebench's `{"id", "problems"}` rows.
//!
//! Each candidate (the gold body with the case's one edit, as `holebench.py candidate` builds it)
//! is placed at the cursor of the hole file as a model's completion would be: the hole line holds
//! only the indentation and the cursor stands at its end, so the completion is the body without
//! its first line's indentation and without its final line break. The spliced text is compared
//! with what `holebench.py splice` writes, at run time, for every case. The unpacked wheel under
//! `--cache` is the workspace of the semantic layer; the edited file's content is the hole text
//! (an open buffer), never the original file. Before a hole's first candidate the hole text is
//! checked once untimed, as an editor diagnoses an open file; then every candidate's check is
//! timed, and the median and p99 go to stderr and, as JSON, to stdout's last line.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde::Deserialize;
use serde_json::json;

use crate::check::{check_spliced_candidate, splice, Before, TypedFile};
use crate::index::environment::Environment;
use crate::index::{Index, IndexOptions};
use crate::store::parse_python;

#[derive(Debug, Deserialize)]
struct Cursor {
    line: usize,
    character: usize,
}

/// One context case of a holes file (only the fields this benchmark needs).
#[derive(Debug, Deserialize)]
struct HoleCase {
    id: String,
    package: String,
    file: String,
    cursor: Cursor,
    body_lines: (usize, usize),
}

#[derive(Debug, Deserialize)]
struct Edit {
    line: usize,
    col: usize,
    old: String,
    new: String,
}

/// One check case of a checks file.
#[derive(Debug, Deserialize)]
struct CheckCase {
    id: String,
    case: String,
    kind: String,
    expect: String,
    edit: Option<Edit>,
}

/// A hole case made ready: the hole file, the cursor, the gold body and the original lines.
struct Prepared {
    before: Before,
    offset: usize,
    typed: TypedFile,
    lines: Vec<String>,
    body_lines: (usize, usize),
    indent: usize,
}

impl Prepared {
    fn gold_body(&self) -> String {
        self.lines[self.body_lines.0..self.body_lines.1].join("\n") + "\n"
    }

    /// `holebench.py candidate`: the gold body with the row's edit.
    fn candidate(&self, row: &CheckCase) -> anyhow::Result<String> {
        let body = self.gold_body();
        let Some(edit) = &row.edit else {
            return Ok(body);
        };
        let mut lines: Vec<String> = body.split('\n').map(str::to_string).collect();
        let line = lines
            .get(edit.line)
            .with_context(|| format!("{}: the edit's line is outside the body", row.id))?;
        let chars: Vec<char> = line.chars().collect();
        let old: Vec<char> = edit.old.chars().collect();
        if edit.col + old.len() > chars.len() || chars[edit.col..edit.col + old.len()] != old[..] {
            bail!("{}: the edit does not apply", row.id);
        }
        let mut edited: String = chars[..edit.col].iter().collect();
        edited.push_str(&edit.new);
        edited.extend(&chars[edit.col + old.len()..]);
        lines[edit.line] = edited;
        Ok(lines.join("\n"))
    }

    /// `holebench.py splice`: the original file with the candidate body in place of the real one.
    fn expected_splice(&self, body: &str) -> String {
        let (first, end) = self.body_lines;
        format!(
            "{}\n{}{}",
            self.lines[..first].join("\n"),
            body,
            self.lines[end..].join("\n")
        )
    }

    /// The completion a model would give for this body at the cursor.
    fn completion<'b>(&self, body: &'b str) -> &'b str {
        let without_indent = if body.len() >= self.indent
            && body.as_bytes()[..self.indent].iter().all(|&b| b == b' ')
        {
            &body[self.indent..]
        } else {
            body
        };
        without_indent.strip_suffix('\n').unwrap_or(without_indent)
    }
}

fn prepare(
    case: &HoleCase,
    cache: &Path,
    site_packages: &[PathBuf],
    workspaces: &mut HashMap<String, Index>,
) -> anyhow::Result<Prepared> {
    let (name, version) = case
        .package
        .split_once('@')
        .context("package is not name@version")?;
    let folder = cache.join(format!("{name}-{version}"));
    let root = folder
        .canonicalize()
        .with_context(|| format!("{} (run `holebench.py fetch` first)", folder.display()))?;
    let path = root.join(&case.file);
    let original = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (run `holebench.py fetch` first)",
            path.display()
        )
    })?;
    let lines: Vec<String> = original.split('\n').map(str::to_string).collect();
    let (first, end) = case.body_lines;
    if first > end || end > lines.len() || case.cursor.line != first {
        bail!("{}: body lines or cursor do not fit the file", case.id);
    }
    let indent = case.cursor.character;
    let mut hole_lines: Vec<String> = lines[..first].to_vec();
    hole_lines.push(" ".repeat(indent));
    hole_lines.extend_from_slice(&lines[end..]);
    let hole = hole_lines.join("\n");
    let offset = lines[..first]
        .iter()
        .map(|line| line.len() + 1)
        .sum::<usize>()
        + indent;
    let tree = parse_python(&hole, None).context("tree-sitter refused the hole file")?;
    let mut index = workspaces
        .entry(case.package.clone())
        .or_insert_with(|| {
            let options = IndexOptions {
                cache_dir: None,
                ..IndexOptions::default()
            };
            Index::build(
                root.clone(),
                Arc::new(Environment::with_roots(site_packages.to_vec())),
                &options,
                &mut |_| {},
            )
            .0
        })
        .clone();
    // The hole file is an open buffer: neither the index nor the semantic layer sees the body.
    index.update_buffer(&path, &hole);
    let typed = TypedFile::new(index.semantic().clone(), &path).with_index(index);
    Ok(Prepared {
        before: Before::with_tree(hole, tree),
        offset,
        typed,
        lines,
        body_lines: case.body_lines,
        indent,
    })
}

struct Arguments {
    holes: PathBuf,
    checks: PathBuf,
    cache: PathBuf,
    out: PathBuf,
    /// Installed packages the checked packages may import (holebench's wheels come alone).
    site_packages: Vec<PathBuf>,
}

fn parse_arguments(args: &[String]) -> anyhow::Result<Arguments> {
    let mut positional = Vec::new();
    let mut cache = None;
    let mut out = None;
    let mut site_packages = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--site-packages" => {
                let folder = PathBuf::from(iter.next().context("--site-packages needs a folder")?);
                if !folder.is_dir() {
                    bail!("--site-packages {}: no such folder", folder.display());
                }
                // Each case's analysis runs with its own workspace as the root, where a relative
                // folder would name nothing.
                let folder = std::path::absolute(&folder).with_context(|| {
                    format!("--site-packages {}: no absolute path", folder.display())
                })?;
                site_packages.push(folder);
            }
            "--cache" => {
                cache = Some(PathBuf::from(
                    iter.next().context("--cache needs a folder")?,
                ))
            }
            "--out" => out = Some(PathBuf::from(iter.next().context("--out needs a file")?)),
            other if other.starts_with("--") => bail!("unknown option {other}"),
            other => positional.push(PathBuf::from(other)),
        }
    }
    let usage = "usage: spackle bench checks HOLES.jsonl CHECKS.jsonl --cache DIR --out RESULTS.jsonl [--site-packages DIR]...";
    if positional.len() != 2 {
        bail!("{usage}");
    }
    let cache = match cache {
        Some(cache) => cache,
        None => match std::env::var_os("HOLEBENCH_CACHE") {
            Some(cache) => PathBuf::from(cache),
            None => PathBuf::from(std::env::var_os("HOME").context("no --cache and no HOME")?)
                .join(".cache/holebench"),
        },
    };
    let checks = positional.pop().context(usage)?;
    let holes = positional.pop().context(usage)?;
    Ok(Arguments {
        holes,
        checks,
        cache,
        out: out.context(usage)?,
        site_packages,
    })
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(index, line)| {
            serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), index + 1))
        })
        .collect()
}

/// Runs the benchmark with the command line's arguments (after `bench checks`).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let arguments = parse_arguments(args)?;
    let holes: Vec<HoleCase> = read_jsonl(&arguments.holes)?;
    let rows: Vec<CheckCase> = read_jsonl(&arguments.checks)?;
    let cases: HashMap<&str, &HoleCase> =
        holes.iter().map(|case| (case.id.as_str(), case)).collect();
    let mut workspaces = HashMap::new();
    let mut prepared: HashMap<&str, Prepared> = HashMap::new();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&arguments.out)
            .with_context(|| format!("creating {}", arguments.out.display()))?,
    );
    let mut times = Vec::new();
    // kind -> (cases, flagged); package -> kind -> (cases, flagged).
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_package: BTreeMap<String, BTreeMap<String, (usize, usize)>> = BTreeMap::new();
    let mut splice_mismatches = 0;
    let mut open_case: Option<&str> = None;
    for row in &rows {
        let case = cases
            .get(row.case.as_str())
            .with_context(|| format!("{}: no hole case {}", row.id, row.case))?;
        if !prepared.contains_key(row.case.as_str()) {
            prepared.insert(
                row.case.as_str(),
                prepare(
                    case,
                    &arguments.cache,
                    &arguments.site_packages,
                    &mut workspaces,
                )?,
            );
        }
        let hole = &prepared[row.case.as_str()];
        if open_case != Some(row.case.as_str()) {
            // One hole file is open at a time, as the editor has it; the file on disk speaks for
            // the others.
            if let Some(previous) = open_case.and_then(|case| prepared.get(case)) {
                previous.typed.semantic.buffer_closed(&previous.typed.path);
            }
            hole.typed
                .semantic
                .buffer_changed(&hole.typed.path, &hole.before.text);
            // The editor has diagnosed the open file before the first completion.
            let _ = crate::check::check_document(&hole.before.text, Some(&hole.typed));
            open_case = Some(row.case.as_str());
        }
        let body = hole.candidate(row)?;
        let completion = hole.completion(&body);
        let spliced = splice(&hole.before, hole.offset, completion)
            .context("tree-sitter refused the spliced file")?;
        if spliced.text != hole.expected_splice(&body) {
            splice_mismatches += 1;
            tracing::warn!(id = %row.id, "the spliced file differs from holebench's splice");
        }
        drop(spliced);
        let started = Instant::now();
        let problems =
            check_spliced_candidate(&hole.before, hole.offset, completion, Some(&hole.typed));
        times.push(started.elapsed());
        let flagged = usize::from(!problems.is_empty());
        let entry = by_kind.entry(row.kind.clone()).or_default();
        entry.0 += 1;
        entry.1 += flagged;
        let entry = by_package
            .entry(case.package.clone())
            .or_default()
            .entry(row.kind.clone())
            .or_default();
        entry.0 += 1;
        entry.1 += flagged;
        if (row.expect == "clean") == (flagged == 1) {
            tracing::debug!(id = %row.id, ?problems, "check disagrees with the expectation");
        }
        serde_json::to_writer(&mut out, &json!({ "id": row.id, "problems": problems }))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if splice_mismatches > 0 {
        bail!("{splice_mismatches} spliced files differ from holebench's splice");
    }
    times.sort();
    let median = percentile(&times, 0.5);
    let p99 = percentile(&times, 0.99);
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    writeln!(
        err,
        "checks: {} cases, median {:.3} ms, p99 {:.3} ms per check",
        times.len(),
        ms(median),
        ms(p99)
    )?;
    for (kind, (cases, flagged)) in &by_kind {
        writeln!(err, "  {kind:20} {flagged:4}/{cases:<4} flagged")?;
    }
    for (package, kinds) in &by_package {
        let summary: Vec<String> = kinds
            .iter()
            .map(|(kind, (cases, flagged))| format!("{kind} {flagged}/{cases}"))
            .collect();
        writeln!(err, "  {package}: {}", summary.join(", "))?;
    }
    // The packages' own files, checked whole as the editor's diagnostics check them: real code,
    // so every problem reported there is a false alarm or a real bug of the package.
    let mut real_files = 0;
    let mut real_problems = 0;
    let mut packages: Vec<&String> = workspaces.keys().collect();
    packages.sort();
    for package in packages {
        let (name, version) = package.split_once('@').unwrap_or((package.as_str(), ""));
        let root = arguments.cache.join(format!("{name}-{version}"));
        let (files, _) = super::diagnostics::check_folder(&root, |relative, problem| {
            real_problems += 1;
            let _ = writeln!(
                err,
                "  real code: {}:{}",
                relative.display(),
                problem.message
            );
        });
        real_files += files;
    }
    writeln!(
        err,
        "  real code: {real_problems} problems in {real_files} files of the packages"
    )?;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let kinds: BTreeMap<&String, serde_json::Value> = by_kind
        .iter()
        .map(|(kind, (cases, flagged))| (kind, json!({ "cases": cases, "flagged": flagged })))
        .collect();
    writeln!(
        stdout,
        "{}",
        json!({
            "checks": times.len(),
            "median_ms": ms(median),
            "p99_ms": ms(p99),
            "kinds": kinds,
            "real_code": { "files": real_files, "problems": real_problems },
        })
    )?;
    Ok(())
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny package in a temporary cache: the completion placed at the cursor gives the same
    /// file as holebench's splice, and the benchmark writes one row per check case.
    #[test]
    fn completion_at_the_cursor_equals_holebench_splice() {
        let cache = tempfile::tempdir().unwrap();
        let package = cache.path().join("demo-1.0/demo");
        std::fs::create_dir_all(&package).unwrap();
        let source = "import os\n\n\ndef size(path):\n    \"\"\"Size.\"\"\"\n    value = os.path.getsize(path)\n    return value\n\n\ndef other():\n    return 1\n";
        std::fs::write(package.join("mod.py"), source).unwrap();
        std::fs::write(package.join("__init__.py"), "").unwrap();
        let holes = cache.path().join("holes.jsonl");
        std::fs::write(
            &holes,
            r#"{"id": "demo@1.0/demo/mod.py::size", "package": "demo@1.0", "file": "demo/mod.py", "cursor": {"line": 5, "character": 4}, "body_lines": [5, 7]}"#,
        )
        .unwrap();
        let checks = cache.path().join("checks.jsonl");
        std::fs::write(
            &checks,
            [
                r#"{"id": "a#gold", "case": "demo@1.0/demo/mod.py::size", "kind": "gold", "expect": "clean", "edit": null}"#,
                r#"{"id": "a#unbound", "case": "demo@1.0/demo/mod.py::size", "kind": "unbound-name", "expect": "error", "edit": {"line": 1, "col": 16, "old": "", "new": "s"}}"#,
                r#"{"id": "a#syntax", "case": "demo@1.0/demo/mod.py::size", "kind": "syntax-error", "expect": "error", "edit": {"line": 0, "col": 32, "old": ")", "new": ""}}"#,
            ]
            .join("\n"),
        )
        .unwrap();
        let mut environments = HashMap::new();
        let holes_read: Vec<HoleCase> = read_jsonl(&holes).unwrap();
        let prepared = prepare(&holes_read[0], cache.path(), &[], &mut environments).unwrap();
        let rows: Vec<CheckCase> = read_jsonl(&checks).unwrap();
        for row in &rows {
            let body = prepared.candidate(row).unwrap();
            let spliced = splice(
                &prepared.before,
                prepared.offset,
                prepared.completion(&body),
            )
            .unwrap();
            assert_eq!(spliced.text, prepared.expected_splice(&body), "{}", row.id);
        }
        assert_eq!(prepared.expected_splice(&prepared.gold_body()), source);
        let out = cache.path().join("results.jsonl");
        let args: Vec<String> = [
            holes.to_str().unwrap(),
            checks.to_str().unwrap(),
            "--cache",
            cache.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        run(&args).unwrap();
        let results: Vec<serde_json::Value> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(results.len(), 3);
        assert_eq!(
            results[0]["problems"].as_array().unwrap().len(),
            0,
            "{results:?}"
        );
        assert_eq!(results[1]["problems"][0]["name"], "values");
        assert!(!results[2]["problems"].as_array().unwrap().is_empty());
    }
}
