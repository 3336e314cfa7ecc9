//! The external checker of "Fix with spackle": ruff or pyright, run on the fixed text to confirm
//! that a diagnostic they reported is gone and that they report nothing new.
//!
//! The tool is found on `PATH` or in the workspace's `.venv/bin`. A missing tool is not an error:
//! fixes fall back to spackle's own checks, and the log says why once per tool. ruff reads the text
//! on stdin (with the real file name, so the project's configuration applies); pyright checks a
//! copy in a temporary folder. Either runs with a time limit.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::ExternalChecker;

/// How long one run of the tool may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// One problem the tool reported, in byte offsets of the text it checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// ruff's rule code (`F821`) or pyright's rule (`reportUndefinedVariable`), when there is one.
    pub code: Option<String>,
    pub message: String,
    /// 0-based line of the start.
    pub line: usize,
    pub start: usize,
    pub end: usize,
}

impl Finding {
    /// What identifies a finding across two versions of a text: its code and its message.
    pub fn key(&self) -> (&str, &str) {
        (self.code.as_deref().unwrap_or(""), self.message.trim())
    }
}

/// An installed checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checker {
    pub kind: ExternalChecker,
    pub program: PathBuf,
}

/// The tool's name, as editors give it in a diagnostic's `source`.
pub fn tool_name(kind: ExternalChecker) -> Option<&'static str> {
    match kind {
        ExternalChecker::None => None,
        ExternalChecker::Ruff => Some("ruff"),
        ExternalChecker::Pyright => Some("pyright"),
    }
}

/// Whether a diagnostic's `source` names this tool (`Ruff`, `ruff`, `Pyright`, `basedpyright`).
pub fn reported_by(kind: ExternalChecker, source: Option<&str>) -> bool {
    let (Some(name), Some(source)) = (tool_name(kind), source) else {
        return false;
    };
    source.to_ascii_lowercase().contains(name)
}

/// The installed checker of this kind: `workspace/.venv/bin/NAME` first, then `PATH`. `Err` says
/// why there is none.
pub fn find(kind: ExternalChecker, workspace: Option<&Path>) -> Result<Checker, String> {
    find_in(kind, workspace, std::env::var_os("PATH"))
}

/// [`find`] with the `PATH` given.
fn find_in(
    kind: ExternalChecker,
    workspace: Option<&Path>,
    search_path: Option<std::ffi::OsString>,
) -> Result<Checker, String> {
    let name = tool_name(kind).ok_or("no external checker is configured")?;
    let mut places: Vec<PathBuf> = Vec::new();
    if let Some(root) = workspace {
        places.push(root.join(".venv").join("bin"));
    }
    if let Some(path) = search_path {
        places.extend(std::env::split_paths(&path));
    }
    places
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .map(|program| Checker { kind, program })
        .ok_or_else(|| format!("`{name}` is not on PATH nor in the workspace's .venv/bin"))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Logs a reason once per tool and reason, so a missing tool does not fill the log.
pub fn log_once(kind: ExternalChecker, reason: &str) {
    static LOGGED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut logged = LOGGED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = format!("{kind:?}: {reason}");
    if logged.get_or_insert_with(HashSet::new).insert(key) {
        tracing::warn!(checker = ?kind, %reason, "external checker not used; fixes are checked with spackle's own checks");
    }
}

impl Checker {
    /// Runs the tool on `text` as if it were the file at `path` (run from `workspace`).
    pub fn check(
        &self,
        text: &str,
        path: &Path,
        workspace: Option<&Path>,
    ) -> Result<Vec<Finding>, String> {
        let directory = workspace
            .map(Path::to_path_buf)
            .or_else(|| path.parent().map(Path::to_path_buf))
            .unwrap_or_else(std::env::temp_dir);
        match self.kind {
            ExternalChecker::None => Ok(Vec::new()),
            ExternalChecker::Ruff => {
                let mut command = Command::new(&self.program);
                command
                    .args([
                        "check",
                        "--output-format=json",
                        "--no-fix",
                        "--stdin-filename",
                    ])
                    .arg(path)
                    .arg("-")
                    .current_dir(&directory);
                let output = run(command, Some(text))?;
                parse_ruff(&output, text)
            }
            ExternalChecker::Pyright => {
                let scratch = Scratch::new()
                    .map_err(|error| format!("no temporary folder for pyright: {error}"))?;
                let name = path
                    .file_name()
                    .map_or_else(|| "checked.py".into(), |name| name.to_os_string());
                let copy = scratch.0.join(name);
                std::fs::write(&copy, text)
                    .map_err(|error| format!("cannot write the copy for pyright: {error}"))?;
                let mut command = Command::new(&self.program);
                command
                    .arg("--outputjson")
                    .arg(&copy)
                    .current_dir(&directory);
                let output = run(command, None)?;
                parse_pyright(&output, text)
            }
        }
    }
}

/// A temporary folder of its own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let number = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("spackle-check-{}-{number}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command with `input` on stdin and returns its stdout, or why it failed.
fn run(mut command: Command, input: Option<&str>) -> Result<String, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A program that was just written (a tool installing itself) can be briefly busy while
    // another process that forked meanwhile still holds it open for writing: try again.
    let mut attempts = 0;
    let mut child = loop {
        match command.spawn() {
            Err(error)
                if error.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 20 =>
            {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => break other,
        }
    }
    .map_err(|error| format!("`{program}` could not be started: {error}"))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let input = input.to_string();
        std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
    }
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let error_reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stderr.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{program}` took longer than {TIMEOUT:?}"));
            }
            Err(error) => return Err(format!("`{program}` could not be awaited: {error}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    let errors = error_reader.join().unwrap_or_default();
    // ruff and pyright exit with 1 when they report problems; 2 and above mean they failed.
    if status.code().is_some_and(|code| code >= 2) || (status.code().is_none() && out.is_empty()) {
        let first = errors.lines().next().unwrap_or("").trim();
        return Err(format!("`{program}` failed ({status}): {first}"));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct RuffLocation {
    row: usize,
    column: usize,
}

#[derive(Deserialize)]
struct RuffMessage {
    code: Option<String>,
    message: String,
    location: RuffLocation,
    end_location: RuffLocation,
}

/// Reads `ruff check --output-format=json`: rows and columns from 1, columns in characters.
pub fn parse_ruff(output: &str, text: &str) -> Result<Vec<Finding>, String> {
    let messages: Vec<RuffMessage> = serde_json::from_str(output.trim())
        .map_err(|error| format!("ruff's output is not the JSON expected: {error}"))?;
    let lines = LineStarts::new(text);
    Ok(messages
        .into_iter()
        .map(|message| {
            let line = message.location.row.saturating_sub(1);
            Finding {
                code: message.code.filter(|code| !code.is_empty()),
                message: message.message,
                line,
                start: lines.offset_of_char(text, line, message.location.column.saturating_sub(1)),
                end: lines.offset_of_char(
                    text,
                    message.end_location.row.saturating_sub(1),
                    message.end_location.column.saturating_sub(1),
                ),
            }
        })
        .collect())
}

#[derive(Deserialize)]
struct PyrightPosition {
    line: usize,
    character: usize,
}

#[derive(Deserialize)]
struct PyrightRange {
    start: PyrightPosition,
    end: PyrightPosition,
}

#[derive(Deserialize)]
struct PyrightDiagnostic {
    message: String,
    rule: Option<String>,
    severity: Option<String>,
    range: Option<PyrightRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PyrightOutput {
    general_diagnostics: Vec<PyrightDiagnostic>,
}

/// Reads `pyright --outputjson`: lines and characters from 0, characters in UTF-16 units.
pub fn parse_pyright(output: &str, text: &str) -> Result<Vec<Finding>, String> {
    let parsed: PyrightOutput = serde_json::from_str(output.trim())
        .map_err(|error| format!("pyright's output is not the JSON expected: {error}"))?;
    let lines = LineStarts::new(text);
    Ok(parsed
        .general_diagnostics
        .into_iter()
        .filter(|diagnostic| diagnostic.severity.as_deref() != Some("information"))
        .map(|diagnostic| {
            let (line, start, end) = match &diagnostic.range {
                Some(range) => (
                    range.start.line,
                    lines.offset_of_utf16(text, range.start.line, range.start.character),
                    lines.offset_of_utf16(text, range.end.line, range.end.character),
                ),
                None => (0, 0, 0),
            };
            Finding {
                code: diagnostic.rule.filter(|rule| !rule.is_empty()),
                message: diagnostic.message,
                line,
                start,
                end,
            }
        })
        .collect())
}

/// Where each line of a text starts, to turn the tools' line and column pairs into bytes.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn new(text: &str) -> LineStarts {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        LineStarts(starts)
    }

    fn line<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let Some(&start) = self.0.get(line) else {
            return "";
        };
        let end = self.0.get(line + 1).copied().unwrap_or(text.len());
        &text[start..end]
    }

    fn offset_of_char(&self, text: &str, line: usize, column: usize) -> usize {
        let Some(&start) = self.0.get(line) else {
            return text.len();
        };
        let within: usize = self
            .line(text, line)
            .chars()
            .take(column)
            .map(char::len_utf8)
            .sum();
        start + within
    }

    fn offset_of_utf16(&self, text: &str, line: usize, character: usize) -> usize {
        let Some(&start) = self.0.get(line) else {
            return text.len();
        };
        let mut units = 0;
        let mut bytes = 0;
        for c in self.line(text, line).chars() {
            if units >= character {
                break;
            }
            units += c.len_utf16();
            bytes += c.len_utf8();
        }
        start + bytes
    }
}

/// What the tool said about the original text, ready to judge a fix.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub checker: Checker,
    pub path: PathBuf,
    pub workspace: Option<PathBuf>,
    pub findings: Vec<Finding>,
    /// The finding that is the editor's diagnostic.
    pub diagnosed: Finding,
}

/// Finds the editor's diagnostic among the tool's findings: the same code when both have one (else
/// the same message), starting within a line of the diagnostic.
pub fn matching<'f>(
    findings: &'f [Finding],
    code: Option<&str>,
    message: &str,
    line: usize,
) -> Option<&'f Finding> {
    let same = |finding: &&Finding| match (code, finding.code.as_deref()) {
        (Some(code), Some(found)) => code == found,
        _ => finding.message.trim() == message.trim(),
    };
    findings
        .iter()
        .filter(same)
        .filter(|finding| finding.line.abs_diff(line) <= 1)
        .min_by_key(|finding| finding.line.abs_diff(line))
}

impl Baseline {
    /// Judges the text after the fix, whose replaced region now spans `region` (bytes): the
    /// diagnosed finding must be gone from the region (and from the count of its kind), and no
    /// other kind of finding may be reported more often than before.
    pub fn judge(&self, after: &str, region: (usize, usize)) -> Result<(), String> {
        let name = tool_name(self.checker.kind).unwrap_or("the external checker");
        let findings = self
            .checker
            .check(after, &self.path, self.workspace.as_deref())
            .map_err(|error| format!("{name} could not check the fix: {error}"))?;
        let first_line = after[..region.0.min(after.len())].matches('\n').count();
        let last_line = after[..region.1.min(after.len())].matches('\n').count();
        let diagnosed = self.diagnosed.key();
        if let Some(still) = findings.iter().find(|finding| {
            finding.key() == diagnosed
                && finding.line + 1 >= first_line
                && finding.line <= last_line + 1
        }) {
            return Err(format!(
                "{name} still reports the problem: {}",
                describe(still)
            ));
        }
        let count = |findings: &[Finding]| {
            let mut counts: HashMap<(String, String), usize> = HashMap::new();
            for finding in findings {
                let (code, message) = finding.key();
                *counts
                    .entry((code.to_string(), message.to_string()))
                    .or_default() += 1;
            }
            counts
        };
        let before = count(&self.findings);
        let now = count(&findings);
        let diagnosed_key = (diagnosed.0.to_string(), diagnosed.1.to_string());
        for finding in &findings {
            let (code, message) = finding.key();
            let key = (code.to_string(), message.to_string());
            let mut allowed = before.get(&key).copied().unwrap_or(0);
            if key == diagnosed_key {
                allowed = allowed.saturating_sub(1);
            }
            if now.get(&key).copied().unwrap_or(0) > allowed {
                return Err(format!(
                    "{name} reports a new problem: {}",
                    describe(finding)
                ));
            }
        }
        Ok(())
    }
}

fn describe(finding: &Finding) -> String {
    match &finding.code {
        Some(code) => format!("{code} {} (line {})", finding.message, finding.line + 1),
        None => format!("{} (line {})", finding.message, finding.line + 1),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Output in ruff's real JSON format (from `ruff check --output-format=json`).
    pub(crate) const RUFF_UNDEFINED_TOTL: &str = r#"[{"cell":null,"code":"F821","end_location":{"column":18,"row":2},"filename":"/w/double.py","fix":null,"location":{"column":14,"row":2},"message":"Undefined name `totl`","noqa_row":2,"url":"https://docs.astral.sh/ruff/rules/undefined-name"}]"#;

    /// Writes a fake `ruff` into `dir/.venv/bin` that reports F821 for `totl` on the line that has
    /// it, and an F841 for any line with `unused = `, reading the text from stdin like ruff does.
    pub(crate) fn fake_ruff(dir: &Path) -> PathBuf {
        let bin = dir.join(".venv").join("bin");
        std::fs::create_dir_all(&bin).expect("folders");
        let script = bin.join("ruff");
        let body = r#"#!/bin/sh
# A stand-in for ruff: the JSON shape of `ruff check --output-format=json`, two rules.
input=$(cat)
printf '%s\n' "$input" | {
  out=""
  row=0
  while IFS= read -r line; do
    row=$((row + 1))
    case "$line" in
      *totl*)
        prefix=${line%%totl*}
        col=$((${#prefix} + 1))
        item="{\"cell\":null,\"code\":\"F821\",\"end_location\":{\"column\":$((col + 4)),\"row\":$row},\"filename\":\"x.py\",\"fix\":null,\"location\":{\"column\":$col,\"row\":$row},\"message\":\"Undefined name \`totl\`\",\"noqa_row\":$row,\"url\":\"https://docs.astral.sh/ruff/rules/undefined-name\"}"
        if [ -n "$out" ]; then out="$out,$item"; else out="$item"; fi
        ;;
    esac
    case "$line" in
      *"unused = "*)
        item="{\"cell\":null,\"code\":\"F841\",\"end_location\":{\"column\":11,\"row\":$row},\"filename\":\"x.py\",\"fix\":null,\"location\":{\"column\":5,\"row\":$row},\"message\":\"Local variable \`unused\` is assigned to but never used\",\"noqa_row\":$row,\"url\":\"https://docs.astral.sh/ruff/rules/unused-variable\"}"
        if [ -n "$out" ]; then out="$out,$item"; else out="$item"; fi
        ;;
    esac
  done
  echo "[$out]"
  if [ -n "$out" ]; then exit 1; fi
  exit 0
}
"#;
        std::fs::write(&script, body).expect("write the fake ruff");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("make it executable");
        }
        script
    }

    const DOCUMENT: &str =
        "def double(total: int) -> int:\n    result = totl * 2\n    return result\n";

    #[test]
    fn ruff_output_is_read_into_byte_offsets() {
        let findings = parse_ruff(RUFF_UNDEFINED_TOTL, DOCUMENT).unwrap();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code.as_deref(), Some("F821"));
        assert_eq!(findings[0].line, 1);
        assert_eq!(&DOCUMENT[findings[0].start..findings[0].end], "totl");
        assert!(parse_ruff("not json", DOCUMENT).is_err());
    }

    #[test]
    fn pyright_output_is_read_into_byte_offsets() {
        let output = r#"{"version":"1.1.380","time":"1","generalDiagnostics":[{"file":"/t/double.py","severity":"error","message":"\"totl\" is not defined","range":{"start":{"line":1,"character":13},"end":{"line":1,"character":17}},"rule":"reportUndefinedVariable"}],"summary":{"filesAnalyzed":1,"errorCount":1,"warningCount":0,"informationCount":0,"timeInSec":0.1}}"#;
        let findings = parse_pyright(output, DOCUMENT).unwrap();
        assert_eq!(findings[0].code.as_deref(), Some("reportUndefinedVariable"));
        assert_eq!(&DOCUMENT[findings[0].start..findings[0].end], "totl");
    }

    #[test]
    fn a_missing_tool_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find(ExternalChecker::None, Some(dir.path())).is_err());
        let missing = find_in(
            ExternalChecker::Ruff,
            Some(dir.path()),
            Some(dir.path().as_os_str().to_owned()),
        )
        .unwrap_err();
        assert!(missing.contains("`ruff` is not on PATH"), "{missing}");
        // A file named ruff that cannot be executed does not count.
        std::fs::write(dir.path().join("ruff"), "not a program").unwrap();
        assert!(find_in(
            ExternalChecker::Ruff,
            None,
            Some(dir.path().as_os_str().to_owned())
        )
        .is_err());
        assert!(reported_by(ExternalChecker::Ruff, Some("Ruff")));
        assert!(!reported_by(ExternalChecker::Ruff, Some("pyright")));
        assert!(reported_by(ExternalChecker::Pyright, Some("basedpyright")));
    }

    #[test]
    fn the_fake_ruff_confirms_a_real_fix_and_catches_a_new_problem() {
        let dir = tempfile::tempdir().unwrap();
        fake_ruff(dir.path());
        let checker = find(ExternalChecker::Ruff, Some(dir.path())).expect("found in .venv/bin");
        let path = dir.path().join("double.py");
        let findings = checker
            .check(DOCUMENT, &path, Some(dir.path()))
            .expect("the fake runs");
        let diagnosed = matching(&findings, Some("F821"), "Undefined name `totl`", 1)
            .expect("the diagnostic is among the findings")
            .clone();
        assert_eq!(&DOCUMENT[diagnosed.start..diagnosed.end], "totl");
        let baseline = Baseline {
            checker,
            path,
            workspace: Some(dir.path().to_path_buf()),
            findings,
            diagnosed,
        };
        let region = |after: &str, code: &str| {
            let start = after.find(code).unwrap();
            (start, start + code.len())
        };
        let fixed = DOCUMENT.replace("totl", "total");
        assert_eq!(
            baseline.judge(&fixed, region(&fixed, "    result = total * 2\n")),
            Ok(())
        );
        let unfixed = DOCUMENT.replace("totl * 2", "totl * 3");
        let still = baseline
            .judge(&unfixed, region(&unfixed, "    result = totl * 3\n"))
            .unwrap_err();
        assert!(
            still.contains("still reports") && still.contains("F821"),
            "{still}"
        );
        let noisy = DOCUMENT.replace("result = totl * 2", "unused = 1\n    result = total * 2");
        let new = baseline
            .judge(
                &noisy,
                region(&noisy, "    unused = 1\n    result = total * 2\n"),
            )
            .unwrap_err();
        assert!(new.contains("new problem") && new.contains("F841"), "{new}");
    }

    #[test]
    fn a_fake_pyright_checks_a_copy_of_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join(".venv").join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        // Prints pyright's `--outputjson` shape for the file it is given (its last argument).
        let body = r#"#!/bin/sh
for last; do :; done
if grep -q totl "$last"; then
  echo '{"version":"1.1.380","time":"1","generalDiagnostics":[{"file":"'"$last"'","severity":"error","message":"\"totl\" is not defined","range":{"start":{"line":1,"character":13},"end":{"line":1,"character":17}},"rule":"reportUndefinedVariable"}],"summary":{"filesAnalyzed":1,"errorCount":1,"warningCount":0,"informationCount":0,"timeInSec":0.1}}'
  exit 1
fi
echo '{"version":"1.1.380","time":"1","generalDiagnostics":[],"summary":{"filesAnalyzed":1,"errorCount":0,"warningCount":0,"informationCount":0,"timeInSec":0.1}}'
"#;
        std::fs::write(bin.join("pyright"), body).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(bin.join("pyright"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        let checker = find(ExternalChecker::Pyright, Some(dir.path())).expect("found");
        let path = dir.path().join("double.py");
        let findings = checker.check(DOCUMENT, &path, Some(dir.path())).unwrap();
        let diagnosed = matching(
            &findings,
            Some("reportUndefinedVariable"),
            "\"totl\" is not defined",
            1,
        )
        .expect("pyright's finding")
        .clone();
        assert_eq!(&DOCUMENT[diagnosed.start..diagnosed.end], "totl");
        let baseline = Baseline {
            checker,
            path: path.clone(),
            workspace: Some(dir.path().to_path_buf()),
            findings,
            diagnosed,
        };
        let fixed = DOCUMENT.replace("totl", "total");
        assert_eq!(baseline.judge(&fixed, (31, 54)), Ok(()));
        assert!(baseline.judge(DOCUMENT, (31, 53)).is_err());
        assert!(!path.exists(), "the document itself is never written");
    }

    #[test]
    fn the_real_ruff_when_installed() {
        let Ok(checker) = find(ExternalChecker::Ruff, None) else {
            eprintln!("skipped: ruff is not on PATH");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("double.py");
        let findings = checker
            .check(DOCUMENT, &path, Some(dir.path()))
            .expect("ruff runs");
        let diagnosed = matching(&findings, Some("F821"), "Undefined name `totl`", 1)
            .expect("ruff reports the undefined name")
            .clone();
        assert_eq!(&DOCUMENT[diagnosed.start..diagnosed.end], "totl");
        let baseline = Baseline {
            checker,
            path,
            workspace: Some(dir.path().to_path_buf()),
            findings,
            diagnosed,
        };
        let fixed = DOCUMENT.replace("totl", "total");
        let start = fixed.find("    result").unwrap();
        assert_eq!(baseline.judge(&fixed, (start, start + 23)), Ok(()));
    }

    #[test]
    fn the_real_pyright_when_installed() {
        let Ok(checker) = find(ExternalChecker::Pyright, None) else {
            eprintln!("skipped: pyright is not on PATH");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("double.py");
        let findings = checker
            .check(DOCUMENT, &path, Some(dir.path()))
            .expect("pyright runs");
        let diagnosed = matching(
            &findings,
            Some("reportUndefinedVariable"),
            "\"totl\" is not defined",
            1,
        )
        .expect("pyright reports the undefined name")
        .clone();
        assert_eq!(&DOCUMENT[diagnosed.start..diagnosed.end], "totl");
        let baseline = Baseline {
            checker,
            path,
            workspace: Some(dir.path().to_path_buf()),
            findings,
            diagnosed,
        };
        let fixed = DOCUMENT.replace("totl", "total");
        let start = fixed.find("    result").unwrap();
        assert_eq!(baseline.judge(&fixed, (start, start + 23)), Ok(()));
        assert!(baseline.judge(DOCUMENT, (31, 53)).is_err());
    }
}
