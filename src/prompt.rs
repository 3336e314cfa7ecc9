//! Prompts from plain text: fill-in-the-middle templates per code model, the chat prompt for chat
//! models, the clean-up of chat answers, and trimming the text around the cursor to a token budget.
//!
//! Everything here is pure: strings in, strings out. Token counts are estimates behind
//! [`TokenCounter`] until a real tokenizer replaces them.

use crate::llm::{ChatMessage, ContextFile, Role};

/// The marker that stands for the cursor in chat prompts.
pub const HOLE_MARKER: &str = "<CURSOR>";

/// The repository name given to templates with repository-level context.
const REPOSITORY_NAME: &str = "workspace";

/// How a model is asked to fill a hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptFormat {
    /// A fill-in-the-middle prompt in the model's own special tokens.
    Fim(FimTemplate),
    /// A chat: instructions, then the file with a hole marker.
    Chat,
}

/// The fill-in-the-middle formats of the common code models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FimTemplate {
    /// Qwen2.5-Coder: `<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>`, `<|repo_name|>`, `<|file_sep|>`.
    Qwen,
    /// StarCoder2: `<fim_prefix>…<fim_suffix>…<fim_middle>`, `<repo_name>`, `<file_sep>`.
    StarCoder,
    /// DeepSeek-Coder: `<｜fim▁begin｜>…<｜fim▁hole｜>…<｜fim▁end｜>` (fullwidth bars).
    DeepSeek,
    /// CodeLlama: `<PRE> … <SUF>… <MID>`.
    CodeLlama,
    /// Codestral: `[SUFFIX]…[PREFIX]…`.
    Codestral,
}

impl PromptFormat {
    /// Reads `model.template`: `auto` picks by the model's name, `chat` is a chat, anything else
    /// must name a fill-in-the-middle template.
    pub fn resolve(template: &str, model_name: &str) -> Result<PromptFormat, String> {
        let template = template.trim().to_ascii_lowercase();
        match template.as_str() {
            "" | "auto" => Ok(PromptFormat::for_model(model_name)),
            "chat" => Ok(PromptFormat::Chat),
            "qwen" => Ok(PromptFormat::Fim(FimTemplate::Qwen)),
            "starcoder" | "starcoder2" => Ok(PromptFormat::Fim(FimTemplate::StarCoder)),
            "deepseek" | "deepseek-coder" => Ok(PromptFormat::Fim(FimTemplate::DeepSeek)),
            "codellama" => Ok(PromptFormat::Fim(FimTemplate::CodeLlama)),
            "codestral" => Ok(PromptFormat::Fim(FimTemplate::Codestral)),
            other => Err(format!(
                "`model.template` = `{other}` is not one of auto, chat, qwen, starcoder, deepseek, codellama, codestral"
            )),
        }
    }

    /// The format a model name suggests: known code models get their template, others a chat.
    pub fn for_model(model_name: &str) -> PromptFormat {
        // Only the last path part counts: `Qwen/Qwen2.5-Coder-7B`, `library/codellama:7b-code`.
        let name = model_name
            .rsplit('/')
            .next()
            .unwrap_or(model_name)
            .to_ascii_lowercase();
        let template = if name.starts_with("qwen") && name.contains("coder") {
            // The instruct variants were tuned for chat but keep the fill-in-the-middle tokens.
            FimTemplate::Qwen
        } else if name.starts_with("starcoder") {
            FimTemplate::StarCoder
        } else if name.starts_with("deepseek-coder") {
            FimTemplate::DeepSeek
        } else if name.starts_with("codellama") {
            FimTemplate::CodeLlama
        } else if name.starts_with("codestral") {
            FimTemplate::Codestral
        } else {
            return PromptFormat::Chat;
        };
        PromptFormat::Fim(template)
    }

    pub fn name(self) -> &'static str {
        match self {
            PromptFormat::Chat => "chat",
            PromptFormat::Fim(template) => template.name(),
        }
    }
}

impl FimTemplate {
    pub fn name(self) -> &'static str {
        match self {
            FimTemplate::Qwen => "qwen",
            FimTemplate::StarCoder => "starcoder",
            FimTemplate::DeepSeek => "deepseek",
            FimTemplate::CodeLlama => "codellama",
            FimTemplate::Codestral => "codestral",
        }
    }

    /// The template's own tokens that end an answer, most important first.
    pub fn stop_tokens(self) -> &'static [&'static str] {
        match self {
            FimTemplate::Qwen => &[
                "<|endoftext|>",
                "<|file_sep|>",
                "<|fim_prefix|>",
                "<|fim_suffix|>",
                "<|fim_middle|>",
                "<|fim_pad|>",
                "<|repo_name|>",
                "<|im_start|>",
                "<|im_end|>",
            ],
            FimTemplate::StarCoder => &[
                "<|endoftext|>",
                "<file_sep>",
                "<fim_prefix>",
                "<fim_suffix>",
                "<fim_middle>",
                "<fim_pad>",
                "<repo_name>",
            ],
            FimTemplate::DeepSeek => &[
                "<｜end▁of▁sentence｜>",
                "<｜fim▁begin｜>",
                "<｜fim▁hole｜>",
                "<｜fim▁end｜>",
                "<|EOT|>",
            ],
            FimTemplate::CodeLlama => &["<EOT>", "<PRE>", "<SUF>", "<MID>"],
            FimTemplate::Codestral => &["</s>", "[PREFIX]", "[SUFFIX]", "[MIDDLE]"],
        }
    }

    /// Renders the prompt for the hole between `prefix` and `suffix` in `path`, with the context
    /// files first (nearest the hole last, in the order given).
    pub fn render(self, path: &str, prefix: &str, suffix: &str, context: &[ContextFile]) -> String {
        let mut out = String::new();
        match self {
            FimTemplate::Qwen => {
                if !context.is_empty() {
                    out.push_str(&format!("<|repo_name|>{REPOSITORY_NAME}\n"));
                    for file in context {
                        out.push_str(&format!(
                            "<|file_sep|>{}\n{}",
                            file.path,
                            with_newline(&file.text)
                        ));
                    }
                    out.push_str(&format!("<|file_sep|>{path}\n"));
                }
                out.push_str(&format!(
                    "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"
                ));
            }
            FimTemplate::StarCoder => {
                if !context.is_empty() {
                    out.push_str(&format!("<repo_name>{REPOSITORY_NAME}"));
                    for file in context {
                        out.push_str(&format!(
                            "<file_sep>{}\n{}",
                            file.path,
                            with_newline(&file.text)
                        ));
                    }
                    out.push_str(&format!("<file_sep>{path}\n"));
                }
                out.push_str(&format!(
                    "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"
                ));
            }
            FimTemplate::DeepSeek => {
                out.push_str(&format!(
                    "<｜fim▁begin｜>{}{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
                    comment_context(path, context)
                ));
            }
            FimTemplate::CodeLlama => {
                out.push_str(&format!(
                    "<PRE> {}{prefix} <SUF>{suffix} <MID>",
                    comment_context(path, context)
                ));
            }
            FimTemplate::Codestral => {
                let mut files = String::new();
                if !context.is_empty() {
                    for file in context {
                        files.push_str(&format!(
                            "+++++ {}\n{}\n",
                            file.path,
                            with_newline(&file.text)
                        ));
                    }
                    files.push_str(&format!("+++++ {path}\n"));
                }
                out.push_str(&format!("[SUFFIX]{suffix}[PREFIX]{files}{prefix}"));
            }
        }
        out
    }
}

fn with_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

/// Context files as Python comments naming each file, for templates without file separators.
fn comment_context(path: &str, context: &[ContextFile]) -> String {
    if context.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for file in context {
        out.push_str(&format!("# {}\n{}\n", file.path, with_newline(&file.text)));
    }
    out.push_str(&format!("# {path}\n"));
    out
}

/// The system message of chat prompts.
pub const CHAT_SYSTEM_PROMPT: &str = "You complete code. The user shows a file with the marker <CURSOR> where code is missing. \
Answer with only the code that goes at <CURSOR>: no markdown fences, no explanation, no repetition of the code before or after the marker. \
Keep the indentation the surrounding code needs, and stop where the code after the marker begins.";

/// The chat messages that ask a chat model to fill the hole.
pub fn chat_infill_messages(
    path: &str,
    prefix: &str,
    suffix: &str,
    context: &[ContextFile],
) -> Vec<ChatMessage> {
    let mut user = String::new();
    if !context.is_empty() {
        user.push_str("Other files in the repository, for reference:\n\n");
        for file in context {
            user.push_str(&format!(
                "File `{}`:\n```python\n{}```\n\n",
                file.path,
                with_newline(&file.text)
            ));
        }
    }
    user.push_str(&format!(
        "Fill in the code at {HOLE_MARKER} in `{path}`:\n```python\n{prefix}{HOLE_MARKER}{}```",
        with_newline(suffix)
    ));
    vec![
        ChatMessage {
            role: Role::System,
            content: CHAT_SYSTEM_PROMPT.to_string(),
        },
        ChatMessage {
            role: Role::User,
            content: user,
        },
    ]
}

/// Removes what chat models add around code anyway: leading prose, markdown fences, and the
/// hole marker when it is echoed back.
pub fn strip_chat_answer(answer: &str) -> String {
    let answer = answer.replace(HOLE_MARKER, "");
    let lines: Vec<&str> = answer.lines().collect();
    let body: Vec<&str> = match lines
        .iter()
        .position(|line| line.trim_start().starts_with("```"))
    {
        Some(open) => {
            let rest = &lines[open + 1..];
            let close = rest
                .iter()
                .position(|line| line.trim_start().starts_with("```"))
                .unwrap_or(rest.len());
            rest[..close].to_vec()
        }
        None => {
            let start = lines
                .iter()
                .position(|line| !line.trim().is_empty() && !is_prose(line))
                .unwrap_or(lines.len());
            lines[start..].to_vec()
        }
    };
    let mut text = body.join("\n");
    if answer.ends_with('\n') && !text.is_empty() && body.len() == lines.len() {
        text.push('\n');
    }
    text.trim_start_matches('\n').trim_end().to_string()
}

/// Whether a line is a chat model's preamble ("Here is the code:") rather than code.
fn is_prose(line: &str) -> bool {
    let line = line.trim();
    const OPENERS: &[&str] = &[
        "Here",
        "Sure",
        "Certainly",
        "Of course",
        "Okay",
        "OK,",
        "Below",
        "The code",
        "This code",
        "To complete",
        "You can",
    ];
    OPENERS.iter().any(|opener| line.starts_with(opener))
        && (line.ends_with(':') || line.ends_with('.') || line.ends_with('!'))
}

/// Turns a chat model's answer into text to insert at the cursor: strips fences and prose, then
/// drops a repetition of the current line's start (chat models often echo `    return `).
pub fn chat_answer_to_infill(answer: &str, prefix: &str) -> String {
    let text = strip_chat_answer(answer);
    let current_line = prefix.rsplit('\n').next().unwrap_or(prefix);
    if current_line.is_empty() {
        return text;
    }
    if let Some(rest) = text.strip_prefix(current_line) {
        return rest.to_string();
    }
    let typed = current_line.trim_start();
    if current_line.trim().is_empty() {
        // The cursor sits after indentation; the model's own indentation of its first line repeats it.
        return text.trim_start_matches([' ', '\t']).to_string();
    }
    match text.trim_start().strip_prefix(typed) {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// Counts tokens; the estimate stands in until a real tokenizer is wired in.
pub trait TokenCounter {
    fn count(&self, text: &str) -> usize;
}

/// About four bytes per token, which is close for code in English.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApproximateTokens;

impl TokenCounter for ApproximateTokens {
    fn count(&self, text: &str) -> usize {
        approximate_tokens(text)
    }
}

pub fn approximate_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

/// Keeps the text nearest the cursor within `budget` tokens: whole lines of `prefix` counting back
/// from the cursor and whole lines of `suffix` counting forward. The line the cursor is on is always
/// kept. The suffix gets at most a quarter of the budget unless the prefix needs less.
pub fn trim_to_budget<'a>(
    prefix: &'a str,
    suffix: &'a str,
    budget: usize,
    counter: &dyn TokenCounter,
) -> (&'a str, &'a str) {
    let prefix_lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    let suffix_lines: Vec<&str> = suffix.split_inclusive('\n').collect();
    let prefix_need = counter.count(prefix);
    let suffix_need = counter.count(suffix);
    let suffix_share = suffix_need
        .min(budget / 4)
        .max(budget.saturating_sub(prefix_need));
    let prefix_budget = budget.saturating_sub(suffix_share.min(suffix_need));
    let prefix_start = keep_lines(prefix_lines.iter().rev(), prefix_budget, counter);
    let prefix_cut = prefix.len()
        - prefix_lines
            .iter()
            .rev()
            .take(prefix_start)
            .map(|line| line.len())
            .sum::<usize>();
    let prefix_used = counter.count(&prefix[prefix_cut..]);
    let suffix_budget = budget.saturating_sub(prefix_used);
    let suffix_keep = keep_lines(suffix_lines.iter(), suffix_budget, counter);
    let suffix_cut = suffix_lines
        .iter()
        .take(suffix_keep)
        .map(|line| line.len())
        .sum::<usize>();
    (&prefix[prefix_cut..], &suffix[..suffix_cut])
}

/// How many lines, nearest first, fit in `budget`; the first line always counts.
fn keep_lines<'a>(
    lines: impl Iterator<Item = &'a &'a str>,
    budget: usize,
    counter: &dyn TokenCounter,
) -> usize {
    let mut used = 0;
    let mut kept = 0;
    for line in lines {
        let cost = counter.count(line);
        if kept > 0 && used + cost > budget {
            break;
        }
        used += cost;
        kept += 1;
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn context() -> Vec<ContextFile> {
        vec![ContextFile {
            path: "shop/models.py".into(),
            text: "class Item:\n    price: float".into(),
        }]
    }

    fn check_render(template: FimTemplate, with_context: bool, expect: Expect) {
        let context = if with_context { context() } else { Vec::new() };
        let prompt = template.render(
            "shop/cart.py",
            "def total(items):\n    return ",
            "\n\nprint(1)\n",
            &context,
        );
        expect.assert_eq(&prompt);
    }

    #[test]
    fn qwen_template() {
        check_render(
            FimTemplate::Qwen,
            false,
            expect![[r#"
                <|fim_prefix|>def total(items):
                    return <|fim_suffix|>

                print(1)
                <|fim_middle|>"#]],
        );
        check_render(
            FimTemplate::Qwen,
            true,
            expect![[r#"
                <|repo_name|>workspace
                <|file_sep|>shop/models.py
                class Item:
                    price: float
                <|file_sep|>shop/cart.py
                <|fim_prefix|>def total(items):
                    return <|fim_suffix|>

                print(1)
                <|fim_middle|>"#]],
        );
    }

    #[test]
    fn starcoder_template() {
        check_render(
            FimTemplate::StarCoder,
            true,
            expect![[r#"
                <repo_name>workspace<file_sep>shop/models.py
                class Item:
                    price: float
                <file_sep>shop/cart.py
                <fim_prefix>def total(items):
                    return <fim_suffix>

                print(1)
                <fim_middle>"#]],
        );
    }

    #[test]
    fn deepseek_template_uses_fullwidth_tokens() {
        check_render(
            FimTemplate::DeepSeek,
            true,
            expect![[r#"
                <｜fim▁begin｜># shop/models.py
                class Item:
                    price: float

                # shop/cart.py
                def total(items):
                    return <｜fim▁hole｜>

                print(1)
                <｜fim▁end｜>"#]],
        );
        let prompt = FimTemplate::DeepSeek.render("a.py", "x", "y", &[]);
        assert!(
            prompt.contains('\u{ff5c}') && prompt.contains('\u{2581}'),
            "{prompt}"
        );
    }

    #[test]
    fn codellama_template() {
        check_render(
            FimTemplate::CodeLlama,
            false,
            expect![[r#"
                <PRE> def total(items):
                    return  <SUF>

                print(1)
                 <MID>"#]],
        );
    }

    #[test]
    fn codestral_template_puts_the_suffix_first() {
        check_render(
            FimTemplate::Codestral,
            true,
            expect![[r#"
                [SUFFIX]

                print(1)
                [PREFIX]+++++ shop/models.py
                class Item:
                    price: float

                +++++ shop/cart.py
                def total(items):
                    return "#]],
        );
    }

    #[test]
    fn auto_picks_by_model_name() {
        let cases = [
            ("qwen2.5-coder:1.5b", "qwen"),
            ("Qwen/Qwen2.5-Coder-7B-Instruct", "qwen"),
            ("starcoder2:3b", "starcoder"),
            ("deepseek-coder:6.7b-base", "deepseek"),
            ("codellama:7b-code", "codellama"),
            ("codestral-latest", "codestral"),
            ("llama3.1:8b", "chat"),
            ("gpt-4o-mini", "chat"),
            ("claude-3-5-haiku-latest", "chat"),
            ("qwen2.5:7b", "chat"),
        ];
        for (model, expected) in cases {
            assert_eq!(
                PromptFormat::resolve("auto", model).unwrap().name(),
                expected,
                "{model}"
            );
        }
        assert_eq!(
            PromptFormat::resolve("chat", "qwen2.5-coder").unwrap(),
            PromptFormat::Chat
        );
        assert_eq!(
            PromptFormat::resolve("StarCoder", "x").unwrap(),
            PromptFormat::Fim(FimTemplate::StarCoder)
        );
        assert!(PromptFormat::resolve("fim", "x")
            .unwrap_err()
            .contains("`model.template` = `fim`"));
    }

    #[test]
    fn chat_prompt_marks_the_hole() {
        let messages = chat_infill_messages("cart.py", "def f():\n    return ", "\n", &context());
        assert_eq!(messages[0].role, Role::System);
        expect![[r#"
            Other files in the repository, for reference:

            File `shop/models.py`:
            ```python
            class Item:
                price: float
            ```

            Fill in the code at <CURSOR> in `cart.py`:
            ```python
            def f():
                return <CURSOR>
            ```"#]]
        .assert_eq(&messages[1].content);
    }

    #[test]
    fn chat_answers_lose_fences_and_prose() {
        assert_eq!(strip_chat_answer("```python\nx + 1\n```"), "x + 1");
        assert_eq!(
            strip_chat_answer(
                "Here is the code:\n\n```py\n    if x:\n        y()\n```\nThis adds a check."
            ),
            "    if x:\n        y()"
        );
        assert_eq!(
            strip_chat_answer("Sure! Here you go:\nreturn a + b"),
            "return a + b"
        );
        assert_eq!(strip_chat_answer("a + b"), "a + b");
        assert_eq!(strip_chat_answer("total = 0<CURSOR>"), "total = 0");
        assert_eq!(strip_chat_answer("```\nunclosed()"), "unclosed()");
    }

    #[test]
    fn chat_answers_drop_an_echo_of_the_current_line() {
        assert_eq!(
            chat_answer_to_infill("return a + b", "def f(a, b):\n    return "),
            "a + b"
        );
        assert_eq!(
            chat_answer_to_infill("    return a + b", "def f(a, b):\n    "),
            "return a + b"
        );
        assert_eq!(
            chat_answer_to_infill("a + b", "def f(a, b):\n    return "),
            "a + b"
        );
        assert_eq!(
            chat_answer_to_infill("```python\nx = 1\n```", "def f():\n"),
            "x = 1"
        );
    }

    #[test]
    fn budget_keeps_whole_lines_nearest_the_cursor() {
        let prefix = "line one\nline two\nline three\n    cur";
        let suffix = "sor\nafter one\nafter two\nafter three\n";
        let (kept_prefix, kept_suffix) = trim_to_budget(prefix, suffix, 8, &ApproximateTokens);
        assert_eq!(kept_prefix, "line three\n    cur");
        assert_eq!(kept_suffix, "sor\n");
        let (all_prefix, all_suffix) = trim_to_budget(prefix, suffix, 1000, &ApproximateTokens);
        assert_eq!((all_prefix, all_suffix), (prefix, suffix));
        // The cursor's own line stays even when it alone is over budget.
        assert_eq!(
            trim_to_budget(
                "a\nbbbbbbbbbbbbbbbbbbbb",
                "cccccccccccccc\nd",
                1,
                &ApproximateTokens
            ),
            ("bbbbbbbbbbbbbbbbbbbb", "cccccccccccccc\n")
        );
        // A short prefix leaves its share to the suffix (each line's estimate is rounded up).
        let (short_prefix, long_suffix) =
            trim_to_budget("x = ", "1\nabcd\nefgh\nijkl\n", 5, &ApproximateTokens);
        assert_eq!((short_prefix, long_suffix), ("x = ", "1\nabcd\n"));
    }
}
