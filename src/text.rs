//! Text positions: LSP (line, character) in UTF-8 or UTF-16 units, byte offsets, and tree-sitter edits.
//!
//! The core of spackle speaks in byte offsets into a rope. LSP positions are converted here and
//! nowhere else. Positions outside the document are clamped: a line past the end maps to the end of
//! the document, a character past the end of its line maps to the end of that line (before the line
//! break), and a character in the middle of a multi-unit character maps to the start of it.

use ropey::Rope;

/// How the client counts characters within a line, as negotiated in `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionEncoding {
    /// Bytes of UTF-8.
    Utf8,
    /// UTF-16 code units: the LSP default.
    #[default]
    Utf16,
}

/// A position as LSP sends it, with the character counted in the negotiated encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct LineCol {
    pub line: u32,
    pub character: u32,
}

/// The byte length of the line break that ends `line` (0 for the last line).
fn line_break_len(rope: &Rope, line: usize) -> usize {
    let slice = rope.line(line);
    let len = slice.len_chars();
    if len == 0 {
        return 0;
    }
    match slice.char(len - 1) {
        '\n' => {
            if len >= 2 && slice.char(len - 2) == '\r' {
                2
            } else {
                1
            }
        }
        '\r' => 1,
        _ => 0,
    }
}

/// The byte offset of `position`, clamped into the document.
pub fn offset_of(rope: &Rope, position: LineCol, encoding: PositionEncoding) -> usize {
    let line = position.line as usize;
    if line >= rope.len_lines() {
        return rope.len_bytes();
    }
    let line_start = rope.line_to_byte(line);
    let line_slice = rope.line(line);
    let content_bytes = line_slice.len_bytes() - line_break_len(rope, line);
    let wanted = position.character as usize;
    let mut units = 0usize;
    let mut bytes = 0usize;
    for ch in line_slice.chars() {
        if bytes >= content_bytes {
            break;
        }
        let width = match encoding {
            PositionEncoding::Utf8 => ch.len_utf8(),
            PositionEncoding::Utf16 => ch.len_utf16(),
        };
        if units + width > wanted {
            break;
        }
        units += width;
        bytes += ch.len_utf8();
    }
    line_start + bytes.min(content_bytes)
}

/// The LSP position of a byte offset (clamped to the document, rounded down to a char boundary).
pub fn position_of(rope: &Rope, offset: usize, encoding: PositionEncoding) -> LineCol {
    let offset = offset.min(rope.len_bytes());
    let char_index = rope.byte_to_char(offset);
    let line = rope.char_to_line(char_index);
    let line_start_char = rope.line_to_char(line);
    let character = match encoding {
        PositionEncoding::Utf8 => offset - rope.line_to_byte(line),
        PositionEncoding::Utf16 => {
            rope.char_to_utf16_cu(char_index) - rope.char_to_utf16_cu(line_start_char)
        }
    };
    LineCol {
        line: line as u32,
        character: character as u32,
    }
}

/// The tree-sitter point (row, byte column) of a byte offset.
pub fn point_of(rope: &Rope, offset: usize) -> tree_sitter::Point {
    let offset = offset.min(rope.len_bytes());
    let line = rope.byte_to_line(offset);
    tree_sitter::Point {
        row: line,
        column: offset - rope.line_to_byte(line),
    }
}

/// Rounds a byte offset down to the nearest char boundary of the rope.
pub fn floor_char_boundary(rope: &Rope, offset: usize) -> usize {
    let offset = offset.min(rope.len_bytes());
    rope.char_to_byte(rope.byte_to_char(offset))
}

/// Replaces the bytes `start..end` of `rope` with `new_text` and returns the matching tree-sitter edit.
///
/// `start` and `end` must be char boundaries (as [`offset_of`] returns) with `start <= end`.
pub fn apply_edit(
    rope: &mut Rope,
    start: usize,
    end: usize,
    new_text: &str,
) -> tree_sitter::InputEdit {
    let start_position = point_of(rope, start);
    let old_end_position = point_of(rope, end);
    let start_char = rope.byte_to_char(start);
    let end_char = rope.byte_to_char(end);
    rope.remove(start_char..end_char);
    rope.insert(start_char, new_text);
    let new_end_byte = start + new_text.len();
    tree_sitter::InputEdit {
        start_byte: start,
        old_end_byte: end,
        new_end_byte,
        start_position,
        old_end_position,
        new_end_position: point_of(rope, new_end_byte),
    }
}

/// The byte range `start..end` of the rope as a `String` (clamped, char boundaries assumed).
pub fn slice_to_string(rope: &Rope, start: usize, end: usize) -> String {
    let end = end.min(rope.len_bytes());
    let start = start.min(end);
    rope.byte_slice(start..end).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32, character: u32) -> LineCol {
        LineCol { line, character }
    }

    #[test]
    fn utf16_counts_astral_characters_as_two_units() {
        let rope = Rope::from_str("a😀b\nx");
        assert_eq!(offset_of(&rope, at(0, 1), PositionEncoding::Utf16), 1);
        assert_eq!(offset_of(&rope, at(0, 3), PositionEncoding::Utf16), 5);
        // The middle of the surrogate pair rounds down to the start of the character.
        assert_eq!(offset_of(&rope, at(0, 2), PositionEncoding::Utf16), 1);
        assert_eq!(position_of(&rope, 5, PositionEncoding::Utf16), at(0, 3));
        assert_eq!(position_of(&rope, 5, PositionEncoding::Utf8), at(0, 5));
    }

    #[test]
    fn utf8_counts_bytes() {
        let rope = Rope::from_str("é=1\n");
        assert_eq!(offset_of(&rope, at(0, 2), PositionEncoding::Utf8), 2);
        assert_eq!(offset_of(&rope, at(0, 1), PositionEncoding::Utf16), 2);
    }

    #[test]
    fn positions_outside_the_document_are_clamped() {
        let rope = Rope::from_str("ab\r\ncd");
        assert_eq!(offset_of(&rope, at(0, 99), PositionEncoding::Utf16), 2);
        assert_eq!(offset_of(&rope, at(1, 99), PositionEncoding::Utf16), 6);
        assert_eq!(offset_of(&rope, at(7, 0), PositionEncoding::Utf16), 6);
        assert_eq!(position_of(&rope, 99, PositionEncoding::Utf16), at(1, 2));
    }

    #[test]
    fn lone_carriage_return_ends_a_line() {
        let rope = Rope::from_str("a\rb");
        assert_eq!(offset_of(&rope, at(1, 0), PositionEncoding::Utf16), 2);
        assert_eq!(position_of(&rope, 2, PositionEncoding::Utf16), at(1, 0));
    }

    #[test]
    fn edit_reports_points_in_bytes() {
        let mut rope = Rope::from_str("x = 1\ny = é\n");
        let start = offset_of(&rope, at(1, 4), PositionEncoding::Utf16);
        let end = offset_of(&rope, at(1, 5), PositionEncoding::Utf16);
        let edit = apply_edit(&mut rope, start, end, "'😀'\nz");
        assert_eq!(rope.to_string(), "x = 1\ny = '😀'\nz\n");
        assert_eq!(edit.start_byte, 10);
        assert_eq!(edit.old_end_byte, 12);
        assert_eq!(edit.new_end_byte, 10 + "'😀'\nz".len());
        assert_eq!(
            edit.new_end_position,
            tree_sitter::Point { row: 2, column: 1 }
        );
    }
}
