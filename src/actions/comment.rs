//! "Comment this code": the model adds comments to the selected lines, and the check makes sure
//! that only comments changed: every other token of the document is identical before and after.

use super::{
    answer_code, code_shape, common_indentation, dedent, line_end, line_start, reindent, Edit,
    Offer, Plan,
};
use crate::llm::{ChatMessage, Role};
use crate::store::parse_python;

/// Selections longer than this many lines are not sent.
const MAX_LINES: usize = 200;

const SYSTEM: &str = "You add concise comments to Python code. Comments explain intent and reasons, not syntax: \
never restate what a line obviously does. Do not change any code: not a token, not the indentation. \
Answer with the whole code, commented, in one ```python block and nothing else.";

/// The whole lines that hold `start..end`.
pub fn selected_lines(text: &str, start: usize, end: usize) -> (usize, usize) {
    let (start, end) = (start.min(end), start.max(end));
    let first = line_start(text, start);
    // A selection that ends at the start of a line does not include that line.
    let last = if end > start && end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') {
        end
    } else {
        line_end(text, end)
    };
    (first, last.max(first))
}

pub(crate) fn plan(text: &str, start: usize, end: usize) -> Result<Plan<'static>, String> {
    let (first, last) = selected_lines(text, start, end);
    let selection = &text[first..last];
    if selection.trim().is_empty() {
        return Err("the selection holds no code to comment".into());
    }
    if selection.lines().count() > MAX_LINES {
        return Err(format!(
            "the selection is longer than {MAX_LINES} lines; select less"
        ));
    }
    let indent = common_indentation(selection);
    let user = format!(
        "Add comments to this code:\n```python\n{}```",
        dedent(selection)
    );
    let messages = vec![
        ChatMessage {
            role: Role::System,
            content: SYSTEM.into(),
        },
        ChatMessage {
            role: Role::User,
            content: user,
        },
    ];
    let document = text.to_string();
    let verify = move |answer: &str| verify(&document, first, last, &indent, answer);
    Ok(Plan {
        messages,
        verify: Box::new(verify),
    })
}

/// Checks a commented version of the lines `first..last` of `document`.
pub fn verify(
    document: &str,
    first: usize,
    last: usize,
    indent: &str,
    answer: &str,
) -> Result<Offer, String> {
    let mut code = answer_code(answer);
    if code.trim().is_empty() {
        return Err("the answer holds no code".into());
    }
    let answer_indent = common_indentation(&code);
    code = reindent(&code, &answer_indent, indent);
    if document[first..last].ends_with('\n') && !code.ends_with('\n') {
        code.push('\n');
    }
    let old_comments = comment_count(&document[first..last]);
    let new_comments = comment_count(&code);
    if new_comments <= old_comments {
        return Err("the answer adds no comment".into());
    }
    let mut after = String::with_capacity(document.len() + code.len());
    after.push_str(&document[..first]);
    after.push_str(&code);
    after.push_str(&document[last..]);
    let (Some(old_tree), Some(new_tree)) =
        (parse_python(document, None), parse_python(&after, None))
    else {
        return Err("the code could not be parsed".into());
    };
    let old_shape = code_shape(old_tree.root_node(), document, &|_| false);
    let new_shape = code_shape(new_tree.root_node(), &after, &|_| false);
    if old_shape != new_shape {
        return Err(format!(
            "the answer changes the code itself, not only comments ({})",
            first_difference(&document[first..last], &code)
        ));
    }
    Ok(Offer {
        edit: Edit {
            start: first,
            end: last,
            text: code,
        },
        rounds: 1,
        checks: vec!["only-comments-changed", "syntax"],
    })
}

/// How many comment tokens a piece of code has (a `#` outside strings, found by the parser).
fn comment_count(code: &str) -> usize {
    let dedented = dedent(code);
    let Some(tree) = parse_python(&dedented, None) else {
        return 0;
    };
    let mut count = 0;
    let mut cursor = tree.walk();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "comment" {
            count += 1;
        }
        for child in node.children(&mut cursor) {
            stack.push(child);
        }
    }
    count
}

/// The first code line that differs once comments are removed, for the refusal message.
fn first_difference(before: &str, after: &str) -> String {
    let strip = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| match line.find('#') {
                Some(at) => line[..at].trim_end().to_string(),
                None => line.trim_end().to_string(),
            })
            .filter(|line| !line.trim().is_empty())
            .collect()
    };
    let (old, new) = (strip(before), strip(after));
    for (a, b) in old.iter().zip(&new) {
        if a != b {
            return format!("`{}` became `{}`", a.trim(), b.trim());
        }
    }
    if old.len() != new.len() {
        return "lines were added or removed".into();
    }
    "the structure changed".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "def area(w, h):\n    total = w * h\n    return total\n";

    #[test]
    fn comments_only_are_accepted_with_the_selection_indentation() {
        let (first, last) = selected_lines(DOCUMENT, 20, 40);
        assert_eq!(
            &DOCUMENT[first..last],
            "    total = w * h\n    return total\n"
        );
        let answer = "```python\n# The area of the rectangle.\ntotal = w * h\nreturn total\n```";
        let offer = verify(DOCUMENT, first, last, "    ", answer).unwrap();
        assert_eq!(
            offer.edit.text,
            "    # The area of the rectangle.\n    total = w * h\n    return total\n"
        );
    }

    #[test]
    fn a_comment_that_changes_code_is_refused() {
        let (first, last) = selected_lines(DOCUMENT, 20, 40);
        let answer = "```python\n# The area, doubled.\ntotal = 2 * w * h\nreturn total\n```";
        let reason = verify(DOCUMENT, first, last, "    ", answer).unwrap_err();
        assert!(
            reason.contains("changes the code") && reason.contains("2 * w * h"),
            "{reason}"
        );
        let uncommented = verify(
            DOCUMENT,
            first,
            last,
            "    ",
            "total = w * h\nreturn total\n",
        )
        .unwrap_err();
        assert!(uncommented.contains("no comment"), "{uncommented}");
    }

    #[test]
    fn a_hash_inside_a_string_is_not_a_comment() {
        let document = "x = 1\n";
        let reason = verify(document, 0, 6, "", "x = '# not a comment'\n").unwrap_err();
        assert!(reason.contains("no comment"), "{reason}");
    }
}
