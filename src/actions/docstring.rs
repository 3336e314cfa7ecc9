//! "Write a docstring": style detection (Google, NumPy, reST, plain), the prompt with the project's
//! own documented functions as examples, and the check of the answer: every parameter documented
//! and none invented, documented exceptions raisable by the body, a return section that agrees
//! with the annotation, valid quoting, and the code itself unchanged.

use tree_sitter::{Node, Tree};

use super::{answer_code, code_shape, dedent, error_count, line_start, Edit, Offer, Plan};
use crate::index::Index;
use crate::llm::{ChatMessage, Role};
use crate::store::parse_python;

/// The docstring conventions spackle recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Google,
    Numpy,
    Rest,
    Plain,
}

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Style::Google => "Google",
            Style::Numpy => "NumPy",
            Style::Rest => "reStructuredText (Sphinx field lists)",
            Style::Plain => "plain prose",
        }
    }
}

/// The style of one docstring's text.
pub fn style_of(docstring: &str) -> Style {
    let lines: Vec<&str> = docstring.lines().map(str::trim).collect();
    if lines.iter().any(|line| {
        line.starts_with(":param") || line.starts_with(":return") || line.starts_with(":raise")
    }) {
        return Style::Rest;
    }
    for pair in lines.windows(2) {
        let underline = pair[1];
        if matches!(
            pair[0],
            "Parameters" | "Returns" | "Raises" | "Yields" | "Other Parameters"
        ) && underline.len() >= 3
            && underline.chars().all(|c| c == '-')
        {
            return Style::Numpy;
        }
    }
    if lines.iter().any(|line| GOOGLE_HEADERS.contains(line)) {
        return Style::Google;
    }
    Style::Plain
}

const GOOGLE_HEADERS: &[&str] = &[
    "Args:",
    "Arguments:",
    "Parameters:",
    "Params:",
    "Keyword Args:",
    "Keyword Arguments:",
    "Returns:",
    "Return:",
    "Yields:",
    "Raises:",
];

/// The project's style: the most common structured style among `docstrings`, or Google when none
/// of them is structured.
pub fn detect_style<'a>(docstrings: impl IntoIterator<Item = &'a str>) -> Style {
    structured_style(docstrings).unwrap_or(Style::Google)
}

/// The most common structured style among `docstrings`, or `None` when none of them is structured.
pub fn structured_style<'a>(docstrings: impl IntoIterator<Item = &'a str>) -> Option<Style> {
    let mut counts = [0usize; 3];
    for docstring in docstrings {
        match style_of(docstring) {
            Style::Google => counts[0] += 1,
            Style::Numpy => counts[1] += 1,
            Style::Rest => counts[2] += 1,
            Style::Plain => {}
        }
    }
    let best = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, count)| (**count, std::cmp::Reverse(*i)));
    match best {
        Some((_, 0)) | None => None,
        Some((0, _)) => Some(Style::Google),
        Some((1, _)) => Some(Style::Numpy),
        Some(_) => Some(Style::Rest),
    }
}

/// What a docstring says, as far as the checks need it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Documented {
    pub style: Option<Style>,
    /// Documented parameter names, without leading stars.
    pub parameters: Vec<String>,
    /// Whether the docstring has a parameters section at all.
    pub has_parameter_section: bool,
    /// Documented exception names as written (possibly dotted).
    pub raises: Vec<String>,
    pub has_returns: bool,
    pub has_yields: bool,
}

/// Reads the parameters, exceptions and return sections of a docstring.
pub fn parse_docstring(docstring: &str) -> Documented {
    let style = style_of(docstring);
    let mut documented = Documented {
        style: Some(style),
        ..Documented::default()
    };
    let text = dedent_docstring(docstring);
    let lines: Vec<&str> = text.lines().collect();
    match style {
        Style::Plain => {}
        Style::Rest => {
            for line in lines.iter().map(|line| line.trim()) {
                let Some(field) = line
                    .strip_prefix(':')
                    .and_then(|rest| rest.split_once(':'))
                    .map(|(field, _)| field)
                else {
                    continue;
                };
                let words: Vec<&str> = field.split_whitespace().collect();
                match words.first().copied() {
                    Some("param" | "parameter" | "arg" | "argument" | "key" | "keyword") => {
                        documented.has_parameter_section = true;
                        if let Some(name) = words.last().filter(|_| words.len() >= 2) {
                            documented
                                .parameters
                                .push(name.trim_start_matches('*').to_string());
                        }
                    }
                    Some("raises" | "raise" | "except" | "exception") => {
                        if let Some(name) = words.get(1) {
                            documented.raises.push(name.to_string());
                        }
                    }
                    Some("returns" | "return" | "rtype") => documented.has_returns = true,
                    Some("yields" | "yield" | "ytype") => documented.has_yields = true,
                    _ => {}
                }
            }
        }
        Style::Google => {
            let mut section = "";
            let mut item_indent: Option<usize> = None;
            let mut header_indent = 0;
            for line in &lines {
                let trimmed = line.trim();
                let indent = line.len() - line.trim_start().len();
                if GOOGLE_HEADERS.contains(&trimmed) {
                    section = trimmed;
                    header_indent = indent;
                    item_indent = None;
                    match section {
                        "Args:" | "Arguments:" | "Parameters:" | "Params:" | "Keyword Args:"
                        | "Keyword Arguments:" => documented.has_parameter_section = true,
                        "Returns:" | "Return:" => documented.has_returns = true,
                        "Yields:" => documented.has_yields = true,
                        _ => {}
                    }
                    continue;
                }
                if trimmed.is_empty() {
                    continue;
                }
                if indent <= header_indent {
                    section = "";
                    continue;
                }
                let item = *item_indent.get_or_insert(indent);
                if indent != item {
                    continue;
                }
                let head = trimmed.split(':').next().unwrap_or("").trim();
                let name = head.split(['(', ' ']).next().unwrap_or("").trim();
                match section {
                    "Args:" | "Arguments:" | "Parameters:" | "Params:" | "Keyword Args:"
                    | "Keyword Arguments:"
                        if !name.is_empty() =>
                    {
                        documented
                            .parameters
                            .push(name.trim_start_matches('*').to_string());
                    }
                    "Raises:" if !name.is_empty() => documented.raises.push(name.to_string()),
                    _ => {}
                }
            }
        }
        Style::Numpy => {
            let mut section = "";
            let mut index = 0;
            while index < lines.len() {
                let trimmed = lines[index].trim();
                let underlined = lines
                    .get(index + 1)
                    .map(|next| next.trim())
                    .is_some_and(|next| next.len() >= 3 && next.chars().all(|c| c == '-'));
                if underlined && !trimmed.is_empty() {
                    section = match trimmed {
                        "Parameters" | "Other Parameters" | "Keyword Arguments" => {
                            documented.has_parameter_section = true;
                            "parameters"
                        }
                        "Returns" => {
                            documented.has_returns = true;
                            ""
                        }
                        "Yields" => {
                            documented.has_yields = true;
                            ""
                        }
                        "Raises" => "raises",
                        _ => "",
                    };
                    index += 2;
                    continue;
                }
                let line = lines[index];
                let at_margin = !line.starts_with([' ', '\t']) && !trimmed.is_empty();
                if at_margin {
                    match section {
                        "parameters" => {
                            let names = trimmed
                                .split(" :")
                                .next()
                                .unwrap_or("")
                                .trim_end_matches(':');
                            for name in names.split(',') {
                                let name = name.trim().trim_start_matches('*');
                                if !name.is_empty() {
                                    documented.parameters.push(name.to_string());
                                }
                            }
                        }
                        "raises" => {
                            let name = trimmed.split([' ', ':']).next().unwrap_or("");
                            if !name.is_empty() {
                                documented.raises.push(name.to_string());
                            }
                        }
                        _ => {}
                    }
                }
                index += 1;
            }
        }
    }
    documented
}

/// A docstring's text without the indentation of its continuation lines.
fn dedent_docstring(docstring: &str) -> String {
    let mut lines = docstring.lines();
    let first = lines.next().unwrap_or("").trim().to_string();
    let rest: Vec<&str> = lines.collect();
    let rest = dedent(&rest.join("\n"));
    if rest.is_empty() {
        first
    } else {
        format!("{first}\n{rest}")
    }
}

/// A function or class that can receive a docstring.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub is_class: bool,
    pub name: String,
    /// The bytes of the whole definition, decorators included, from the start of its first line.
    pub start: usize,
    pub end: usize,
    /// The parameters a docstring may document (without `self` and `cls`, without stars).
    pub parameters: Vec<String>,
    /// Private parameters with a default (`_cache=cache`), which need not be documented.
    pub private_defaults: Vec<String>,
    /// The return annotation's text.
    pub returns: Option<String>,
    /// Whether the body returns a value, and whether it yields.
    pub returns_value: bool,
    pub yields: bool,
    /// Names of exceptions raised or caught in the body, and every identifier it mentions.
    pub raised: Vec<String>,
    pub mentioned: Vec<String>,
    /// The existing docstring statement, as bytes of the document.
    pub docstring: Option<(usize, usize)>,
    /// Where a new docstring goes (the start of the body's first line) and its indentation.
    pub body_line_start: usize,
    pub body_indent: String,
    /// The docstring's text, when there is one.
    pub docstring_text: Option<String>,
}

/// The definition whose header holds `offset`, if any.
pub fn target_at(text: &str, tree: &Tree, offset: usize) -> Option<Target> {
    let path = crate::check::path_to(tree.root_node(), offset, offset);
    let definition = path
        .iter()
        .rev()
        .find(|node| {
            matches!(node.kind(), "function_definition" | "class_definition")
                && in_header(node, offset, text)
        })
        .copied()?;
    target_of(text, definition)
}

/// Whether `offset` is on the header of a definition: from its start up to the end of the line
/// that ends the header (the body's line, for a one-line definition).
fn in_header(node: &Node, offset: usize, text: &str) -> bool {
    let header_end = match node.child_by_field_name("body") {
        Some(body) if body.start_position().row > node.start_position().row => {
            line_start(text, body.start_byte())
        }
        Some(body) => body.start_byte() + 1,
        None => node.end_byte(),
    };
    offset >= node.start_byte() && offset < header_end
}

/// The docstring statement of a definition's body: its first statement, when it is a string.
fn docstring_node<'t>(definition: Node<'t>) -> Option<Node<'t>> {
    let body = definition.child_by_field_name("body")?;
    let first = body.named_child(0)?;
    let string = (first.kind() == "expression_statement")
        .then(|| first.named_child(0))
        .flatten()?;
    (string.kind() == "string" && first.named_child_count() == 1).then_some(first)
}

/// Reads what the checks need from a definition node.
pub fn target_of(text: &str, definition: Node) -> Option<Target> {
    let outer = definition
        .parent()
        .filter(|parent| parent.kind() == "decorated_definition")
        .unwrap_or(definition);
    let name = definition
        .child_by_field_name("name")?
        .utf8_text(text.as_bytes())
        .ok()?
        .to_string();
    let is_class = definition.kind() == "class_definition";
    let body = definition.child_by_field_name("body")?;
    let body_line_start = line_start(text, body.start_byte());
    let body_indent = if body.start_position().row == definition.start_position().row {
        format!(
            "{}    ",
            super::indentation_at(text, line_start(text, definition.start_byte()))
        )
    } else {
        super::indentation_at(text, body_line_start).to_string()
    };
    let parameter_source = if is_class {
        init_method(definition, text)
    } else {
        Some(definition)
    };
    let all_parameters = parameter_source
        .map(|function| parameters_of(function, text))
        .unwrap_or_default();
    let private_defaults = all_parameters
        .iter()
        .filter(|(name, has_default)| *has_default && name.starts_with('_'))
        .map(|(name, _)| name.clone())
        .collect();
    let parameters = all_parameters.into_iter().map(|(name, _)| name).collect();
    let returns = definition
        .child_by_field_name("return_type")
        .and_then(|node| node.utf8_text(text.as_bytes()).ok())
        .map(|annotation| annotation.trim().to_string());
    let mut target = Target {
        is_class,
        name,
        start: line_start(text, outer.start_byte()),
        end: outer.end_byte(),
        parameters,
        private_defaults,
        returns,
        returns_value: false,
        yields: false,
        raised: Vec::new(),
        mentioned: Vec::new(),
        docstring: None,
        body_line_start,
        body_indent,
        docstring_text: None,
    };
    if let Some(statement) = docstring_node(definition) {
        target.docstring = Some((statement.start_byte(), statement.end_byte()));
        let raw = statement.utf8_text(text.as_bytes()).unwrap_or("");
        target.docstring_text = string_content(raw);
    }
    walk_body(body, text, &mut target, true);
    Some(target)
}

fn init_method<'t>(class: Node<'t>, text: &str) -> Option<Node<'t>> {
    let body = class.child_by_field_name("body")?;
    let mut cursor = body.walk();
    let found = body.named_children(&mut cursor).find_map(|child| {
        let function = if child.kind() == "decorated_definition" {
            child.child_by_field_name("definition")?
        } else {
            child
        };
        let name = function
            .child_by_field_name("name")?
            .utf8_text(text.as_bytes())
            .ok()?;
        (function.kind() == "function_definition" && name == "__init__").then_some(function)
    });
    found
}

/// The parameters of a function, each with whether it has a default value.
fn parameters_of(function: Node, text: &str) -> Vec<(String, bool)> {
    let Some(parameters) = function.child_by_field_name("parameters") else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut cursor = parameters.walk();
    for parameter in parameters.named_children(&mut cursor) {
        let name_node = match parameter.kind() {
            "identifier" => Some(parameter),
            "typed_parameter" | "list_splat_pattern" | "dictionary_splat_pattern" => {
                let mut inner = parameter.walk();
                let found =
                    parameter
                        .named_children(&mut inner)
                        .find_map(|child| match child.kind() {
                            "identifier" => Some(child),
                            "list_splat_pattern" | "dictionary_splat_pattern" => {
                                child.named_child(0)
                            }
                            _ => None,
                        });
                found
            }
            "default_parameter" | "typed_default_parameter" => {
                parameter.child_by_field_name("name")
            }
            _ => None,
        };
        if let Some(name) = name_node.and_then(|node| node.utf8_text(text.as_bytes()).ok()) {
            // `self` and `cls` are implicit only as the first parameter.
            let implicit =
                (name == "self" || name == "cls") && parameter.prev_named_sibling().is_none();
            if !implicit {
                let has_default = matches!(
                    parameter.kind(),
                    "default_parameter" | "typed_default_parameter"
                );
                names.push((name.to_string(), has_default));
            }
        }
    }
    names
}

/// Collects returns, yields, raised and caught exceptions and mentioned names; nested functions
/// and classes count only for the names they mention.
fn walk_body(node: Node, text: &str, target: &mut Target, own: bool) {
    let mut stack = vec![(node, own)];
    while let Some((node, own)) = stack.pop() {
        match node.kind() {
            "return_statement" if own && node.named_child_count() > 0 => {
                target.returns_value = true
            }
            "yield" if own => target.yields = true,
            "raise_statement" => {
                if let Some(exception) = node.named_child(0) {
                    let callee = if exception.kind() == "call" {
                        exception.child_by_field_name("function")
                    } else {
                        Some(exception)
                    };
                    if let Some(name) =
                        callee.and_then(|callee| callee.utf8_text(text.as_bytes()).ok())
                    {
                        target.raised.push(last_segment(name).to_string());
                    }
                }
            }
            "except_clause" => {
                if let Some(caught) = node.named_child(0) {
                    let mut names = Vec::new();
                    collect_identifiers(caught, text, &mut names);
                    target.raised.extend(names);
                }
            }
            "identifier" => {
                if let Ok(name) = node.utf8_text(text.as_bytes()) {
                    target.mentioned.push(name.to_string());
                }
            }
            _ => {}
        }
        let nested = matches!(
            node.kind(),
            "function_definition" | "class_definition" | "lambda"
        );
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            stack.push((child, own && !nested));
        }
    }
}

fn collect_identifiers(node: Node, text: &str, names: &mut Vec<String>) {
    if node.kind() == "identifier" {
        if let Ok(name) = node.utf8_text(text.as_bytes()) {
            names.push(name.to_string());
        }
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect_identifiers(child, text, names);
    }
}

fn last_segment(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name).trim()
}

/// The text between the quotes of a plain string literal (prefix `r`, `u` or none); `None` for
/// f-strings, bytes and concatenations.
pub fn string_content(literal: &str) -> Option<String> {
    let literal = literal.trim();
    let prefix_len = literal.find(['"', '\'']).unwrap_or(literal.len());
    let prefix = literal[..prefix_len].to_ascii_lowercase();
    if !matches!(prefix.as_str(), "" | "r" | "u") {
        return None;
    }
    let body = &literal[prefix_len..];
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        if body.len() >= 2 * quote.len() && body.starts_with(quote) && body.ends_with(quote) {
            let inner = &body[quote.len()..body.len() - quote.len()];
            if inner.contains(quote) && quote.len() == 3 {
                return None;
            }
            return Some(inner.to_string());
        }
    }
    None
}

/// Checks a docstring's text against the definition it documents; `Err` says what is wrong.
pub fn check_docstring(target: &Target, docstring: &str) -> Result<(), String> {
    if docstring.trim().is_empty() {
        return Err("the docstring is empty".into());
    }
    let documented = parse_docstring(docstring);
    for name in &documented.parameters {
        // Keys of `**kwargs` documented by name count as invented too: allowing them would let
        // every invented parameter through for such functions (bench docstrings measured it).
        if !target.parameters.iter().any(|parameter| parameter == name) {
            let known = if target.parameters.is_empty() {
                "none".to_string()
            } else {
                target.parameters.join(", ")
            };
            return Err(format!("it documents a parameter `{name}` that the signature does not have (parameters: {known})"));
        }
    }
    let structured = documented.style.is_some_and(|style| style != Style::Plain);
    if structured && !target.is_class {
        // Private parameters with a default are usually a cached global, not part of the API.
        if let Some(missing) = target
            .parameters
            .iter()
            .filter(|parameter| !target.private_defaults.contains(parameter))
            .find(|parameter| !documented.parameters.contains(parameter))
        {
            return Err(format!("it does not document the parameter `{missing}`"));
        }
    }
    for exception in &documented.raises {
        let name = last_segment(exception);
        let raisable = target.raised.iter().any(|raised| raised == name)
            || target.mentioned.iter().any(|mentioned| mentioned == name);
        if !raisable {
            return Err(format!(
                "it documents `{exception}` as raised, but the body never raises it"
            ));
        }
    }
    if !target.is_class {
        let returns_nothing = match target.returns.as_deref() {
            Some(annotation) => matches!(
                annotation,
                "None" | "NoReturn" | "typing.NoReturn" | "Never"
            ),
            None => !target.returns_value && !target.yields,
        };
        if documented.has_returns && returns_nothing && !target.yields {
            return Err("it documents a return value, but the function returns None".into());
        }
    }
    Ok(())
}

/// Renders a docstring's text as a statement at `indent`, ending with a newline.
pub fn render(docstring: &str, indent: &str) -> Result<String, String> {
    let text = dedent_docstring(docstring.trim_matches('\n'));
    let text = text.trim_end();
    if text.contains("\"\"\"") {
        return Err("the docstring contains triple quotes".into());
    }
    let raw = if text.contains('\\') { "r" } else { "" };
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim();
    let rest: Vec<&str> = lines.collect();
    if rest.is_empty() {
        let closing = if first.ends_with('"') { " " } else { "" };
        return Ok(format!("{indent}{raw}\"\"\"{first}{closing}\"\"\"\n"));
    }
    let mut out = format!("{indent}{raw}\"\"\"{first}\n");
    for line in rest {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str(indent);
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out.push_str(&format!("{indent}\"\"\"\n"));
    Ok(out)
}

const SYSTEM: &str = "You write docstrings for Python code. Document exactly the parameters the signature has, \
only exceptions the body can raise, and a return section only when something is returned. \
Do not change the code. Answer with the complete definition, its docstring added, in one ```python block and nothing else.";

/// Every docstring of a document, for style detection.
fn docstrings_of(text: &str, tree: &Tree) -> Vec<String> {
    let mut docstrings = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if matches!(node.kind(), "function_definition" | "class_definition") {
            if let Some(content) = docstring_node(node)
                .and_then(|s| s.utf8_text(text.as_bytes()).ok())
                .and_then(string_content)
            {
                docstrings.push(content);
            }
        }
        let mut cursor = node.walk();
        stack.extend(
            node.named_children(&mut cursor)
                .filter(|child| child.kind() != "string"),
        );
    }
    docstrings
}

/// How many bytes of documentation of called functions go into the prompt.
const CALLEE_BUDGET: usize = 1500;

/// The names a definition calls, in order of first appearance.
fn called_names(root: Node, text: &str, start: usize, end: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.end_byte() <= start || node.start_byte() >= end {
            continue;
        }
        if node.kind() == "call" {
            let callee = node.child_by_field_name("function");
            let name = match callee.map(|callee| (callee.kind(), callee)) {
                Some(("identifier", callee)) => Some(callee),
                Some(("attribute", callee)) => callee.child_by_field_name("attribute"),
                _ => None,
            };
            if let Some(name) = name.and_then(|name| name.utf8_text(text.as_bytes()).ok()) {
                if !names.iter().any(|known| known == name) {
                    names.push(name.to_string());
                }
            }
        }
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    names
}

/// The signature and docstring of the functions a definition calls, from the document itself or
/// from the index, within [`CALLEE_BUDGET`].
fn callee_documentation(text: &str, tree: &Tree, target: &Target, index: Option<&Index>) -> String {
    let mut out = String::new();
    for name in called_names(tree.root_node(), text, target.start, target.end) {
        if name == target.name {
            continue;
        }
        let entry = match find_definition(tree.root_node(), text, &name)
            .and_then(|node| target_of(text, node).zip(Some(node)))
        {
            Some((callee, node)) => callee.docstring_text.map(|docstring| {
                let header_end = node
                    .child_by_field_name("body")
                    .map_or(node.end_byte(), |body| body.start_byte());
                let header = text[line_start(text, node.start_byte())..header_end].trim();
                let first = docstring
                    .trim()
                    .split("\n\n")
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                format!("{header}\n    \"\"\"{first}\"\"\"\n")
            }),
            None => index.and_then(|index| indexed_documentation(index, &name)),
        };
        if let Some(entry) = entry {
            if out.len() + entry.len() > CALLEE_BUDGET {
                break;
            }
            out.push_str(&entry);
        }
    }
    out
}

/// The signature and docstring of an indexed module-level function.
pub(crate) fn indexed_documentation(index: &Index, name: &str) -> Option<String> {
    use crate::index::ModuleSource;
    let hit = index
        .find_named(&[name.to_string()], "")
        .into_iter()
        .next()?;
    let module = index.module(&hit.module)?;
    let function = module
        .functions
        .iter()
        .find(|function| function.name == name)?;
    let docstring = function.docstring.as_deref()?;
    let params: Vec<&str> = function
        .params
        .iter()
        .map(|param| param.name.as_str())
        .collect();
    let returns = function
        .returns
        .as_deref()
        .map(|returns| format!(" -> {returns}"))
        .unwrap_or_default();
    Some(format!(
        "def {name}({}){returns}:  # in {}\n    \"\"\"{}\"\"\"\n",
        params.join(", "),
        hit.module,
        docstring.trim()
    ))
}

/// The style a setting forces, or `None` for `auto`.
pub fn forced_style(setting: crate::config::DocstringStyle) -> Option<Style> {
    use crate::config::DocstringStyle;
    match setting {
        DocstringStyle::Auto => None,
        DocstringStyle::Google => Some(Style::Google),
        DocstringStyle::Numpy => Some(Style::Numpy),
        DocstringStyle::Rest => Some(Style::Rest),
        DocstringStyle::Plain => Some(Style::Plain),
    }
}

/// The style a docstring for `target` should follow and the examples to show: the forced style,
/// else the document's own, else the one most of the project's retrieved examples use, else
/// Google.
pub fn style_and_examples(
    text: &str,
    tree: &Tree,
    target: &Target,
    index: Option<(&Index, &str, super::examples::ReadSource)>,
    forced: Option<Style>,
) -> (Style, Vec<super::examples::Example>) {
    let docstrings = docstrings_of(text, tree);
    let own_style = forced.or_else(|| structured_style(docstrings.iter().map(String::as_str)));
    let (examples, pool_style) = super::examples::retrieve(text, tree, target, index, own_style);
    (own_style.or(pool_style).unwrap_or(Style::Google), examples)
}

pub(crate) fn plan(
    text: &str,
    tree: &Tree,
    offset: usize,
    index: Option<(&Index, &str)>,
    forced: Option<Style>,
) -> Result<Plan<'static>, String> {
    let target =
        target_at(text, tree, offset).ok_or("there is no function or class definition here")?;
    let read = index.map(|(index, _)| super::examples::read_from_disk(index));
    let (style, examples) = style_and_examples(
        text,
        tree,
        &target,
        index
            .zip(read.as_ref())
            .map(|((index, module), read)| (index, module, read as super::examples::ReadSource)),
        forced,
    );
    let source = &text[target.start..target.end];
    let mut user = String::new();
    if !examples.is_empty() {
        user.push_str("Documented functions of this project, for the style:\n");
        for example in &examples {
            let from = match &example.module {
                Some(module) => format!("# from {module}\n"),
                None => String::new(),
            };
            user.push_str(&format!("```python\n{from}{}\n```\n", example.source));
        }
        user.push('\n');
    }
    let index = index.map(|(index, _)| index);
    let callees = callee_documentation(text, tree, &target, index);
    if !callees.is_empty() {
        user.push_str(&format!(
            "Functions it calls:\n```python\n{}```\n\n",
            callees
        ));
    }
    let rewrite = if target.docstring.is_some() {
        "Rewrite the docstring of"
    } else {
        "Write a docstring for"
    };
    user.push_str(&format!(
        "{rewrite} this {}, in the {} style:\n```python\n{}\n```",
        if target.is_class { "class" } else { "function" },
        style.name(),
        super::dedent_code(source).trim_end()
    ));
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
    let verify = move |answer: &str| verify(&document, &target, answer);
    Ok(Plan {
        messages,
        verify: Box::new(verify),
    })
}

/// Checks an answer (the definition with its docstring) and turns it into an edit of `document`.
pub fn verify(document: &str, target: &Target, answer: &str) -> Result<Offer, String> {
    let code = super::dedent_code(&answer_code(answer));
    let tree = parse_python(&code, None).ok_or("the answer could not be parsed")?;
    let definition = find_definition(tree.root_node(), &code, &target.name).ok_or_else(|| {
        format!(
            "the answer does not contain the definition of `{}`",
            target.name
        )
    })?;
    let statement = docstring_node(definition).ok_or("the answer has no docstring")?;
    let literal = statement.utf8_text(code.as_bytes()).unwrap_or("");
    let docstring = string_content(literal).ok_or("the docstring is not a plain string literal")?;
    // The code must be unchanged: compare the answer's definition with the original, both without
    // comments and without their docstrings.
    let original = super::dedent_code(&document[target.start..target.end]);
    let original_tree =
        parse_python(&original, None).ok_or("the definition could not be parsed")?;
    let original_definition = find_definition(original_tree.root_node(), &original, &target.name)
        .ok_or("the definition could not be read")?;
    let original_docstring = docstring_node(original_definition).map(|node| node.id());
    let answer_docstring = statement.id();
    let before = code_shape(original_definition, &original, &|node| {
        Some(node.id()) == original_docstring
    });
    let after = code_shape(definition, &code, &|node| node.id() == answer_docstring);
    if before != after {
        return Err("the answer changes the code, not only the docstring".into());
    }
    check_docstring(target, &docstring)?;
    let rendered = render(&docstring, &target.body_indent)?;
    let edit = match target.docstring {
        Some((start, end)) => {
            let start = line_start(document, start);
            let end = super::line_end(document, end);
            Edit {
                start,
                end,
                text: rendered,
            }
        }
        None => Edit {
            start: target.body_line_start,
            end: target.body_line_start,
            text: rendered,
        },
    };
    // The document with the docstring in place must parse no worse than before.
    let mut after_text = document.to_string();
    after_text.replace_range(edit.start..edit.end, &edit.text);
    let (Some(old), Some(new)) = (
        parse_python(document, None),
        parse_python(&after_text, None),
    ) else {
        return Err("the document could not be parsed".into());
    };
    if error_count(&new) > error_count(&old) {
        return Err("the docstring does not fit the code's indentation or quoting".into());
    }
    Ok(Offer {
        edit,
        rounds: 1,
        checks: vec![
            "parameters",
            "exceptions",
            "returns",
            "quoting",
            "code-unchanged",
        ],
    })
}

/// The first function or class named `name`, searching the whole tree.
pub(crate) fn find_definition<'t>(root: Node<'t>, text: &str, name: &str) -> Option<Node<'t>> {
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if matches!(node.kind(), "function_definition" | "class_definition")
            && node
                .child_by_field_name("name")
                .and_then(|n| n.utf8_text(text.as_bytes()).ok())
                == Some(name)
        {
            return Some(node);
        }
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "class Shop:\n    def price(self, item: str, count: int = 1) -> float:\n        if count < 0:\n            raise ValueError(count)\n        return 2.0 * count\n";

    fn target() -> Target {
        let tree = parse_python(SOURCE, None).unwrap();
        target_at(SOURCE, &tree, SOURCE.find("price").unwrap()).unwrap()
    }

    #[test]
    fn styles_are_told_apart() {
        assert_eq!(style_of("Sum.\n\nArgs:\n    x: a number.\n"), Style::Google);
        assert_eq!(
            style_of("Sum.\n\nParameters\n----------\nx : int\n"),
            Style::Numpy
        );
        assert_eq!(style_of("Sum.\n\n:param x: a number.\n"), Style::Rest);
        assert_eq!(style_of("Sum two numbers."), Style::Plain);
        assert_eq!(
            detect_style(["Sum.\n\n:param x: y\n", "A.", ":returns: z"]),
            Style::Rest
        );
        assert_eq!(detect_style(["A."]), Style::Google);
    }

    #[test]
    fn each_style_is_read() {
        let google = parse_docstring("Price.\n\n    Args:\n        item (str): The item.\n        count: How many.\n\n    Returns:\n        The price.\n\n    Raises:\n        ValueError: If negative.\n");
        assert_eq!(google.parameters, ["item", "count"]);
        assert_eq!(google.raises, ["ValueError"]);
        assert!(google.has_returns);
        let numpy = parse_docstring("Price.\n\nParameters\n----------\nitem : str\n    The item.\ncount : int\n\nRaises\n------\nValueError\n    If negative.\n");
        assert_eq!(numpy.parameters, ["item", "count"]);
        assert_eq!(numpy.raises, ["ValueError"]);
        let rest = parse_docstring("Price.\n\n:param str item: The item.\n:param count: How many.\n:raises ValueError: If negative.\n:returns: The price.\n");
        assert_eq!(rest.parameters, ["item", "count"]);
        assert_eq!(rest.raises, ["ValueError"]);
        assert!(rest.has_returns);
    }

    #[test]
    fn the_target_knows_its_signature_and_body() {
        let target = target();
        assert_eq!(target.parameters, ["item", "count"]);
        assert_eq!(target.returns.as_deref(), Some("float"));
        assert!(target.returns_value);
        assert!(target.raised.contains(&"ValueError".to_string()));
        assert_eq!(target.body_indent, "        ");
    }

    #[test]
    fn good_docstrings_pass_and_defects_are_caught() {
        let target = target();
        let good = "Price of some items.\n\nArgs:\n    item: The item.\n    count: How many.\n\nReturns:\n    The price.\n\nRaises:\n    ValueError: If count is negative.\n";
        assert_eq!(check_docstring(&target, good), Ok(()));
        let invented = good.replace(
            "    count: How many.\n",
            "    count: How many.\n    discount: A discount.\n",
        );
        assert!(check_docstring(&target, &invented)
            .unwrap_err()
            .contains("`discount`"));
        let missing = good.replace("    count: How many.\n", "");
        assert!(check_docstring(&target, &missing)
            .unwrap_err()
            .contains("`count`"));
        let wrong = good.replace("ValueError", "KeyError");
        assert!(check_docstring(&target, &wrong)
            .unwrap_err()
            .contains("KeyError"));
        assert_eq!(check_docstring(&target, "Price of some items."), Ok(()));
    }

    #[test]
    fn an_answer_is_inserted_with_the_body_indentation() {
        let target = target();
        let answer = "```python\ndef price(self, item: str, count: int = 1) -> float:\n    \"\"\"Price of some items.\n\n    Args:\n        item: The item.\n        count: How many.\n\n    Returns:\n        The price.\n    \"\"\"\n    if count < 0:\n        raise ValueError(count)\n    return 2.0 * count\n```";
        let offer = verify(SOURCE, &target, answer).unwrap();
        let mut after = SOURCE.to_string();
        after.replace_range(offer.edit.start..offer.edit.end, &offer.edit.text);
        assert!(after.contains("-> float:\n        \"\"\"Price of some items.\n\n        Args:\n            item: The item.\n"), "{after}");
        assert!(
            after.contains("        \"\"\"\n        if count < 0:"),
            "{after}"
        );
        let changed = answer.replace("2.0 * count", "3.0 * count");
        assert!(verify(SOURCE, &target, &changed)
            .unwrap_err()
            .contains("changes the code"));
    }

    #[test]
    fn the_prompt_carries_examples_and_the_documentation_of_callees() {
        let source = "def tax_rate(region: str) -> float:\n    \"\"\"The tax rate of a region.\n\n    Args:\n        region: The region code.\n    \"\"\"\n    return 0.2\n\n\ndef total_price(net: float, region: str) -> float:\n    return net * (1 + tax_rate(region))\n";
        let tree = parse_python(source, None).unwrap();
        let plan = plan(
            source,
            &tree,
            source.find("total_price").unwrap(),
            None,
            None,
        )
        .unwrap();
        let prompt = &plan.messages[1].content;
        assert!(prompt.contains("Functions it calls:\n```python\ndef tax_rate(region: str) -> float:\n    \"\"\"The tax rate of a region.\"\"\""), "{prompt}");
        assert!(prompt.contains("in the Google style"), "{prompt}");
        assert!(
            prompt.contains("Documented functions of this project"),
            "{prompt}"
        );
    }

    #[test]
    fn self_and_cls_are_implicit_only_in_first_place() {
        let source = "def command(name, cls=None, _cache=cache):\n    return cls\n";
        let tree = parse_python(source, None).unwrap();
        let target = target_at(source, &tree, 4).unwrap();
        assert_eq!(target.parameters, ["name", "cls", "_cache"]);
        assert_eq!(target.private_defaults, ["_cache"]);
        assert_eq!(
            check_docstring(
                &target,
                "Make a command.\n\nArgs:\n    name: Its name.\n    cls: Its class.\n"
            ),
            Ok(())
        );
    }

    #[test]
    fn a_class_gets_a_docstring_checked_against_its_constructor() {
        let source = "class Cart:\n    def __init__(self, owner: str) -> None:\n        self.owner = owner\n";
        let tree = parse_python(source, None).unwrap();
        let target = target_at(source, &tree, 2).unwrap();
        assert!(target.is_class);
        assert_eq!(target.parameters, ["owner"]);
        let answer = "```python\nclass Cart:\n    \"\"\"A shopping cart.\n\n    Args:\n        owner: Who shops.\n    \"\"\"\n\n    def __init__(self, owner: str) -> None:\n        self.owner = owner\n```";
        let offer = verify(source, &target, answer).unwrap();
        assert_eq!(
            offer.edit.text,
            "    \"\"\"A shopping cart.\n\n    Args:\n        owner: Who shops.\n    \"\"\"\n"
        );
        let invented = answer.replace(
            "owner: Who shops.",
            "owner: Who shops.\n        items: What is in it.",
        );
        assert!(verify(source, &target, &invented)
            .unwrap_err()
            .contains("`items`"));
    }

    #[test]
    fn an_existing_docstring_is_replaced_whole() {
        let source = "def f(x):\n    \"\"\"Old.\n\n    Spans lines.\n    \"\"\"\n    return x\n";
        let tree = parse_python(source, None).unwrap();
        let target = target_at(source, &tree, 4).unwrap();
        let offer = verify(
            source,
            &target,
            "def f(x):\n    \"\"\"Return x.\"\"\"\n    return x\n",
        )
        .unwrap();
        let mut after = source.to_string();
        after.replace_range(offer.edit.start..offer.edit.end, &offer.edit.text);
        assert_eq!(
            after,
            "def f(x):\n    \"\"\"Return x.\"\"\"\n    return x\n"
        );
    }

    #[test]
    fn a_document_without_docstrings_takes_examples_and_style_from_the_project() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path();
        std::fs::write(
            root.join("accounts.py"),
            "def load_user_settings(user_id, cache):\n    \"\"\"Load a user's settings.\n\n    Parameters\n    ----------\n    user_id : int\n        The user.\n    cache : dict\n        Settings by user.\n    \"\"\"\n    return cache[user_id]\n",
        )
        .expect("write");
        let text = "def load_user_profile(user_id, cache):\n    return cache[user_id]\n";
        std::fs::write(root.join("profiles.py"), text).expect("write");
        let options = crate::index::IndexOptions {
            cache_dir: None,
            max_file_bytes: 1 << 20,
        };
        let environment = std::sync::Arc::new(crate::index::environment::Environment::none());
        let (index, _) = Index::build(root.to_path_buf(), environment, &options, &mut |_| {});
        let tree = parse_python(text, None).unwrap();
        let plan = plan(text, &tree, 4, Some((&index, "profiles")), None).unwrap();
        let prompt = &plan.messages[1].content;
        assert!(prompt.contains("in the NumPy style"), "{prompt}");
        assert!(
            prompt.contains("# from accounts\ndef load_user_settings(user_id, cache):"),
            "{prompt}"
        );
    }

    #[test]
    fn a_forced_style_overrides_the_files_own() {
        let text = "def f(a):\n    \"\"\"Do.\n\n    Args:\n        a: x.\n    \"\"\"\n\n\ndef g(b):\n    return b\n";
        let tree = parse_python(text, None).unwrap();
        let offset = text.find("def g").unwrap() + 4;
        let prompt = |forced| {
            let plan = plan(text, &tree, offset, None, forced).unwrap();
            plan.messages
                .iter()
                .map(|m| m.content.clone())
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(
            prompt(None).contains("in the Google style"),
            "{}",
            prompt(None)
        );
        let forced = forced_style(crate::config::DocstringStyle::Numpy);
        assert!(
            prompt(forced).contains("in the NumPy style"),
            "{}",
            prompt(forced)
        );
    }
}
