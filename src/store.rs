//! Open documents: a rope, an incrementally edited tree-sitter tree and the client's version.
//!
//! Edits are applied in the order they arrive, synchronously (see `lsp::ordered`): the rope and the
//! old tree are edited, which is cheap, and the reparse waits for the first snapshot that needs it
//! (a keystroke inside an unclosed `(` of a large file reparses everything after it, 150 ms).
//! Requests take a [`Snapshot`], a cheap clone once parsed, on a blocking thread, and never hold
//! the store's lock across an `.await`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ropey::Rope;
use tree_sitter::{Node, Parser, Tree};

use crate::text::{self, LineCol, PositionEncoding};

/// Files larger than this are kept as text but not parsed, and get no completions.
pub const DEFAULT_MAX_PARSE_BYTES: usize = 4 * 1024 * 1024;

/// One change as the client sends it: a range to replace, or the whole text when `range` is `None`.
#[derive(Debug, Clone)]
pub struct TextChange {
    pub range: Option<(LineCol, LineCol)>,
    pub text: String,
}

/// An open document. Cloning it is cheap: the rope and the tree share their storage.
#[derive(Clone)]
pub struct Document {
    /// The document's key in the store (the URI as the client sent it).
    pub key: String,
    /// The file system path, when the URI is a `file:` URI.
    pub path: Option<PathBuf>,
    pub version: i32,
    pub rope: Rope,
    /// `None` when the document is too large to parse. Until `parsed`, the tree of an earlier
    /// text with the edits since applied (what an incremental reparse starts from).
    pub tree: Option<Tree>,
    /// `tree` is the parse of the current text.
    parsed: bool,
    max_parse_bytes: usize,
    /// An edit could not be read, so this text is not the editor's: the document is not used
    /// until the client sends its whole text again (`didOpen`, or a change without a range).
    pub diverged: bool,
}

/// A read-only view of a document at one version.
pub type Snapshot = Document;

/// Calls `visit` on `root` and on the nodes below it, in source order, going below a node only
/// when `visit` returns `true`. An explicit cursor walk, since documents can nest deeper than the
/// stack would allow a recursion; a cursor made from `root` never leaves it.
pub fn walk_preorder<'tree>(root: Node<'tree>, mut visit: impl FnMut(Node<'tree>) -> bool) {
    let mut cursor = root.walk();
    'walk: loop {
        if visit(cursor.node()) && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
        }
    }
}

/// Parses Python source with tree-sitter-python.
pub fn parse_python(source: &str, old_tree: Option<&Tree>) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    parser.parse(source, old_tree)
}

/// Parses a rope without copying it into one string.
pub fn parse_rope(rope: &Rope, old_tree: Option<&Tree>) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    let len = rope.len_bytes();
    parser.parse_with_options(
        &mut |offset: usize, _position: tree_sitter::Point| -> &[u8] {
            if offset >= len {
                return &[];
            }
            let (chunk, chunk_start, _, _) = rope.chunk_at_byte(offset);
            &chunk.as_bytes()[offset - chunk_start..]
        },
        old_tree,
        None,
    )
}

impl Document {
    pub fn new(
        key: String,
        path: Option<PathBuf>,
        version: i32,
        text: &str,
        max_parse_bytes: usize,
    ) -> Self {
        Document {
            key,
            path,
            version,
            rope: Rope::from_str(text),
            tree: None,
            parsed: false,
            max_parse_bytes,
            diverged: false,
        }
    }

    /// Applies the client's changes in order, editing the tree incrementally and reparsing once.
    pub fn apply_changes(
        &mut self,
        version: i32,
        changes: &[TextChange],
        encoding: PositionEncoding,
        max_parse_bytes: usize,
    ) {
        let mut tree = self.tree.take();
        for change in changes {
            match change.range {
                None => {
                    self.rope = Rope::from_str(&change.text);
                    tree = None;
                    self.diverged = false;
                }
                Some((start, end)) => {
                    let mut start = text::offset_of(&self.rope, start, encoding);
                    let mut end = text::offset_of(&self.rope, end, encoding);
                    if start > end {
                        std::mem::swap(&mut start, &mut end);
                    }
                    let edit = text::apply_edit(&mut self.rope, start, end, &change.text);
                    if let Some(tree) = tree.as_mut() {
                        tree.edit(&edit);
                    }
                }
            }
        }
        self.version = version;
        self.tree = tree;
        self.parsed = false;
        self.max_parse_bytes = max_parse_bytes;
    }

    /// Parses the current text if that has not been done yet (incrementally, from the edited
    /// tree). Blocking work: call it off the thread that reads messages.
    pub fn ensure_parsed(&mut self) {
        if self.parsed {
            return;
        }
        self.tree = if self.rope.len_bytes() <= self.max_parse_bytes {
            parse_rope(&self.rope, self.tree.as_ref())
        } else {
            None
        };
        self.parsed = true;
    }

    pub fn text(&self) -> String {
        self.rope.to_string()
    }
}

/// All open documents, keyed by URI.
#[derive(Clone, Default)]
pub struct Store {
    documents: Arc<Mutex<HashMap<String, Document>>>,
}

impl Store {
    pub fn open(&self, document: Document) {
        self.lock().insert(document.key.clone(), document);
    }

    pub fn close(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Applies changes to an open document; changes to a document that is not open are ignored.
    pub fn change(
        &self,
        key: &str,
        version: i32,
        changes: &[TextChange],
        encoding: PositionEncoding,
        max_parse_bytes: usize,
    ) -> bool {
        let mut documents = self.lock();
        match documents.get_mut(key) {
            Some(document) => {
                document.apply_changes(version, changes, encoding, max_parse_bytes);
                true
            }
            None => false,
        }
    }

    /// A snapshot of an open document, parsed; `None` also for a document out of sync with the
    /// editor. Parsing is blocking work: call it off the thread that reads messages.
    pub fn snapshot(&self, key: &str) -> Option<Snapshot> {
        let mut snapshot = self
            .lock()
            .get(key)
            .filter(|document| !document.diverged)
            .cloned()?;
        if !snapshot.parsed {
            snapshot.ensure_parsed();
            // Kept for the next snapshot, unless the document moved on meanwhile.
            if let Some(document) = self.lock().get_mut(key) {
                if document.version == snapshot.version && !document.parsed {
                    document.tree = snapshot.tree.clone();
                    document.parsed = true;
                }
            }
        }
        Some(snapshot)
    }

    /// Marks an open document as out of sync with the editor (one of its edits could not be
    /// read); false when it is not open.
    pub fn mark_diverged(&self, key: &str) -> bool {
        match self.lock().get_mut(key) {
            Some(document) => {
                document.diverged = true;
                true
            }
            None => false,
        }
    }

    /// Whether an open document is out of sync with the editor.
    pub fn is_diverged(&self, key: &str) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|document| document.diverged)
    }

    /// The current version of a document, to tell whether a snapshot is stale.
    pub fn version(&self, key: &str) -> Option<i32> {
        self.lock().get(key).map(|document| document.version)
    }

    /// Snapshots of every open document (used to let open buffers override files on disk).
    pub fn all(&self) -> Vec<Snapshot> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Document>> {
        // A panic while holding the lock leaves the map itself consistent (every mutation is a
        // single insert, remove or in-place edit), so a poisoned lock is still safe to use.
        self.documents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        line: u32,
        character: u32,
        end_line: u32,
        end_character: u32,
        text: &str,
    ) -> TextChange {
        TextChange {
            range: Some((
                LineCol { line, character },
                LineCol {
                    line: end_line,
                    character: end_character,
                },
            )),
            text: text.to_string(),
        }
    }

    /// Hundreds of small edits, applied incrementally, give the same text and the same tree as
    /// parsing the final text from scratch.
    #[test]
    fn rapid_incremental_edits_match_a_fresh_parse() {
        let mut document = Document::new(
            "a.py".into(),
            None,
            0,
            "def f(x):\n    return x\n",
            usize::MAX,
        );
        let mut expected = String::from("def f(x):\n    return x\n");
        let mut seed: u64 = 7;
        for version in 1..=500 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let rope = Rope::from_str(&expected);
            let line = (seed >> 33) as usize % rope.len_lines();
            let line_len = rope.line(line).len_chars();
            let character = ((seed >> 17) as usize % (line_len + 1)) as u32;
            let inserted =
                ["a", "(", ")", "\n", "    ", "é", "😀", "'", ""][(seed >> 45) as usize % 9];
            let delete = (seed >> 55) as u32 % 2;
            let start = LineCol {
                line: line as u32,
                character,
            };
            let start_offset = text::offset_of(&rope, start, PositionEncoding::Utf16);
            let end = LineCol {
                line: line as u32,
                character: character + delete,
            };
            let end_offset = text::offset_of(&rope, end, PositionEncoding::Utf16);
            expected.replace_range(start_offset..end_offset, inserted);
            document.apply_changes(
                version,
                &[change(
                    start.line,
                    start.character,
                    end.line,
                    end.character,
                    inserted,
                )],
                PositionEncoding::Utf16,
                usize::MAX,
            );
            assert_eq!(document.text(), expected, "after edit {version}");
        }
        document.ensure_parsed();
        let fresh = parse_python(&expected, None).unwrap();
        assert_eq!(
            document.tree.unwrap().root_node().to_sexp(),
            fresh.root_node().to_sexp()
        );
        assert_eq!(document.version, 500);
    }

    #[test]
    fn full_text_change_replaces_everything() {
        let mut document = Document::new("a.py".into(), None, 0, "x = 1\n", usize::MAX);
        document.apply_changes(
            3,
            &[TextChange {
                range: None,
                text: "y = (\n".into(),
            }],
            PositionEncoding::Utf8,
            usize::MAX,
        );
        assert_eq!(document.text(), "y = (\n");
        document.ensure_parsed();
        assert!(document.tree.unwrap().root_node().has_error());
    }

    /// Prints what a keystroke costs the message loop (applying it) and what the first snapshot
    /// after it costs (the reparse, on a blocking thread), inside an unclosed `(` of a 229 KB file.
    /// `cargo test --release -- --ignored keystroke_cost --nocapture`
    #[test]
    #[ignore = "a measurement, not a test"]
    fn keystroke_cost_in_a_large_file_with_an_unclosed_paren() {
        let mut text: String = (0..4000)
            .map(|i| format!("def f{i}(a: int, b: int) -> int:\n    return a + b * {i}\n"))
            .collect();
        text.insert_str(text.len() / 2, "foo(\n");
        let store = Store::default();
        store.open(Document::new("a.py".into(), None, 0, &text, usize::MAX));
        store.snapshot("a.py");
        let line = text[..text.len() / 2].matches('\n').count() as u32;
        let (mut apply, mut parse) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let keystrokes = 50;
        for version in 1..=keystrokes {
            let started = std::time::Instant::now();
            store.change(
                "a.py",
                version,
                &[change(line, 4, line, 4, "x")],
                PositionEncoding::Utf16,
                usize::MAX,
            );
            apply += started.elapsed();
            let started = std::time::Instant::now();
            store.snapshot("a.py");
            parse += started.elapsed();
        }
        eprintln!(
            "{} bytes: a keystroke costs the message loop {:?}; the snapshot's reparse {:?}",
            text.len(),
            apply / keystrokes as u32,
            parse / keystrokes as u32
        );
    }

    #[test]
    fn large_documents_are_not_parsed() {
        let mut document = Document::new("a.py".into(), None, 0, &"x = 1\n".repeat(100), 50);
        document.ensure_parsed();
        assert!(document.tree.is_none());
    }
}
