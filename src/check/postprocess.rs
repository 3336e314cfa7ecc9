//! Post-processing of every raw model answer: cut it at the end of the block it started, drop what
//! repeats the text after the cursor, drop empty and degenerate answers, and reject an answer that
//! adds a syntax error to the document.
//!
//! The candidate's text is kept exactly, apart from those cuts.

use std::fmt;

use tree_sitter::Node;

use super::{floor_char_boundary, path_to, splice, syntax, Before};

/// Limits for [`postprocess`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostprocessOptions {
    /// Lines beyond this many are cut (the rest must still parse).
    pub max_lines: usize,
}

impl Default for PostprocessOptions {
    fn default() -> Self {
        PostprocessOptions { max_lines: 64 }
    }
}

/// Why a raw answer was dropped (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Nothing but whitespace (possibly after the cuts).
    Empty,
    /// The answer only repeated the text that already follows the cursor.
    RepeatsSuffix,
    /// The same line (or group of lines) repeated over and over.
    Degenerate { line: String },
    /// The answer adds a syntax error to the document.
    Syntax { message: String },
    /// The document could not be parsed at all.
    Unparsable,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Empty => write!(f, "the answer is empty"),
            Rejection::RepeatsSuffix => {
                write!(f, "the answer only repeats the text after the cursor")
            }
            Rejection::Degenerate { line } => {
                write!(f, "the answer repeats the line `{line}` over and over")
            }
            Rejection::Syntax { message } => write!(f, "the answer adds a syntax error: {message}"),
            Rejection::Unparsable => write!(f, "the document could not be parsed"),
        }
    }
}

impl std::error::Error for Rejection {}

/// Cleans one raw answer for the cursor at byte `offset` of `document`.
pub fn postprocess(
    document: &str,
    offset: usize,
    raw: &str,
    options: &PostprocessOptions,
) -> Result<String, Rejection> {
    let before = Before::new(document).ok_or(Rejection::Unparsable)?;
    postprocess_in(&before, offset, raw, options)
}

/// [`postprocess`] against a document parsed once beforehand.
pub fn postprocess_in(
    before: &Before,
    offset: usize,
    raw: &str,
    options: &PostprocessOptions,
) -> Result<String, Rejection> {
    let offset = floor_char_boundary(&before.text, offset);
    if raw.trim().is_empty() {
        return Err(Rejection::Empty);
    }
    let suffix = &before.text[offset..];
    let mut candidate = cut_repeated_suffix(raw, suffix);
    if candidate.trim().is_empty() {
        return Err(Rejection::RepeatsSuffix);
    }
    if let Some(cut) = block_end_cut(before, offset, candidate) {
        candidate = &candidate[..cut];
    }
    let limited = limit_lines(candidate, options.max_lines);
    if limited.trim().is_empty() {
        return Err(Rejection::Empty);
    }
    if let Some(line) = degenerate_line(limited) {
        return Err(Rejection::Degenerate { line });
    }
    let first_error = match syntax_error(before, offset, limited) {
        None => return Ok(limited.to_string()),
        Some(message) => message,
    };
    // A one-line answer that also re-typed the rest of the cursor's line (`x)` before `)`) is
    // right once that repetition is dropped.
    if let Some(shorter) = without_rest_of_line(limited, suffix) {
        if !shorter.trim().is_empty() && syntax_error(before, offset, shorter).is_none() {
            return Ok(shorter.to_string());
        }
    }
    Err(Rejection::Syntax {
        message: first_error,
    })
}

/// The first syntax error the candidate adds, as a message.
fn syntax_error(before: &Before, offset: usize, candidate: &str) -> Option<String> {
    let spliced = splice(before, offset, candidate)?;
    syntax::introduced_errors(&spliced)
        .into_iter()
        .next()
        .map(|problem| problem.message)
}

/// The candidate without its last line's ending when that ending repeats the rest of the cursor's
/// line.
fn without_rest_of_line<'a>(candidate: &'a str, suffix: &str) -> Option<&'a str> {
    let rest = suffix.split('\n').next().unwrap_or("").trim();
    if rest.is_empty() {
        return None;
    }
    let trimmed = candidate.trim_end();
    trimmed.strip_suffix(rest)
}

/// Drops the candidate's tail when it re-emits the lines that already follow the cursor.
///
/// From some line on, the candidate's non-blank lines equal the suffix's next non-blank lines
/// (ignoring trailing whitespace), either to the candidate's end or for at least three lines.
fn cut_repeated_suffix<'a>(raw: &'a str, suffix: &str) -> &'a str {
    let suffix_lines: Vec<&str> = suffix
        .split('\n')
        .skip(1)
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .take(64)
        .collect();
    if suffix_lines.is_empty() {
        return raw;
    }
    let mut line_starts = Vec::new();
    let mut position = 0;
    for line in raw.split('\n') {
        line_starts.push((position, line));
        position += line.len() + 1;
    }
    for (index, &(line_start, line)) in line_starts.iter().enumerate().skip(1) {
        if line.trim().is_empty() || line.trim_end() != suffix_lines[0] {
            continue;
        }
        let remaining: Vec<&str> = line_starts[index..]
            .iter()
            .map(|(_, line)| line.trim_end())
            .filter(|line| !line.trim().is_empty())
            .collect();
        let matched = remaining
            .iter()
            .zip(&suffix_lines)
            .take_while(|(a, b)| a == b)
            .count();
        if matched == remaining.len() || matched >= 3 {
            // Cut before the line break that precedes the repetition.
            return raw[..line_start - 1].trim_end_matches([' ', '\t', '\r', '\n']);
        }
    }
    raw
}

/// Where the candidate leaves the block it started, as a byte length of the candidate to keep.
///
/// From the parse tree of the spliced document: the statement that the candidate's first
/// non-blank character belongs to, and the block around it. A new `def` or `class` (and any
/// compound statement started at module level) ends the candidate where it ends; otherwise the
/// candidate ends where its text dedents out of the block the cursor is in.
fn block_end_cut(before: &Before, offset: usize, candidate: &str) -> Option<usize> {
    let first_text = candidate.find(|c: char| !c.is_whitespace())?;
    let spliced = splice(before, offset, candidate)?;
    let root = spliced.tree.root_node();
    let first_byte = spliced.start + first_text;
    let path = path_to(root, first_byte, first_byte + 1);
    // The statement is the deepest node on the path whose parent is a block or the module.
    let index = (1..path.len())
        .rev()
        .find(|&index| matches!(path[index - 1].kind(), "block" | "module"))?;
    let statement = path[index];
    let container = path[index - 1];
    if path[..=index].iter().any(|node| node.is_error()) {
        return None;
    }
    let starts_here = statement.start_byte() >= spliced.start;
    let limit = if starts_here
        && (is_definition(statement) || (container.kind() == "module" && is_compound(statement)))
    {
        statement.end_byte()
    } else if container.kind() == "block" {
        container.end_byte()
    } else {
        return None;
    };
    // The first candidate line (after the first) whose text starts at or past the limit.
    let mut line_start = spliced.start + candidate.find('\n')? + 1;
    while line_start < spliced.end {
        let line_end = spliced.text[line_start..spliced.end]
            .find('\n')
            .map_or(spliced.end, |i| line_start + i);
        let line = &spliced.text[line_start..line_end];
        let indent = line.len() - line.trim_start().len();
        if !line.trim().is_empty() && line_start + indent >= limit {
            let keep = &candidate[..line_start - spliced.start];
            return Some(keep.trim_end_matches([' ', '\t', '\r', '\n']).len());
        }
        line_start = line_end + 1;
    }
    None
}

fn is_definition(node: Node) -> bool {
    matches!(
        node.kind(),
        "function_definition" | "class_definition" | "decorated_definition"
    )
}

fn is_compound(node: Node) -> bool {
    matches!(
        node.kind(),
        "if_statement"
            | "for_statement"
            | "while_statement"
            | "try_statement"
            | "with_statement"
            | "match_statement"
            | "function_definition"
            | "class_definition"
            | "decorated_definition"
    )
}

/// The candidate's first `max_lines` lines.
fn limit_lines(candidate: &str, max_lines: usize) -> &str {
    let max_lines = max_lines.max(1);
    match candidate.match_indices('\n').nth(max_lines - 1) {
        Some((index, _)) => candidate[..index].trim_end_matches([' ', '\t', '\r', '\n']),
        None => candidate,
    }
}

/// A line (or group of up to four lines) that repeats three times in a row, when it is more than
/// brackets and punctuation.
fn degenerate_line(candidate: &str) -> Option<String> {
    let lines: Vec<&str> = candidate
        .lines()
        .map(str::trim)
        .filter(|line| !line.trim().is_empty())
        .collect();
    for period in 1..=4 {
        if lines.len() < period * 3 {
            break;
        }
        for start in 0..=lines.len() - period * 3 {
            let group = &lines[start..start + period];
            let repeated = group == &lines[start + period..start + 2 * period]
                && group == &lines[start + 2 * period..start + 3 * period];
            let meaningful = group
                .iter()
                .any(|line| line.chars().any(|c| c.is_alphanumeric()));
            if repeated && meaningful {
                return Some(group.join("\n").trim().to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::test_support::cursor;

    fn run(fixture: &str, raw: &str) -> Result<String, Rejection> {
        let (document, offset) = cursor(fixture);
        postprocess(&document, offset, raw, &PostprocessOptions::default())
    }

    const BODY_HOLE: &str =
        "class A:\n    def f(self, x):\n        <CURSOR>\n\n    def g(self):\n        return 2\n";

    #[test]
    fn a_body_is_cut_where_it_dedents_out_of_the_function() {
        let raw = "y = x + 1\n        if y:\n            return y\n        return 0\n\n    def h(self):\n        pass\n";
        assert_eq!(
            run(BODY_HOLE, raw).unwrap(),
            "y = x + 1\n        if y:\n            return y\n        return 0"
        );
    }

    #[test]
    fn continuation_lines_that_dedent_stay_in_the_block() {
        let raw = "return (\nx\n)";
        // The bracket keeps the lines inside the return statement, so nothing is cut.
        assert_eq!(run(BODY_HOLE, raw).unwrap(), raw);
    }

    #[test]
    fn a_new_definition_ends_the_candidate() {
        let fixture = "import os\n\n<CURSOR>\n";
        let raw = "def main():\n    print(os.getcwd())\n\n\ndef other():\n    pass\n";
        assert_eq!(
            run(fixture, raw).unwrap(),
            "def main():\n    print(os.getcwd())"
        );
    }

    #[test]
    fn a_compound_statement_in_a_body_does_not_end_the_candidate() {
        let raw = "for i in range(x):\n            print(i)\n        return x";
        assert_eq!(run(BODY_HOLE, raw).unwrap(), raw);
    }

    #[test]
    fn lines_that_repeat_the_suffix_are_dropped() {
        let fixture = "def f(x):\n    y = 1\n    <CURSOR>\n    return y\n";
        assert_eq!(run(fixture, "y += x\n    return y\n").unwrap(), "y += x");
        assert_eq!(run(fixture, "y += x\n    return y").unwrap(), "y += x");
    }

    #[test]
    fn a_candidate_that_only_repeats_the_suffix_is_rejected() {
        let fixture = "def f(x):\n    y = 1\n    <CURSOR>\n    return y\n";
        assert_eq!(
            run(fixture, "\n    return y\n"),
            Err(Rejection::RepeatsSuffix)
        );
    }

    #[test]
    fn the_rest_of_the_line_typed_again_is_dropped() {
        let fixture = "def f(x):\n    print(<CURSOR>)\n";
        assert_eq!(run(fixture, "x)").unwrap(), "x");
        assert_eq!(run(fixture, "len(x)").unwrap(), "len(x)");
    }

    #[test]
    fn empty_and_degenerate_answers_are_rejected() {
        assert_eq!(run(BODY_HOLE, "  \n\t\n"), Err(Rejection::Empty));
        let raw = "x = 1\n        x = 1\n        x = 1\n        x = 1";
        assert!(matches!(
            run(BODY_HOLE, raw),
            Err(Rejection::Degenerate { .. })
        ));
        let raw = "a()\n        b()\n        a()\n        b()\n        a()\n        b()";
        assert!(matches!(
            run(BODY_HOLE, raw),
            Err(Rejection::Degenerate { .. })
        ));
    }

    #[test]
    fn closing_brackets_on_their_own_lines_are_not_degenerate() {
        let raw = "return f(g(h(\n            1\n        )\n        )\n        )";
        assert_eq!(run(BODY_HOLE, raw).unwrap(), raw);
    }

    #[test]
    fn an_answer_with_a_syntax_error_is_rejected() {
        assert!(matches!(
            run(BODY_HOLE, "return [x,"),
            Err(Rejection::Syntax { .. })
        ));
    }

    #[test]
    fn long_answers_are_limited() {
        let (document, offset) = cursor(BODY_HOLE);
        let raw = (0..10)
            .map(|i| format!("y{i} = {i}"))
            .collect::<Vec<_>>()
            .join("\n        ");
        let cleaned = postprocess(
            &document,
            offset,
            &raw,
            &PostprocessOptions { max_lines: 3 },
        )
        .unwrap();
        assert_eq!(cleaned, "y0 = 0\n        y1 = 1\n        y2 = 2");
    }

    #[test]
    fn text_is_kept_exactly() {
        let raw = "  # keep   spacing\n        return   x  ";
        assert_eq!(run(BODY_HOLE, raw).unwrap(), raw);
    }
}
