//! `spackle bench diagnostics DIR [--list]`: spackle's checks over every Python file under DIR,
//! whole, as the editor's diagnostics run them, with the folder as the only installed package.
//! On real, working code every report is a false alarm or a real bug, so the count measures
//! precision on code the checks were not tuned on (Django, for instance). Prints the reports by
//! kind, the time per file (median and p99), and a JSON line.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::json;

use crate::check::{check_document, Problem, ProblemKind, TypedFile};
use crate::index::environment::Environment;
use crate::index::{Index, IndexOptions};

/// Runs the benchmark with the command line's arguments (after `bench diagnostics`).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut root = None;
    let mut list = false;
    for arg in args {
        match arg.as_str() {
            "--list" => list = true,
            other if other.starts_with("--") => bail!("unknown option {other}"),
            other => root = Some(PathBuf::from(other)),
        }
    }
    let usage = "usage: spackle bench diagnostics DIR [--list]";
    let root = root.context(usage)?;
    if !root.is_dir() {
        bail!("{} is not a folder; {usage}", root.display());
    }
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let (files, mut times) = check_folder(&root, |relative, problem| {
        let kind = match problem.kind {
            ProblemKind::Syntax => "syntax".to_string(),
            ProblemKind::UnresolvedName => "unresolved-name".to_string(),
            ProblemKind::UnknownMember => "unknown-member".to_string(),
            ProblemKind::UnresolvedImport => "unresolved-import".to_string(),
            ProblemKind::Call(call) => format!("call:{call:?}"),
        };
        *by_kind.entry(kind).or_default() += 1;
        if list {
            let _ = writeln!(err, "{}:{}", relative.display(), problem.message);
        }
    });
    times.sort();
    let percentile = |fraction: f64| {
        times
            .get(((times.len().max(1) - 1) as f64 * fraction).round() as usize)
            .map_or(0.0, |time| time.as_secs_f64() * 1000.0)
    };
    let total: usize = by_kind.values().sum();
    writeln!(
        err,
        "diagnostics: {total} reports in {files} files; median {:.3} ms, p99 {:.3} ms per file",
        percentile(0.5),
        percentile(0.99)
    )?;
    for (kind, count) in &by_kind {
        writeln!(err, "  {kind:24} {count}")?;
    }
    let stdout = std::io::stdout();
    writeln!(
        stdout.lock(),
        "{}",
        json!({
            "files": files,
            "reports": total,
            "by_kind": by_kind,
            "median_ms": percentile(0.5),
            "p99_ms": percentile(0.99),
        })
    )?;
    Ok(())
}

/// Checks every Python file under `root` whole, with `root` as the workspace, and tells `report`
/// each problem with the file's path relative to `root`. Returns how many files were checked and
/// the time each check took: each file is checked once untimed, so that the modules it uses are
/// read, and then timed after an edit (a line break added at its end), as the editor re-checks a
/// buffer after a keystroke.
pub(crate) fn check_folder(
    root: &Path,
    mut report: impl FnMut(&Path, &Problem),
) -> (usize, Vec<Duration>) {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let options = IndexOptions {
        cache_dir: None,
        ..IndexOptions::default()
    };
    let (index, _) = Index::build(
        root.clone(),
        Arc::new(Environment::none()),
        &options,
        &mut |_| {},
    );
    let mut files = 0;
    let mut times = Vec::new();
    for path in python_files(&root) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let relative = path.strip_prefix(&root).unwrap_or(&path);
        files += 1;
        let typed = TypedFile::new(index.semantic().clone(), &path).with_index(index.clone());
        let _ = check_document(&text, Some(&typed));
        let edited = format!("{text}\n");
        let started = Instant::now();
        let problems = check_document(&edited, Some(&typed));
        times.push(started.elapsed());
        for problem in &problems {
            report(relative, problem);
        }
    }
    (files, times)
}

/// The `.py` files under `root`, outside `*.dist-info`, in a stable order.
fn python_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if path.extension().is_none_or(|e| e != "dist-info") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "py") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_with_one_bad_call_gives_one_report() {
        let dir = tempfile::tempdir().unwrap();
        let package = dir.path().join("pkg");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("__init__.py"), "").unwrap();
        std::fs::write(package.join("a.py"), "def one(x):\n    return x\n").unwrap();
        std::fs::write(
            package.join("b.py"),
            "from pkg.a import one\n\nvalue = one(1, 2)\n",
        )
        .unwrap();
        let mut problems = Vec::new();
        let (files, times) = check_folder(dir.path(), |relative, problem| {
            problems.push((relative.to_path_buf(), problem.name.clone()))
        });
        assert_eq!((files, times.len()), (3, 3));
        assert_eq!(
            problems,
            vec![(PathBuf::from("pkg/b.py"), "one".to_string())]
        );
        assert!(run(&[dir.path().display().to_string()]).is_ok());
        assert!(run(&["/nonexistent/folder".to_string()]).is_err());
    }
}
