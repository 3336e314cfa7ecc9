//! Stubs: definitions rendered as compact Python (`def` lines with annotations, class headers with
//! member signatures, one docstring line, `...` bodies).

use crate::index::model::{ClassInfo, FunctionInfo, FunctionKind, Param, ParamKind, VariableInfo};

/// Defaults and values longer than this are shown as `...`.
const MAX_DEFAULT_CHARS: usize = 24;
const MAX_VALUE_CHARS: usize = 48;
const MAX_DOC_CHARS: usize = 72;
/// Parameter lists longer than this are shortened.
const MAX_PARAMS_CHARS: usize = 110;
/// How many parameters of a shortened list keep their annotations and defaults.
const FULL_PARAMS_OF_LONG_SIGNATURES: usize = 3;

/// The parameter list of a signature, with `/` and `*` markers where they belong.
pub fn params(params: &[Param]) -> String {
    let full = params_with(params, usize::MAX);
    if full.len() <= MAX_PARAMS_CHARS {
        return full;
    }
    // A long signature keeps every name, and the types of its first parameters only.
    params_with(params, FULL_PARAMS_OF_LONG_SIGNATURES)
}

/// The parameter list with annotations and defaults for the first `detailed` parameters (not
/// counting `self`/`cls`); later ones show their name, and `=...` when they have a default.
fn params_with(params: &[Param], detailed: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut saw_star = false;
    let positional_only = params.iter().any(|p| p.kind == ParamKind::PositionalOnly);
    let mut slash_done = !positional_only;
    for (position, param) in params.iter().enumerate() {
        let is_receiver = position == 0 && (param.name == "self" || param.name == "cls");
        let detailed_here = is_receiver || position.saturating_sub(usize::from(params.first().is_some_and(|p| p.name == "self" || p.name == "cls"))) < detailed;
        if !slash_done && param.kind != ParamKind::PositionalOnly {
            parts.push("/".to_string());
            slash_done = true;
        }
        if param.kind == ParamKind::KeywordOnly && !saw_star {
            parts.push("*".to_string());
            saw_star = true;
        }
        let mut text = match param.kind {
            ParamKind::VarPositional => {
                saw_star = true;
                format!("*{}", param.name)
            }
            ParamKind::VarKeyword => format!("**{}", param.name),
            _ => param.name.clone(),
        };
        if !detailed_here {
            if param.default.is_some() {
                text.push_str("=...");
            }
            parts.push(text);
            continue;
        }
        if let Some(annotation) = &param.annotation {
            text.push_str(": ");
            text.push_str(annotation);
        }
        if let Some(default) = &param.default {
            let default = if default.chars().count() > MAX_DEFAULT_CHARS {
                "..."
            } else {
                default.as_str()
            };
            text.push_str(if param.annotation.is_some() {
                " = "
            } else {
                "="
            });
            text.push_str(default);
        }
        parts.push(text);
    }
    if !slash_done {
        parts.push("/".to_string());
    }
    parts.join(", ")
}

/// A `def` line (with decorator lines for properties, class and static methods) at `indent`.
pub fn function(function: &FunctionInfo, indent: &str, with_doc: bool) -> String {
    let mut out = String::new();
    let decorator = match function.kind {
        FunctionKind::Property => Some("property"),
        FunctionKind::ClassMethod => Some("classmethod"),
        FunctionKind::StaticMethod => Some("staticmethod"),
        _ => None,
    };
    if let Some(decorator) = decorator {
        out.push_str(indent);
        out.push('@');
        out.push_str(decorator);
        out.push('\n');
    }
    out.push_str(indent);
    if function.is_async {
        out.push_str("async ");
    }
    out.push_str("def ");
    out.push_str(&function.name);
    out.push('(');
    out.push_str(&params(&function.params));
    out.push(')');
    if let Some(returns) = &function.returns {
        out.push_str(" -> ");
        out.push_str(returns);
    }
    out.push(':');
    match function.docstring.as_deref().filter(|_| with_doc) {
        Some(doc) => {
            out.push('\n');
            out.push_str(indent);
            out.push_str("    ");
            out.push_str(&docstring(doc));
            out.push('\n');
        }
        None => out.push_str(" ...\n"),
    }
    out
}

/// A docstring as one short line, quoted.
pub fn docstring(doc: &str) -> String {
    let first_sentence = match doc.find(". ") {
        Some(end) if end + 1 <= MAX_DOC_CHARS => &doc[..=end],
        _ => doc,
    };
    let mut text: String = first_sentence.chars().take(MAX_DOC_CHARS).collect();
    if text.len() < first_sentence.len() {
        text.push_str("...");
    }
    format!(
        "\"\"\"{}\"\"\"",
        text.replace("\"\"\"", "'''").trim_end_matches('"')
    )
}

/// An attribute or variable line: `name: T = value`, `name = value` or `name: T`.
pub fn variable(variable: &VariableInfo, indent: &str) -> String {
    let mut out = format!("{indent}{}", variable.name);
    if let Some(annotation) = &variable.annotation {
        out.push_str(": ");
        out.push_str(annotation);
    }
    match &variable.value {
        Some(value)
            if variable.annotation.is_none() || value.chars().count() <= MAX_VALUE_CHARS =>
        {
            let value = if value.chars().count() > MAX_VALUE_CHARS {
                "..."
            } else {
                value.as_str()
            };
            out.push_str(" = ");
            out.push_str(value);
        }
        Some(_) => out.push_str(" = ..."),
        None => {
            if variable.annotation.is_none() {
                out.push_str(" = ...");
            }
        }
    }
    out.push('\n');
    out
}

/// The first line of a class: `class Name(Bases):`, plus one docstring line when asked.
pub fn class_header(class: &ClassInfo, qualname: &str, with_doc: bool) -> String {
    let mut out = format!("class {}", class.name);
    if !class.bases.is_empty() {
        out.push('(');
        out.push_str(&class.bases.join(", "));
        out.push(')');
    }
    out.push(':');
    if let Some((outer, _)) = qualname.rsplit_once('.') {
        out.push_str(&format!("  # in {outer}"));
    }
    out.push('\n');
    if let Some(doc) = class.docstring.as_deref().filter(|_| with_doc) {
        out.push_str("    ");
        out.push_str(&docstring(doc));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::resolve::MapSource;

    #[test]
    fn long_signatures_keep_names_and_first_types() {
        let source = MapSource::from_sources(&[(
            "m",
            "m.py",
            "class A:\n    def __init__(self, method: str, url: URL | str, *, params: QueryParamTypes | None = None, headers: HeaderTypes | None = None, cookies: CookieTypes | None = None, content: RequestContent | None = None) -> None: ...\n",
        )]);
        let method = &source.modules["m"].classes[0].methods[0];
        expect_test::expect![[r#"
            def __init__(self, method: str, url: URL | str, *, params: QueryParamTypes | None = None, headers=..., cookies=..., content=...) -> None: ...
        "#]]
        .assert_eq(&function(method, "", false));
    }

    #[test]
    fn stubs_are_compact_python() {
        let source = MapSource::from_sources(&[(
            "m",
            "m.py",
            "class A(B):\n    \"\"\"An A. More.\"\"\"\n    x: int = 1\n    @property\n    def p(self) -> int: ...\n    async def f(self, a, /, b: int = 2, *args, c, **kw) -> str:\n        \"\"\"Does f.\"\"\"\n",
        )]);
        let class = &source.modules["m"].classes[0];
        let mut text = class_header(class, "A", true);
        text.push_str(&variable(&class.attributes[0], "    "));
        for method in &class.methods {
            text.push_str(&function(method, "    ", method.name == "f"));
        }
        expect_test::expect![[r#"
            class A(B):
                """An A."""
                x: int = 1
                @property
                def p(self) -> int: ...
                async def f(self, a, /, b: int = 2, *args, c, **kw) -> str:
                    """Does f."""
        "#]]
        .assert_eq(&text);
    }
}
