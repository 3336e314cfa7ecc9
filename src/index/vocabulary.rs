//! The names a program's world spells: every identifier written in the workspace's modules, in
//! the standard library's stubs and in the installed packages (code, strings and comments alike,
//! since `getattr(x, "name")`, `__slots__`, argparse's `"--dry-run"` and namedtuple fields give
//! objects members through strings).
//!
//! The checks judge a member read on a value whose type nothing knows against it: a member name
//! that appears nowhere in that world is one no object of the program can have, short of
//! computing it. Hashes stand for the names (64-bit FNV-1a), so a set costs 8 bytes a name.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::extract::source_hash;

/// The most text read from installed packages for their vocabulary; past it the vocabulary is
/// incomplete and nothing is judged by it.
const MAX_INSTALLED_BYTES: u64 = 384 * 1024 * 1024;
/// Installed files larger than this are generated data, not code whose names matter.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// How deep folders of installed packages are followed.
const MAX_DEPTH: usize = 16;

/// The hash that stands for an identifier in a vocabulary.
pub fn identifier_hash(name: &str) -> u64 {
    source_hash(name)
}

/// The hashes of the identifiers in `text`, sorted and without repeats. Words joined by single
/// dashes (`dry-run`) count also joined by underscores (`dry_run`), as argparse spells them.
pub fn identifier_hashes(text: &str) -> Vec<u64> {
    let mut hashes = Vec::new();
    each_identifier(text, |name| hashes.push(identifier_hash(name)));
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// Whether `text` spells the identifier `name` (as [`identifier_hashes`] reads it), without
/// collecting the others.
pub fn spells(text: &str, name: &str) -> bool {
    let mut spelled = false;
    each_identifier(text, |found| spelled |= found == name);
    spelled
}

/// Calls `found` with each identifier of `text` (and each dash-joined run, underscored).
fn each_identifier(text: &str, mut found: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let is_start = |byte: u8| byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80;
    let is_part = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80;
    let mut joined = String::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte.is_ascii_digit() {
            // A number (`0x1f`, `1e5`) is no name.
            while at < bytes.len() && is_part(bytes[at]) {
                at += 1;
            }
            continue;
        }
        if !is_start(byte) {
            at += 1;
            continue;
        }
        joined.clear();
        let mut words = 0;
        loop {
            let start = at;
            while at < bytes.len() && is_part(bytes[at]) {
                at += 1;
            }
            // Identifier bytes are ASCII or whole UTF-8 sequences, so these are char boundaries.
            let Some(word) = text.get(start..at) else {
                break;
            };
            found(word);
            if words > 0 {
                joined.push('_');
            }
            joined.push_str(word);
            words += 1;
            let dash_then_word =
                at + 1 < bytes.len() && bytes[at] == b'-' && is_start(bytes[at + 1]);
            if !dash_then_word {
                break;
            }
            at += 1;
        }
        if words > 1 {
            found(&joined);
        }
    }
}

/// A set of names, and whether it holds all the names of what it was read from.
#[derive(Debug, Default)]
pub struct Vocabulary {
    hashes: HashSet<u64>,
    complete: bool,
}

impl Vocabulary {
    /// The identifiers of the `.py` and `.pyi` files under `roots`. Incomplete when the files
    /// hold more than [`MAX_INSTALLED_BYTES`] or a folder could not be read.
    pub fn of_folders(roots: &[PathBuf]) -> Vocabulary {
        let mut vocabulary = Vocabulary {
            hashes: HashSet::new(),
            complete: true,
        };
        let started = std::time::Instant::now();
        let mut budget = MAX_INSTALLED_BYTES;
        for root in roots {
            vocabulary.read_folder(root, 0, &mut budget);
        }
        tracing::info!(
            names = vocabulary.hashes.len(),
            bytes = MAX_INSTALLED_BYTES - budget,
            complete = vocabulary.complete,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "vocabulary of the installed packages read"
        );
        vocabulary
    }

    /// The identifiers of the texts `texts`.
    pub fn of_texts<'t>(texts: impl IntoIterator<Item = &'t str>) -> Vocabulary {
        let mut hashes = HashSet::new();
        for text in texts {
            each_identifier(text, |name| {
                hashes.insert(identifier_hash(name));
            });
        }
        Vocabulary {
            hashes,
            complete: true,
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.hashes.contains(&identifier_hash(name))
    }

    /// How many names the vocabulary holds.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether every file the vocabulary was asked to read was read.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    fn read_folder(&mut self, folder: &Path, depth: usize, budget: &mut u64) {
        if !self.complete {
            return;
        }
        if depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(folder) else {
            self.complete = depth > 0 || !folder.exists();
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let name = entry.file_name();
                // Caches and tests of installed packages hold no API.
                if name == "__pycache__" || name == "tests" || name == "test" {
                    continue;
                }
                self.read_folder(&path, depth + 1, budget);
            } else if kind.is_file()
                && path
                    .extension()
                    .is_some_and(|extension| extension == "py" || extension == "pyi")
            {
                let Ok(metadata) = entry.metadata() else {
                    continue;
                };
                if metadata.len() > MAX_FILE_BYTES {
                    continue;
                }
                if metadata.len() > *budget {
                    self.complete = false;
                    return;
                }
                *budget -= metadata.len();
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes);
                each_identifier(&text, |name| {
                    self.hashes.insert(identifier_hash(name));
                });
            }
            if !self.complete {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        each_identifier(text, |name| out.push(name.to_string()));
        out
    }

    #[test]
    fn identifiers_are_read_from_code_strings_and_comments_but_numbers_are_not() {
        assert_eq!(
            names("resp.status_code = 0x1f  # see \"héllo\"\nx2 = 1e5"),
            ["resp", "status_code", "see", "héllo", "x2"]
        );
    }

    #[test]
    fn dash_joined_words_are_also_read_underscored() {
        assert!(spells("parser.add_argument('--dry-run')", "dry_run"));
        assert!(!spells("parser.add_argument('--dry-run')", "dry_runs"));
        assert_eq!(
            names("add_argument('--dry-run', a - b)"),
            ["add_argument", "dry", "run", "dry_run", "a", "b"]
        );
    }

    #[test]
    fn a_vocabulary_of_folders_reads_python_files_only() {
        let root = std::env::temp_dir().join(format!("spackle-vocabulary-{}", std::process::id()));
        std::fs::create_dir_all(root.join("pkg/__pycache__")).unwrap();
        std::fs::write(
            root.join("pkg/api.py"),
            "class Client:\n    def fetch_all(self): ...\n",
        )
        .unwrap();
        std::fs::write(root.join("pkg/data.txt"), "not_python").unwrap();
        std::fs::write(root.join("pkg/__pycache__/api.py"), "cached_name").unwrap();
        let vocabulary = Vocabulary::of_folders(std::slice::from_ref(&root));
        std::fs::remove_dir_all(&root).unwrap();
        assert!(vocabulary.is_complete());
        assert!(vocabulary.contains("fetch_all") && vocabulary.contains("Client"));
        assert!(!vocabulary.contains("not_python") && !vocabulary.contains("cached_name"));
        assert!(!Vocabulary::of_folders(&[PathBuf::from("/nonexistent/spackle")]).contains("x"));
    }
}
