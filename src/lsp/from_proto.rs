//! Protocol types in: LSP positions and changes to spackle's plain data.

use tower_lsp_server::ls_types::{Position, TextDocumentContentChangeEvent, Uri};

use crate::store::TextChange;
use crate::text::LineCol;

pub fn line_col(position: Position) -> LineCol {
    LineCol {
        line: position.line,
        character: position.character,
    }
}

pub fn text_change(change: TextDocumentContentChangeEvent) -> TextChange {
    TextChange {
        range: change
            .range
            .map(|range| (line_col(range.start), line_col(range.end))),
        text: change.text,
    }
}

/// The store's key for a document.
pub fn document_key(uri: &Uri) -> String {
    uri.as_str().to_string()
}

/// The file system path of a `file:` URI.
pub fn file_path(uri: &Uri) -> Option<std::path::PathBuf> {
    uri.to_file_path().map(|path| path.into_owned())
}
