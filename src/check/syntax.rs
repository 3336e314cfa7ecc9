//! Syntax: the tree-sitter ERROR and MISSING nodes a candidate adds to the document.

use tree_sitter::Tree;

use super::{Problem, ProblemKind, Spliced};
use crate::store::walk_preorder;

/// One ERROR node (outermost only) or MISSING node of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorNode {
    /// `None` for an ERROR node; the kind of the missing token for a MISSING node.
    pub missing: Option<String>,
    pub start: usize,
    pub end: usize,
}

/// Every outermost ERROR node and every MISSING node outside them, in document order.
pub fn error_nodes(tree: &Tree) -> Vec<ErrorNode> {
    let mut found = Vec::new();
    let root = tree.root_node();
    if !root.has_error() {
        return found;
    }
    walk_preorder(root, |node| {
        let missing = if node.is_error() {
            None
        } else if node.is_missing() {
            Some(node.kind().to_string())
        } else {
            return node.has_error();
        };
        found.push(ErrorNode {
            missing,
            start: node.start_byte(),
            end: node.end_byte(),
        });
        false
    });
    found
}

/// The syntax errors of the spliced document that the document before did not have.
///
/// An error of the document before counts as the same error when it has the same kind and the same
/// span once shifted past the candidate. When the document before had errors, an unmatched error is
/// blamed on the candidate only if it touches the candidate or the number of errors grew: errors
/// far from the cursor in an already broken file often move a little when anything changes.
pub fn introduced_errors(spliced: &Spliced) -> Vec<Problem> {
    let new_errors = error_nodes(&spliced.tree);
    if new_errors.is_empty() {
        return Vec::new();
    }
    let old_errors: Vec<ErrorNode> = spliced
        .before
        .syntax_errors
        .iter()
        .map(|error| {
            let start = spliced.map_old_offset(error.start);
            // An error that ended at the cursor ends there still (the candidate comes after it).
            let end = if error.end <= spliced.offset {
                error.end
            } else {
                spliced.map_old_offset(error.end)
            };
            ErrorNode {
                missing: error.missing.clone(),
                start,
                end,
            }
        })
        .collect();
    let unmatched: Vec<&ErrorNode> = new_errors
        .iter()
        .filter(|error| !old_errors.contains(error))
        .collect();
    let grew = new_errors.len() > old_errors.len();
    unmatched
        .into_iter()
        .filter(|error| {
            old_errors.is_empty() || grew || spliced.touches_candidate(error.start, error.end)
        })
        .map(|error| describe(spliced, error))
        .collect()
}

/// `# type: ignore[code` comments without their closing bracket, inside the candidate: type
/// checkers (mypy) reject them as syntax errors.
pub fn malformed_type_comments(spliced: &Spliced) -> Vec<Problem> {
    let mut problems = Vec::new();
    let candidate = &spliced.text[spliced.start..spliced.end];
    if !candidate.contains("type:") {
        return problems;
    }
    let mut stack = vec![spliced.tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.end_byte() < spliced.start || node.start_byte() > spliced.end {
            continue;
        }
        if node.kind() == "comment"
            && node.start_byte() >= spliced.start
            && node.end_byte() <= spliced.end
        {
            let text = &spliced.text[node.start_byte()..node.end_byte()];
            let body = text.trim_start_matches('#').trim_start();
            if let Some(rest) = body
                .strip_prefix("type:")
                .map(str::trim_start)
                .and_then(|rest| rest.strip_prefix("ignore["))
            {
                if !rest.contains(']') {
                    let line = spliced.line_of(node.start_byte());
                    let message = format!(
                        "{}: malformed `type: ignore` comment: `[` is never closed",
                        line + 1
                    );
                    problems.push(spliced.problem(
                        ProblemKind::Syntax,
                        message,
                        text.to_string(),
                        node.start_byte(),
                        node.end_byte(),
                    ));
                }
            }
            continue;
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    problems
}

fn describe(spliced: &Spliced, error: &ErrorNode) -> Problem {
    let line = spliced.line_of(error.start);
    let column = error.start - spliced.text[..error.start].rfind('\n').map_or(0, |i| i + 1);
    let (message, name) = match &error.missing {
        Some(kind) => (
            format!(
                "{}:{}: syntax error: missing `{kind}`",
                line + 1,
                column + 1
            ),
            kind.clone(),
        ),
        None => {
            let text = snippet(&spliced.text, error.start, error.end);
            (
                format!(
                    "{}:{}: syntax error: invalid syntax near `{text}`",
                    line + 1,
                    column + 1
                ),
                text,
            )
        }
    };
    spliced.problem(ProblemKind::Syntax, message, name, error.start, error.end)
}

/// The first line of a node's text, shortened for a message.
fn snippet(text: &str, start: usize, end: usize) -> String {
    let end = end.min(text.len());
    let start = start.min(end);
    let piece = text.get(start..end).unwrap_or("");
    let first_line = piece
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut shortened: String = first_line.chars().take(40).collect();
    if shortened.len() < first_line.len() {
        shortened.push('…');
    }
    shortened
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{splice, test_support::cursor, Before};

    fn introduced(fixture: &str, candidate: &str) -> Vec<String> {
        let (document, offset) = cursor(fixture);
        let before = Before::new(&document).unwrap();
        let spliced = splice(&before, offset, candidate).unwrap();
        introduced_errors(&spliced)
            .into_iter()
            .map(|problem| problem.message)
            .collect()
    }

    #[test]
    fn a_clean_body_fills_the_hole_without_errors() {
        let fixture = "def f(x):\n    <CURSOR>\n\ndef g():\n    return 2\n";
        assert!(introduced(fixture, "return x + 1").is_empty());
    }

    #[test]
    fn an_unclosed_bracket_is_reported() {
        let fixture = "def f(x):\n    <CURSOR>\n\ndef g():\n    return 2\n";
        let problems = introduced(fixture, "return print(x\n    y = 2");
        assert!(!problems.is_empty());
        assert!(problems[0].contains("syntax error"), "{problems:?}");
    }

    #[test]
    fn errors_that_were_there_before_are_not_blamed_on_the_candidate() {
        let fixture = "def f(x):\n    <CURSOR>\n\ndef g(:\n    return 2\n";
        assert!(introduced(fixture, "return x").is_empty());
    }

    #[test]
    fn an_unclosed_type_ignore_comment_is_reported() {
        let fixture = "def f(x):\n    <CURSOR>\n";
        let (document, offset) = cursor(fixture);
        let before = Before::new(&document).unwrap();
        let spliced = splice(&before, offset, "return x  # type: ignore[no-any-return").unwrap();
        assert_eq!(malformed_type_comments(&spliced).len(), 1);
        let spliced = splice(&before, offset, "return x  # type: ignore[no-any-return]").unwrap();
        assert!(malformed_type_comments(&spliced).is_empty());
        let spliced = splice(&before, offset, "return x  # type: ignore").unwrap();
        assert!(malformed_type_comments(&spliced).is_empty());
    }

    #[test]
    fn a_new_error_in_an_already_broken_file_is_reported() {
        let fixture = "def f(x):\n    <CURSOR>\n\ndef g(:\n    return 2\n";
        assert!(!introduced(fixture, "return [x,").is_empty());
    }
}
