//! The last suggestion per document, reused while the user types what it predicted.
//!
//! Editors ask for a suggestion on every change and every cursor move (VS Code asked the model
//! four times for one typed character). The model is asked once per pause: a request for the
//! same text and cursor gets the last answer again, and a request after the user typed the start
//! of the suggestion gets the rest of it, as Copilot does. Plain data: byte offsets and strings.

use std::collections::HashMap;

use crate::engine::Completion;

/// One document's last answer: the whole text and the cursor it was computed for.
struct Answer {
    text: String,
    offset: usize,
    completions: Vec<Completion>,
}

/// The last answer per document key.
#[derive(Default)]
pub struct LastAnswers {
    by_document: HashMap<String, Answer>,
}

impl LastAnswers {
    /// Remembers the answer computed for `text` with the cursor at `offset` (also an empty one).
    pub fn remember(
        &mut self,
        key: &str,
        text: String,
        offset: usize,
        completions: Vec<Completion>,
    ) {
        self.by_document.insert(
            key.to_string(),
            Answer {
                text,
                offset,
                completions,
            },
        );
    }

    /// Forgets every answer (after a configuration change, say).
    pub fn clear(&mut self) {
        self.by_document.clear();
    }

    /// Forgets the answers of documents for which `keep` says no.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.by_document.retain(|key, _| keep(key));
    }

    /// The last answer, still good for `text` with the cursor at `offset`: the same answer for
    /// the same text and cursor; after the user typed the start of a suggestion (and changed
    /// nothing else), what remains of it. `None` when the model must be asked.
    pub fn reuse(&self, key: &str, text: &str, offset: usize) -> Option<Vec<Completion>> {
        let answer = self.by_document.get(key)?;
        if offset == answer.offset && text == answer.text {
            return Some(answer.completions.clone());
        }
        let typed_length = offset.checked_sub(answer.offset)?;
        if typed_length == 0
            || text.len() != answer.text.len() + typed_length
            || text.get(..answer.offset) != answer.text.get(..answer.offset)
            || text.get(offset..) != answer.text.get(answer.offset..)
        {
            return None;
        }
        let remaining: Vec<Completion> = answer
            .completions
            .iter()
            .filter_map(|completion| {
                // What the user has of the suggestion now: from its start up to the cursor.
                let written = text.get(completion.start..offset)?;
                let rest = completion.text.strip_prefix(written)?;
                (!rest.is_empty()).then(|| Completion {
                    text: rest.to_string(),
                    start: offset,
                    end: completion.end + typed_length,
                    verification: completion.verification.clone(),
                })
            })
            .collect();
        (!remaining.is_empty()).then_some(remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Verification;

    fn completion(text: &str, start: usize, end: usize) -> Completion {
        Completion {
            text: text.to_string(),
            start,
            end,
            verification: Verification::default(),
        }
    }

    fn answers(text: &str, completions: Vec<Completion>) -> LastAnswers {
        let mut answers = LastAnswers::default();
        let offset = text.find('|').unwrap();
        answers.remember("a.py", text.replace('|', ""), offset, completions);
        answers
    }

    /// The texts reused for `text` with the cursor at `|`.
    fn reused(answers: &LastAnswers, text: &str) -> Option<Vec<(String, usize, usize)>> {
        let offset = text.find('|').unwrap();
        let reused = answers.reuse("a.py", &text.replace('|', ""), offset)?;
        Some(
            reused
                .into_iter()
                .map(|c| (c.text, c.start, c.end))
                .collect(),
        )
    }

    #[test]
    fn the_same_text_and_cursor_get_the_same_answer() {
        let answers = answers("x = |\n", vec![completion("1 + 2", 4, 4)]);
        assert_eq!(
            reused(&answers, "x = |\n"),
            Some(vec![("1 + 2".into(), 4, 4)])
        );
    }

    #[test]
    fn an_empty_answer_is_reused_for_the_same_text_only() {
        let answers = answers("x = |\n", vec![]);
        assert_eq!(reused(&answers, "x = |\n"), Some(vec![]));
        assert_eq!(reused(&answers, "x = 1|\n"), None);
    }

    #[test]
    fn typing_the_start_of_the_suggestion_leaves_the_rest() {
        let answers = answers("x = |\ny\n", vec![completion("1 + 2", 4, 4)]);
        assert_eq!(
            reused(&answers, "x = 1 |\ny\n"),
            Some(vec![("+ 2".into(), 6, 6)])
        );
    }

    #[test]
    fn a_suggestion_that_replaces_text_keeps_its_end_after_the_typing() {
        // The suggestion replaces the `)` after the cursor.
        let answers = answers("f(|)\n", vec![completion("a, b)", 2, 3)]);
        assert_eq!(
            reused(&answers, "f(a|)\n"),
            Some(vec![(", b)".into(), 3, 4)])
        );
    }

    #[test]
    fn typing_something_else_or_typing_it_all_asks_again() {
        let answers = answers("x = |\n", vec![completion("1 + 2", 4, 4)]);
        assert_eq!(reused(&answers, "x = 2|\n"), None);
        assert_eq!(reused(&answers, "x = 1 + 2|\n"), None);
    }

    #[test]
    fn a_change_elsewhere_or_a_cursor_moved_back_asks_again() {
        let answers = answers("a = 0\nx = |\n", vec![completion("1 + 2", 10, 10)]);
        assert_eq!(reused(&answers, "a = 9\nx = 1|\n"), None);
        assert_eq!(reused(&answers, "a = 0\nx =| \n"), None);
        assert_eq!(reused(&answers, "a = 0\nx = 1|\nz\n"), None);
    }

    #[test]
    fn another_document_has_no_answer() {
        let answers = answers("x = |\n", vec![completion("1", 4, 4)]);
        assert!(answers.reuse("b.py", "x = \n", 4).is_none());
    }
}
