//! Protocol types out: spackle's plain data to LSP positions, ranges and items.

use ropey::Rope;
use tower_lsp_server::ls_types::{
    Command, CompletionItem, CompletionItemKind, CompletionTextEdit, Diagnostic,
    DiagnosticSeverity, Documentation, InsertTextFormat, MarkupContent, MarkupKind, NumberOrString,
    Position, Range, TextEdit,
};

use crate::engine::{Completion, Verification};
use crate::text::{self, PositionEncoding};

pub fn position(rope: &Rope, offset: usize, encoding: PositionEncoding) -> Position {
    let at = text::position_of(rope, offset, encoding);
    Position {
        line: at.line,
        character: at.character,
    }
}

pub fn range(rope: &Rope, start: usize, end: usize, encoding: PositionEncoding) -> Range {
    Range {
        start: position(rope, start, encoding),
        end: position(rope, end, encoding),
    }
}

/// The command attached to a suggestion: runs after the user accepts it, and carries what
/// spackle verified so editors can show it.
pub fn verification_command(verification: &Verification) -> Command {
    let checks = verification.checks.join(", ");
    let title = if verification.checks.is_empty() {
        format!(
            "spackle: not verified: {}",
            verification.problems.join("; ")
        )
    } else {
        format!(
            "spackle: checked ({checks}) in {} round{}",
            verification.rounds,
            if verification.rounds == 1 { "" } else { "s" }
        )
    };
    Command {
        title,
        command: "spackle.accepted".into(),
        arguments: Some(vec![serde_json::to_value(verification).unwrap_or_default()]),
    }
}

/// A suggestion as one completion item, for clients without inline completion.
pub fn completion_item(
    rope: &Rope,
    completion: Completion,
    encoding: PositionEncoding,
) -> CompletionItem {
    let first_line = completion
        .text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("")
        .to_string();
    let label: String = first_line.chars().take(60).collect();
    let edit_range = range(rope, completion.start, completion.end, encoding);
    CompletionItem {
        label,
        kind: Some(CompletionItemKind::SNIPPET),
        detail: Some("spackle (checked)".into()),
        documentation: Some(Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: format!("```python\n{}\n```", completion.text),
        })),
        insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit {
            range: edit_range,
            new_text: completion.text,
        })),
        sort_text: Some("0".into()),
        command: Some(verification_command(&completion.verification)),
        ..CompletionItem::default()
    }
}

/// One of spackle's problems as an LSP diagnostic, with `spackle` as its source.
pub fn diagnostic(
    rope: &Rope,
    problem: &crate::check::Problem,
    encoding: PositionEncoding,
) -> Diagnostic {
    use crate::check::ProblemKind;
    let (code, severity) = match problem.kind {
        ProblemKind::Syntax => ("syntax", DiagnosticSeverity::ERROR),
        ProblemKind::UnresolvedName => ("unresolved-name", DiagnosticSeverity::ERROR),
        ProblemKind::UnknownMember => ("unknown-member", DiagnosticSeverity::ERROR),
        ProblemKind::UnresolvedImport => ("unresolved-import", DiagnosticSeverity::ERROR),
        ProblemKind::Call(_) => ("call", DiagnosticSeverity::ERROR),
    };
    Diagnostic {
        range: range(rope, problem.start, problem.end, encoding),
        severity: Some(severity),
        code: Some(NumberOrString::String(code.into())),
        source: Some("spackle".into()),
        message: problem.message.clone(),
        ..Diagnostic::default()
    }
}
