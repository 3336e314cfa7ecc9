//! Code actions as plain data: fix a diagnostic, write a docstring, comment a selection.
//!
//! Each action builds a chat request from a document snapshot, asks the model, and checks the
//! answer before anything is offered: a fix must make the diagnostic's problem disappear from
//! spackle's checks without adding a new one, a docstring must agree with the signature and body,
//! and comments must leave every other token unchanged. A rejected answer gets one repair round
//! with the reason, through the same loop as completions ([`crate::check::refine::refine_chat`]);
//! if that fails too, the caller gets a refusal that says why. Nothing here knows about LSP.

pub mod comment;
pub mod docstring;
pub mod examples;
pub mod external;
pub mod fix;

use tree_sitter::{Node, Tree};

use crate::check::refine::{refine_chat, ChatOutcome, RefineOptions};
use crate::engine::{Engine, EngineError};
use crate::index::Index;
use crate::llm::{ChatMessage, GenerateRequest, RequestKind};
use crate::store::Snapshot;

/// How many times the model is asked before an action gives up: the first answer and one repair.
pub const MAX_ROUNDS: usize = 2;

/// No repair request starts after this much time: chat answers take seconds, not milliseconds.
const ACTION_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// Replace the bytes `start..end` of the document with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// A checked edit, ready to be offered to the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub edit: Edit,
    /// Requests made to the model for this edit.
    pub rounds: usize,
    /// The checks the edit passed, by name.
    pub checks: Vec<&'static str>,
}

/// What an action produced: an edit to offer, or a sentence saying why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Offer(Offer),
    Refused(String),
}

/// A diagnostic as the editor reported it, in byte offsets of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub start: usize,
    pub end: usize,
    pub message: String,
    /// The tool that reported it (pyright, ruff, spackle...), when the editor says.
    pub source: Option<String>,
    /// The tool's code for it (`F821`, `reportUndefinedVariable`), when the editor says.
    pub code: Option<String>,
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Fix(Diagnostic),
    /// A docstring for the definition whose header holds this offset.
    Docstring {
        offset: usize,
    },
    /// Comments for the lines of `start..end`.
    Comment {
        start: usize,
        end: usize,
    },
}

/// A round about to ask the model, for progress reports.
pub use crate::check::refine::ChatRound as Round;

/// What the caller of [`run`] decides and learns while an action runs.
pub struct Hooks<'a> {
    /// Asked before each repair round: `false` (the document moved on) makes the action give up.
    pub still_current: &'a (dyn Fn() -> bool + Send + Sync),
    /// Told before each request to the model (for progress reports).
    pub on_round: &'a (dyn Fn(Round) + Send + Sync),
}

/// Checks one answer of the model: the edit to offer, or why the answer was rejected.
pub(crate) type Verify<'a> = Box<dyn Fn(&str) -> Result<Offer, String> + Send + Sync + 'a>;

/// A prepared action: the conversation to start and how to check its answers.
pub(crate) struct Plan<'a> {
    pub messages: Vec<ChatMessage>,
    pub verify: Verify<'a>,
}

/// Runs an action: asks the model, checks each answer, and repairs once with the reason.
///
/// `Ok(Answer::Refused(..))` is a normal outcome (the model's answer failed the checks, or the
/// action does not apply where it was asked); `Err` is for a model that did not answer.
/// `hooks.still_current` is asked before each repair round: when the document moved on, the
/// action gives up; `hooks.on_round` is told before each request to the model.
pub async fn run(
    engine: &Engine,
    snapshot: &Snapshot,
    index: Option<&Index>,
    request: &Request,
    hooks: &Hooks<'_>,
) -> Result<Answer, EngineError> {
    crate::engine::refuse_ignored(snapshot, index)?;
    let limit = engine.config.completion.max_file_bytes;
    let bytes = snapshot.rope.len_bytes();
    let Some(tree) = snapshot.tree.as_ref().filter(|_| bytes <= limit) else {
        return Err(EngineError::TooLarge { bytes, limit });
    };
    let text = snapshot.text();
    let plan = blocking(|| match request {
        Request::Fix(diagnostic) => fix::plan(engine, snapshot, &text, tree, index, diagnostic),
        Request::Docstring { offset } => {
            let forced = docstring::forced_style(engine.config.actions.docstring_style);
            let (module, _) = crate::index::module_scope(index, snapshot.path.as_deref());
            docstring::plan(
                &text,
                tree,
                *offset,
                index.map(|index| (index, module.as_str())),
                forced,
            )
        }
        Request::Comment { start, end } => comment::plan(&text, *start, *end),
    });
    let plan = match plan {
        Ok(plan) => plan,
        Err(reason) => return Ok(Answer::Refused(reason)),
    };
    let request = GenerateRequest {
        kind: RequestKind::Chat {
            messages: plan.messages,
        },
        stop: Vec::new(),
        max_tokens: engine.config.model.max_tokens.max(512),
        temperature: engine.config.model.temperature,
        candidates: 1,
    };
    // The same loop as completions, with the actions' own limits: one repair, and the time a chat
    // answer takes.
    let options = RefineOptions {
        rounds: MAX_ROUNDS - 1,
        latency_budget: ACTION_BUDGET,
        max_lines: usize::MAX,
    };
    let verify = |answer: &str| blocking(|| (plan.verify)(answer));
    let outcome = refine_chat(
        engine.model.as_ref(),
        request,
        &options,
        hooks.still_current,
        hooks.on_round,
        &verify,
    )
    .await?;
    Ok(match outcome {
        ChatOutcome::Accepted { mut value, round } => {
            value.rounds = round;
            Answer::Offer(value)
        }
        ChatOutcome::Rejected { reason } => Answer::Refused(reason),
    })
}

/// Runs work that may block (reading files, running an external checker) without stalling the
/// other requests: on a multi-threaded runtime the worker thread hands its other tasks over first.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    let multi_threaded = tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_threaded {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// The byte offset where the line holding `offset` starts.
pub(crate) fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

/// The byte offset just past the end of the line holding `offset` (after its newline, if any).
pub(crate) fn line_end(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1)
}

/// The leading whitespace of the line that starts at `start`.
pub(crate) fn indentation_at(text: &str, start: usize) -> &str {
    let line = &text[start..];
    let width = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..width]
}

/// The whitespace every non-blank line of `text` starts with.
pub(crate) fn common_indentation(text: &str) -> String {
    let mut common: Option<&str> = None;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
        common = Some(match common {
            None => indent,
            Some(known) => {
                let shared = known
                    .bytes()
                    .zip(indent.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                &known[..shared]
            }
        });
    }
    common.unwrap_or("").to_string()
}

/// Removes the common indentation of `text`.
pub(crate) fn dedent(text: &str) -> String {
    let indent = common_indentation(text);
    reindent(text, &indent, "")
}

/// Removes the indentation of the first non-blank line from every line that has it. Unlike
/// [`dedent`], lines of a string that start further left (a docstring line at column 0) do not
/// stop the code from being dedented; they are left as they are.
pub(crate) fn dedent_code(text: &str) -> String {
    let first = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    let indent = &first[..first.len() - first.trim_start_matches([' ', '\t']).len()];
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        out.push_str(line.strip_prefix(indent).unwrap_or(line));
    }
    out
}

/// Replaces the leading `from` of every line with `to`; blank lines become empty.
pub(crate) fn reindent(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        if body.trim().is_empty() {
            out.push_str(newline);
            continue;
        }
        out.push_str(to);
        out.push_str(body.strip_prefix(from).unwrap_or(body.trim_start()));
        out.push_str(newline);
    }
    out
}

/// The code of a chat answer: fences and prose removed. The code block runs from the first
/// opening fence to the last closing one, so a docstring that holds fenced examples stays whole.
pub(crate) fn answer_code(answer: &str) -> String {
    let lines: Vec<&str> = answer.lines().collect();
    let open = lines
        .iter()
        .position(|line| line.trim_start().starts_with("```"));
    let close = lines.iter().rposition(|line| line.trim() == "```");
    match (open, close) {
        (Some(open), Some(close)) if close > open => {
            let mut code = lines[open + 1..close].join("\n");
            code.push('\n');
            code
        }
        _ => crate::prompt::strip_chat_answer(answer),
    }
}

/// A token-level picture of a subtree: every node's kind and every leaf's text, in order, without
/// comments and without the nodes `skip` names. Two pieces of code with the same shape differ only
/// in comments, whitespace that does not change the structure, and the skipped nodes.
pub(crate) fn code_shape(node: Node, source: &str, skip: &dyn Fn(Node) -> bool) -> String {
    let mut shape = String::new();
    let mut cursor = node.walk();
    loop {
        let current = cursor.node();
        let skipped = current.kind() == "comment" || skip(current);
        if !skipped {
            if current.child_count() == 0 {
                shape.push_str(current.kind());
                shape.push('=');
                shape.push_str(source.get(current.byte_range()).unwrap_or(""));
                shape.push(' ');
            } else {
                shape.push('(');
                shape.push_str(current.kind());
                shape.push(' ');
            }
        }
        if !skipped && cursor.goto_first_child() {
            continue;
        }
        // Move to the next sibling, closing every node left on the way up.
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return shape;
            }
            shape.push(')');
            if cursor.node().id() == node.id() {
                return shape;
            }
        }
    }
}

/// How many ERROR and MISSING nodes a tree has.
pub(crate) fn error_count(tree: &Tree) -> usize {
    crate::check::syntax::error_nodes(tree).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_python;

    fn shape(source: &str) -> String {
        let tree = parse_python(source, None).unwrap();
        code_shape(tree.root_node(), source, &|_| false)
    }

    #[test]
    fn comments_do_not_change_the_shape_but_tokens_do() {
        let plain = "def f(x):\n    y = x + 1\n    return y\n";
        let commented = "def f(x):\n    # One more than x.\n    y = x + 1  # add\n    return y\n";
        assert_eq!(shape(plain), shape(commented));
        assert_ne!(
            shape(plain),
            shape("def f(x):\n    y = x + 2\n    return y\n")
        );
        assert_ne!(shape(plain), shape("def f(x):\n    y = x + 1\nreturn y\n"));
    }

    #[test]
    fn fenced_examples_inside_the_answer_stay_in_the_code() {
        let answer = "Here it is:\n```python\ndef f():\n    \"\"\"Run.\n\n    ```\n    f()\n    ```\n    \"\"\"\n```\nDone.";
        assert_eq!(
            answer_code(answer),
            "def f():\n    \"\"\"Run.\n\n    ```\n    f()\n    ```\n    \"\"\"\n"
        );
        assert_eq!(answer_code("x = 1"), "x = 1");
    }

    #[test]
    fn indentation_helpers() {
        assert_eq!(dedent("    a\n\n      b\n"), "a\n\n  b\n");
        assert_eq!(reindent("a\n  b\n", "", "    "), "    a\n      b\n");
        assert_eq!(line_start("ab\ncd", 4), 3);
        assert_eq!(line_end("ab\ncd\n", 1), 3);
    }
}
