//! "Fix with spackle": the smallest enclosing statement of a diagnostic is sent to the model with
//! the diagnostic and the typed-hole context of that spot, and the answer replaces it only if
//! spackle's checks saw the problem before and no longer see it, and see no new one.

use tree_sitter::{Node, Tree};

use super::{
    answer_code, common_indentation, dedent, external, line_end, line_start, reindent, Diagnostic,
    Edit, Offer, Plan,
};
use crate::check::TypedFile;
use crate::check::{check_spliced_candidate, Before, Problem};
use crate::engine::Engine;
use crate::index::Index;
use crate::llm::{ChatMessage, Role};
use crate::store::Snapshot;

/// Statements longer than this many lines are not rewritten; the diagnostic's own lines are.
const MAX_STATEMENT_LINES: usize = 40;

const SYSTEM: &str = "You fix one error in Python code. Change as little as possible and keep the indentation. \
Answer with the corrected replacement for the code with the error only, in one ```python block, and nothing else.";

/// The whole lines of the smallest statement that contains `start..end`.
pub fn enclosing_statement(text: &str, tree: &Tree, start: usize, end: usize) -> (usize, usize) {
    let path = crate::check::path_to(tree.root_node(), start, end);
    let statement = path.iter().rev().find(|node| is_statement(node)).copied();
    let (first, last) = match statement {
        Some(node) => (node.start_byte(), node.end_byte()),
        None => (start, end),
    };
    let (first, last) = (line_start(text, first), line_end(text, last.max(first)));
    if text[first..last].lines().count() > MAX_STATEMENT_LINES {
        return (line_start(text, start), line_end(text, end));
    }
    (first, last)
}

fn is_statement(node: &Node) -> bool {
    let kind = node.kind();
    kind.ends_with("_statement") || kind == "decorated_definition"
}

/// The enclosing function's text, for context; `None` at module level.
fn enclosing_function<'a>(text: &'a str, tree: &Tree, offset: usize) -> Option<&'a str> {
    let path = crate::check::path_to(tree.root_node(), offset, offset);
    let function = path
        .iter()
        .rev()
        .find(|node| node.kind() == "function_definition")?;
    let start = line_start(text, function.start_byte());
    text.get(start..function.end_byte())
}

pub(crate) fn plan<'a>(
    engine: &Engine,
    snapshot: &Snapshot,
    text: &str,
    tree: &Tree,
    index: Option<&'a Index>,
    diagnostic: &Diagnostic,
) -> Result<Plan<'a>, String> {
    let start = crate::check::floor_char_boundary(text, diagnostic.start.min(diagnostic.end));
    let end = crate::check::floor_char_boundary(text, diagnostic.start.max(diagnostic.end));
    let (first, last) = enclosing_statement(text, tree, start, end);
    let segment = &text[first..last];
    let typed = crate::index::typed_file(index, snapshot.path.as_deref());
    let before = checked_before(text, first, last).ok_or("the document could not be parsed")?;
    let old_problems = check_spliced_candidate(&before, first, segment, typed.as_ref());
    let seen: Vec<Problem> = old_problems
        .iter()
        .filter(|problem| matches_diagnostic(problem, diagnostic, text))
        .cloned()
        .collect();
    let external = external_baseline(engine, snapshot, text, index, diagnostic);
    if seen.is_empty() && external.is_none() {
        let by = diagnostic
            .source
            .as_deref()
            .map(|source| format!(" (reported by {source})"))
            .unwrap_or_default();
        return Err(format!(
            "spackle's checks do not see this problem{by}, so they could not confirm that a fix removes it"
        ));
    }
    let mut user = String::new();
    if let Ok(prepared) = engine.prepare(snapshot, start, index) {
        if let Some(context) = prepared.context {
            let repository = context.repository_text();
            if !repository.trim().is_empty() {
                user.push_str(&format!(
                    "Definitions this code can use (stubs):\n```python\n{}\n```\n\n",
                    repository.trim_end()
                ));
            }
        }
    }
    let named = named_definitions(text, tree, index, &diagnostic.message);
    if !named.is_empty() {
        user.push_str(&format!(
            "Definitions the error names:\n```python\n{named}```\n\n"
        ));
    }
    if let Some(function) = enclosing_function(text, tree, start) {
        if function.len() > segment.len() && function.lines().count() <= 80 {
            user.push_str(&format!(
                "The function around it:\n```python\n{}\n```\n\n",
                dedent(function).trim_end()
            ));
        }
    }
    let line = text[..start].matches('\n').count() + 1;
    let source = diagnostic.source.as_deref().unwrap_or("a checker");
    user.push_str(&format!(
        "The code with the error:\n```python\n{}```\n\nThe error, reported by {source} on line {line}: {}\n\nAnswer with the corrected code that replaces it.",
        dedent(segment),
        diagnostic.message
    ));
    let messages = vec![
        ChatMessage {
            role: Role::System,
            content: SYSTEM.into(),
        },
        ChatMessage {
            role: Role::User,
            content: user,
        },
    ];
    let indent = common_indentation(segment);
    let segment = segment.to_string();
    let document = text.to_string();
    let verify = move |answer: &str| {
        let mut offer = verify(
            &before,
            first,
            &segment,
            &indent,
            typed.as_ref(),
            &old_problems,
            &seen,
            answer,
        )?;
        if let Some(baseline) = &external {
            let mut after = document.clone();
            after.replace_range(offer.edit.start..offer.edit.end, &offer.edit.text);
            baseline.judge(&after, (first, first + offer.edit.text.len()))?;
            offer.checks.push("external-checker");
        }
        Ok(offer)
    };
    Ok(Plan {
        messages,
        verify: Box::new(verify),
    })
}

/// The configured external checker's view of the document, when the diagnostic is that tool's
/// and the tool is installed and reports it; `None` falls back to spackle's own checks (the log
/// says why, once).
fn external_baseline(
    engine: &Engine,
    snapshot: &Snapshot,
    text: &str,
    index: Option<&Index>,
    diagnostic: &Diagnostic,
) -> Option<external::Baseline> {
    let kind = engine.config.actions.external_checker;
    if !external::reported_by(kind, diagnostic.source.as_deref()) {
        return None;
    }
    let workspace = index
        .map(|index| index.root().to_path_buf())
        .or_else(|| snapshot.path.as_deref()?.parent().map(Into::into));
    let path = snapshot
        .path
        .clone()
        .or_else(|| workspace.as_ref().map(|root| root.join("untitled.py")))?;
    let checker = match external::find(kind, workspace.as_deref()) {
        Ok(checker) => checker,
        Err(reason) => {
            external::log_once(kind, &reason);
            return None;
        }
    };
    let findings = match checker.check(text, &path, workspace.as_deref()) {
        Ok(findings) => findings,
        Err(reason) => {
            external::log_once(kind, &reason);
            return None;
        }
    };
    let line = text[..diagnostic.start.min(text.len())]
        .matches('\n')
        .count();
    let Some(diagnosed) = external::matching(
        &findings,
        diagnostic.code.as_deref(),
        &diagnostic.message,
        line,
    )
    .cloned() else {
        tracing::info!(message = %diagnostic.message, "the external checker does not report this diagnostic on the current text; spackle's checks decide");
        return None;
    };
    Some(external::Baseline {
        checker,
        path,
        workspace,
        findings,
        diagnosed,
    })
}

/// How many bytes of definitions named by the diagnostic go into the prompt.
const NAMED_BUDGET: usize = 1500;

/// Names a diagnostic quotes: `name`, "name" or 'name'.
fn quoted_names(message: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for quote in ['`', '"', '\'', '\u{201c}'] {
        let closing = if quote == '\u{201c}' {
            '\u{201d}'
        } else {
            quote
        };
        let mut rest = message;
        while let Some(open) = rest.find(quote) {
            let after = &rest[open + quote.len_utf8()..];
            let Some(close) = after.find(closing) else {
                break;
            };
            let name = after[..close].rsplit('.').next().unwrap_or("").trim();
            if !name.is_empty()
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
            rest = &after[close + closing.len_utf8()..];
        }
    }
    names
}

/// The headers of the definitions a diagnostic names, from the document or the index.
fn named_definitions(text: &str, tree: &Tree, index: Option<&Index>, message: &str) -> String {
    let mut out = String::new();
    for name in quoted_names(message) {
        let entry = match super::docstring::find_definition(tree.root_node(), text, &name) {
            Some(node) => {
                let header_end = node
                    .child_by_field_name("body")
                    .map_or(node.end_byte(), |body| body.start_byte());
                Some(format!(
                    "{}\n    ...\n",
                    text[line_start(text, node.start_byte())..header_end].trim()
                ))
            }
            None => index.and_then(|index| super::docstring::indexed_documentation(index, &name)),
        };
        if let Some(entry) = entry.filter(|entry| out.len() + entry.len() <= NAMED_BUDGET) {
            out.push_str(&entry);
        }
    }
    out
}

/// Whether a problem spackle found is the one the diagnostic reports: it overlaps the diagnostic's
/// range, or sits on its line and the diagnostic's message names it.
fn matches_diagnostic(problem: &Problem, diagnostic: &Diagnostic, text: &str) -> bool {
    let (start, end) = (
        diagnostic.start.min(diagnostic.end),
        diagnostic.start.max(diagnostic.end),
    );
    let overlaps = problem.start < end.max(start + 1) && problem.end.max(problem.start + 1) > start;
    let line = text[..start.min(text.len())].matches('\n').count() as u32;
    overlaps
        || (problem.line == line
            && !problem.name.is_empty()
            && diagnostic.message.contains(problem.name.as_str()))
}

/// The document with the lines `first..last` removed, parsed, ready to check replacements.
fn checked_before(text: &str, first: usize, last: usize) -> Option<Before> {
    let mut without = String::with_capacity(text.len());
    without.push_str(&text[..first]);
    without.push_str(&text[last..]);
    Before::new(&without)
}

/// The identity of a problem across two versions of the code: its kind and the name it is about.
fn key(problem: &Problem) -> (crate::check::ProblemKind, &str) {
    (problem.kind, problem.name.as_str())
}

/// Checks a replacement for `segment`: the diagnostic's problems must be gone and no new one
/// may appear.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    before: &Before,
    first: usize,
    segment: &str,
    indent: &str,
    typed: Option<&TypedFile>,
    old_problems: &[Problem],
    diagnosed: &[Problem],
    answer: &str,
) -> Result<Offer, String> {
    let code = answer_code(answer);
    if code.trim().is_empty() {
        return Err("the answer holds no code".into());
    }
    let mut code = reindent(&code, &common_indentation(&code), indent);
    if segment.ends_with('\n') && !code.ends_with('\n') {
        code.push('\n');
    }
    if code == segment {
        return Err("the answer returns the code unchanged".into());
    }
    let new_problems = check_spliced_candidate(before, first, &code, typed);
    if let Some(still) = new_problems
        .iter()
        .find(|problem| diagnosed.iter().any(|old| key(old) == key(problem)))
    {
        return Err(format!(
            "the answer does not fix the problem: {}",
            still.message
        ));
    }
    if let Some(added) = new_problems
        .iter()
        .find(|problem| !old_problems.iter().any(|old| key(old) == key(problem)))
    {
        return Err(format!(
            "the answer introduces a new problem: {}",
            added.message
        ));
    }
    Ok(Offer {
        edit: Edit {
            start: first,
            end: first + segment.len(),
            text: code,
        },
        rounds: 1,
        checks: vec![
            "diagnostic-gone",
            "no-new-problems",
            "syntax",
            "names",
            "members",
            "calls",
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str =
        "def double(total: int) -> int:\n    result = totl * 2\n    return result\n";

    fn setup(document: &str, needle: &str) -> (Before, usize, String, Vec<Problem>, Vec<Problem>) {
        let tree = crate::store::parse_python(document, None).unwrap();
        let at = document.find(needle).unwrap();
        let diagnostic = Diagnostic {
            start: at,
            end: at + needle.len(),
            message: format!("\"{needle}\" is not defined"),
            source: Some("pyright".into()),
            code: None,
        };
        let (first, last) = enclosing_statement(document, &tree, diagnostic.start, diagnostic.end);
        let before = checked_before(document, first, last).unwrap();
        let segment = document[first..last].to_string();
        let old = check_spliced_candidate(&before, first, &segment, None);
        let seen: Vec<Problem> = old
            .iter()
            .filter(|p| matches_diagnostic(p, &diagnostic, document))
            .cloned()
            .collect();
        (before, first, segment, old, seen)
    }

    #[test]
    fn names_quoted_by_diagnostics_are_found() {
        assert_eq!(quoted_names("\"totl\" is not defined"), ["totl"]);
        assert_eq!(
            quoted_names("Cannot access attribute `pricee` for class `shop.Cart`"),
            ["pricee", "Cart"]
        );
        let source = "class Cart:\n    def total(self) -> float:\n        return 0.0\n";
        let tree = crate::store::parse_python(source, None).unwrap();
        assert_eq!(
            named_definitions(source, &tree, None, "`Cart` has no member `totl`"),
            "class Cart:\n    ...\n"
        );
    }

    #[test]
    fn the_statement_around_a_diagnostic_is_rewritten() {
        let (before, first, segment, old, seen) = setup(DOCUMENT, "totl");
        assert_eq!(segment, "    result = totl * 2\n");
        assert_eq!(seen.len(), 1, "{old:?}");
        let offer = verify(
            &before,
            first,
            &segment,
            "    ",
            None,
            &old,
            &seen,
            "```python\nresult = total * 2\n```",
        )
        .unwrap();
        assert_eq!(offer.edit.text, "    result = total * 2\n");
        assert_eq!(&DOCUMENT[offer.edit.start..offer.edit.end], segment);
    }

    #[test]
    fn a_fix_that_does_not_fix_or_breaks_something_else_is_refused() {
        let (before, first, segment, old, seen) = setup(DOCUMENT, "totl");
        let same = verify(
            &before,
            first,
            &segment,
            "    ",
            None,
            &old,
            &seen,
            "result = totl * 3",
        )
        .unwrap_err();
        assert!(
            same.contains("does not fix") && same.contains("totl"),
            "{same}"
        );
        let other = verify(
            &before,
            first,
            &segment,
            "    ",
            None,
            &old,
            &seen,
            "result = totall * 2",
        )
        .unwrap_err();
        assert!(
            other.contains("does not fix") || other.contains("new problem"),
            "{other}"
        );
        let broken = verify(
            &before,
            first,
            &segment,
            "    ",
            None,
            &old,
            &seen,
            "result = (total * 2",
        )
        .unwrap_err();
        assert!(broken.contains("new problem"), "{broken}");
    }

    #[test]
    fn the_only_statement_of_a_body_can_be_fixed() {
        let document = "def f(total):\n    return totl\n\n\nprint(f(1))\n";
        let (before, first, segment, old, seen) = setup(document, "totl");
        assert_eq!(segment, "    return totl\n");
        assert_eq!(seen.len(), 1, "{old:?}");
        let offer = verify(
            &before,
            first,
            &segment,
            "    ",
            None,
            &old,
            &seen,
            "return total",
        )
        .unwrap();
        assert_eq!(offer.edit.text, "    return total\n");
    }
}
