//! Static checks of a model's candidate: splice it into the document, reparse, and report only the
//! problems the candidate introduced (syntax errors, unresolved names, unknown members, bad calls,
//! unresolved imports).
//!
//! The fast checks (syntax and names, from tree-sitter) run first; when they pass, the typed checks
//! ask the semantic layer (`crate::semantic`, ty's inference) about members, calls and imports.
//! Broken code is normal input: every check returns a list of problems and never panics. Precision
//! comes first: when a check is unsure (dynamic code, unknown types, star imports), it says nothing.

#[cfg(test)]
mod fuzz;
pub mod names;
pub mod postprocess;
pub mod refine;
pub mod syntax;
pub mod typed;

pub use typed::TypedFile;

use serde::Serialize;
use tree_sitter::{InputEdit, Point, Tree};

use crate::store::parse_python;

/// What is wrong with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallProblem {
    /// More positional arguments than the signature accepts.
    TooManyPositional,
    /// A keyword argument the signature does not name.
    UnknownKeyword,
    /// A required parameter that the call does not pass.
    MissingArgument,
    /// A parameter given both by position and by keyword, or twice by keyword.
    AlreadyAssigned,
    /// `None` passed where the parameter's declared type does not accept it.
    NoneArgument,
}

/// The kind of a problem, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "detail")]
pub enum ProblemKind {
    /// New tree-sitter ERROR or MISSING nodes.
    Syntax,
    /// A name read but bound nowhere in the scopes that can see it, nor a builtin.
    UnresolvedName,
    /// `x.name` where the type of `x` is known for certain and has no member `name`.
    UnknownMember,
    /// An import of the workspace's own modules that does not resolve.
    UnresolvedImport,
    /// A call that does not fit a signature known for certain.
    Call(CallProblem),
}

/// One problem a candidate introduced, located in the spliced document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// A compiler-style message: what is wrong and what exists instead.
    pub message: String,
    /// The offending name (the unresolved name, the member, the called function), or the text of the
    /// erroneous node for syntax problems.
    pub name: String,
    /// Byte offsets in the spliced document.
    pub start: usize,
    pub end: usize,
    /// The 0-based line of `start` in the spliced document.
    pub line: u32,
}

/// A document before the candidate is spliced in, parsed once so that several candidates can be
/// checked against it cheaply.
pub struct Before {
    pub text: String,
    pub tree: Tree,
    pub syntax_errors: Vec<syntax::ErrorNode>,
}

impl Before {
    /// Parses the document. `None` only when tree-sitter refuses to parse at all.
    pub fn new(text: &str) -> Option<Before> {
        let tree = parse_python(text, None)?;
        Some(Before::with_tree(text.to_string(), tree))
    }

    /// Uses a tree the caller already has (it must be the parse of `text`).
    pub fn with_tree(text: String, tree: Tree) -> Before {
        let syntax_errors = syntax::error_nodes(&tree);
        Before {
            text,
            tree,
            syntax_errors,
        }
    }
}

/// The document with the candidate in place, and where the candidate sits in it.
pub struct Spliced<'a> {
    pub before: &'a Before,
    /// The byte offset of the cursor in the document before (clamped to a char boundary).
    pub offset: usize,
    pub text: String,
    pub tree: Tree,
    /// The candidate's bytes in `text`: `start..end`.
    pub start: usize,
    pub end: usize,
}

impl Spliced<'_> {
    /// The 0-based line of a byte offset in the spliced text.
    pub fn line_of(&self, offset: usize) -> u32 {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32
    }

    /// Maps a byte offset of the document before to the spliced text.
    pub fn map_old_offset(&self, old: usize) -> usize {
        if old < self.offset {
            old
        } else {
            old + (self.end - self.start)
        }
    }

    /// Whether the byte range `start..end` of the spliced text touches the candidate.
    pub fn touches_candidate(&self, start: usize, end: usize) -> bool {
        start < self.end && end > self.start
            || (start == end && start >= self.start && start <= self.end)
    }

    pub fn problem(
        &self,
        kind: ProblemKind,
        message: String,
        name: String,
        start: usize,
        end: usize,
    ) -> Problem {
        Problem {
            kind,
            message: bounded_message(message),
            name,
            start,
            end,
            line: self.line_of(start),
        }
    }
}

/// Deeper paths than this are not followed by [`path_to`].
const MAX_PATH_DEPTH: usize = 4096;

/// The nodes from the root down to the smallest node that contains `start..end`, root first.
///
/// Tree-sitter's `Node::parent` walks down from the root on every call, so climbing from a deep
/// node costs the square of its depth; this descends once instead. Empty when the tree is deeper
/// than the checks are willing to follow.
pub fn path_to<'t>(
    root: tree_sitter::Node<'t>,
    start: usize,
    end: usize,
) -> Vec<tree_sitter::Node<'t>> {
    let mut path = vec![root];
    let mut cursor = root.walk();
    'descend: loop {
        if path.len() > MAX_PATH_DEPTH {
            return Vec::new();
        }
        if !cursor.goto_first_child() {
            break;
        }
        loop {
            let node = cursor.node();
            if node.start_byte() <= start
                && end <= node.end_byte()
                && !(node.start_byte() == node.end_byte() && start != end)
            {
                path.push(node);
                continue 'descend;
            }
            if node.start_byte() > start || !cursor.goto_next_sibling() {
                break 'descend;
            }
        }
    }
    path
}

/// The most of an identifier a message shows; longer ones (a model may answer with a name of a
/// megabyte) are cut, so messages, logs and repair prompts stay small.
const MAX_SHOWN_IDENTIFIER_BYTES: usize = 100;

/// The most of a problem's message kept.
const MAX_MESSAGE_BYTES: usize = 500;

/// `name` as a message shows it: whole when short, else its start and its length.
pub fn shown_identifier(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= MAX_SHOWN_IDENTIFIER_BYTES {
        return name.into();
    }
    let start = &name[..floor_char_boundary(name, MAX_SHOWN_IDENTIFIER_BYTES / 2)];
    format!("{start}… ({} bytes)", name.len()).into()
}

/// A problem's message cut at [`MAX_MESSAGE_BYTES`], for messages that quote the code.
pub fn bounded_message(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        message.truncate(floor_char_boundary(&message, MAX_MESSAGE_BYTES));
        message.push('…');
    }
    message
}

/// Rounds `offset` down to a char boundary of `text`, clamped to its length.
pub fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The tree-sitter point of a byte offset in `text`.
fn point_at(text: &str, offset: usize) -> Point {
    let before = &text.as_bytes()[..offset];
    let row = before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    Point {
        row,
        column: offset - line_start,
    }
}

/// Puts `candidate` at `offset` and reparses incrementally from the document's tree.
pub fn splice<'a>(before: &'a Before, offset: usize, candidate: &str) -> Option<Spliced<'a>> {
    let offset = floor_char_boundary(&before.text, offset);
    let mut text = String::with_capacity(before.text.len() + candidate.len());
    text.push_str(&before.text[..offset]);
    text.push_str(candidate);
    text.push_str(&before.text[offset..]);
    let start_position = point_at(&before.text, offset);
    let new_end_byte = offset + candidate.len();
    let edit = InputEdit {
        start_byte: offset,
        old_end_byte: offset,
        new_end_byte,
        start_position,
        old_end_position: start_position,
        new_end_position: point_at(&text, new_end_byte),
    };
    let mut old_tree = before.tree.clone();
    old_tree.edit(&edit);
    let tree = parse_python(&text, Some(&old_tree))?;
    Some(Spliced {
        before,
        offset,
        text,
        tree,
        start: offset,
        end: new_end_byte,
    })
}

/// Checks a candidate placed at `offset` in `document` and returns the problems it introduced.
///
/// `typed` is the document's file in its workspace's semantic layer, for the typed checks; without
/// it (a buffer outside any workspace) only syntax and names are checked.
pub fn check_candidate(
    document: &str,
    offset: usize,
    candidate: &str,
    typed: Option<&TypedFile>,
) -> Vec<Problem> {
    match Before::new(document) {
        Some(before) => check_spliced_candidate(&before, offset, candidate, typed),
        None => Vec::new(),
    }
}

/// The problems of a whole document, as the checks see the code the user wrote: every problem of
/// the fast checks (the document checked as a candidate spliced into an empty file) and every
/// finding of the typed checks' rules.
pub fn check_document(document: &str, typed: Option<&TypedFile>) -> Vec<Problem> {
    let mut problems = check_candidate("", 0, document, None);
    // A line the author marked for a type checker (`# type: ignore`, any codes) is one they
    // know to be beyond static analysis, for names as for types (`get_ipython` in a notebook).
    // In a candidate such a comment is the model's text, and silences nothing.
    problems.retain(|problem| {
        problem.kind != ProblemKind::UnresolvedName
            || !typed::suppressed(document, problem.start, problem.end)
    });
    if let Some(typed) = typed {
        problems.extend(typed::document_problems(document, typed));
    }
    problems.sort_by_key(|problem| (problem.start, problem.end));
    problems
}

/// [`check_candidate`] against a document parsed once beforehand.
pub fn check_spliced_candidate(
    before: &Before,
    offset: usize,
    candidate: &str,
    typed: Option<&TypedFile>,
) -> Vec<Problem> {
    let Some(spliced) = splice(before, offset, candidate) else {
        return Vec::new();
    };
    let mut problems = syntax::introduced_errors(&spliced);
    problems.extend(syntax::malformed_type_comments(&spliced));
    let scopes = names::analyze(&spliced);
    problems.extend(names::unresolved_names(&spliced, &scopes));
    if problems.is_empty() {
        if let Some(typed) = typed {
            problems.extend(typed::introduced_problems(&spliced, typed));
        }
    }
    problems.sort_by_key(|problem| (problem.start, problem.end));
    problems
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Splits a fixture at its `<CURSOR>` marker.
    pub fn cursor(fixture: &str) -> (String, usize) {
        let offset = fixture
            .find("<CURSOR>")
            .expect("fixture has a <CURSOR> marker");
        (fixture.replacen("<CURSOR>", "", 1), offset)
    }
}

#[cfg(test)]
mod document_tests {
    use super::*;
    use crate::semantic::test_support::Workspace;

    const HOLDER: &str = "class Base:\n    pass\n\n\nclass Sub(Base):\n    limit = 1\n\n\nclass Holder:\n    def __init__(self, kind: Base):\n        self.kind = kind\n\n    def show(self):\n<BODY>";

    fn problems_of(body: &str) -> Vec<String> {
        let text = HOLDER.replace("<BODY>", body);
        let workspace = Workspace::new(&[("app.py", text.as_str())]);
        check_document(&text, Some(&workspace.typed("app.py")))
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    /// Prints what checking a whole document of N trivial functions costs, the fast checks alone
    /// and with the typed checks, to show how it grows (it used to grow with the square of N).
    /// `cargo test --release --lib -- --ignored whole_document_cost --nocapture`
    #[test]
    #[ignore = "a measurement, not a test"]
    fn whole_document_cost_grows_linearly() {
        for functions in [2_500, 5_000, 10_000, 20_000] {
            let text: String = (0..functions)
                .map(|i| format!("def f{i}(a, b):\n    return a + b\n\n"))
                .collect();
            let started = std::time::Instant::now();
            let fast = check_document(&text, None).len();
            let fast_time = started.elapsed();
            let workspace = Workspace::new(&[("app.py", text.as_str())]);
            let typed = workspace.typed("app.py");
            let _ = check_document(&text, Some(&typed));
            let edited = format!("{text}\n");
            let started = std::time::Instant::now();
            let all = check_document(&edited, Some(&typed)).len();
            eprintln!(
                "{functions:6} functions ({} lines): fast checks {:?} ({fast} problems), with typed checks after an edit {:?} ({all} problems)",
                text.matches('\n').count(),
                fast_time,
                started.elapsed()
            );
        }
    }

    /// A `Base` may be a `Sub` at run time, so `limit` may exist; `limits` exists nowhere.
    #[test]
    fn a_whole_document_is_checked_and_attribute_paths_narrowed_by_isinstance_stay_silent() {
        assert_eq!(
            problems_of("        return self.kind.limits + undefined_name\n"),
            vec!["limits", "undefined_name"]
        );
        assert_eq!(
            problems_of("        return self.kind.limit\n"),
            Vec::<String>::new()
        );
        assert!(problems_of("        if isinstance(self.kind, Sub):\n            return self.kind.limit\n        return 0\n").is_empty());
    }
}
