//! The typed hole: what the code at the cursor needs from the rest of the repository, as stubs.
//!
//! [`build_context`] reads the hole (`hole`), scores every definition that may help (`rank`),
//! renders the best ones as compact Python stubs (`render`), grouped by module, deduplicated and
//! packed under a budget of tokens (counted with tiktoken's `cl100k_base`) and/or bytes.
//! The text of the edited file itself is never part of the repository context.

pub mod hole;
mod query;
pub mod rank;
pub mod render;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tree_sitter::Tree;

use crate::index::model::ClassInfo;
use crate::index::resolve::find_class;
use crate::index::{Index, ModuleSource};

pub use hole::{Hole, NameOrigin, TypedName};
use rank::{Key, Overlay, Ranker, Scored};

/// How much repository context may be sent. Both limits apply when both are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_tokens: Option<usize>,
    pub max_bytes: Option<usize>,
}

impl Budget {
    pub fn tokens(max_tokens: usize) -> Budget {
        Budget {
            max_tokens: Some(max_tokens),
            max_bytes: None,
        }
    }

    pub fn bytes(max_bytes: usize) -> Budget {
        Budget {
            max_tokens: None,
            max_bytes: Some(max_bytes),
        }
    }
}

/// One rendered definition (a class with the members chosen, a function, a variable).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextPart {
    /// The dotted module the definition lives in.
    pub module: String,
    /// The stub text, ending with a newline.
    pub text: String,
    /// 0 is the most relevant part.
    pub rank: usize,
    /// Tokens of `text` (cl100k_base).
    pub tokens: usize,
    /// The score that ranked it.
    pub score: f64,
    /// Why it was chosen, in words (`parameter type, imported by the file`).
    pub reason: String,
}

/// The repository context of one hole.
#[derive(Debug, Clone, Default)]
pub struct HoleContext {
    /// The parts that fit the budget, most relevant first.
    pub parts: Vec<ContextPart>,
    pub expected_type: Option<String>,
    /// `Class.method` or `function` around the cursor.
    pub enclosing_function: Option<String>,
    pub enclosing_class: Option<String>,
    /// Names visible at the cursor with their types, as `(name, type)`.
    pub names_in_scope: Vec<(String, Option<String>)>,
    /// Tokens of [`HoleContext::repository_text`]: exact when the budget's token limit was
    /// near, else the sum over parts and module headers (within a few tokens of exact).
    pub tokens: usize,
    /// Candidates that were scored but did not fit.
    pub left_out: usize,
}

impl HoleContext {
    /// Exactly the repository part of the prompt: the parts grouped by module, each group
    /// headed by `# module.name`, groups in the order of their best part.
    pub fn repository_text(&self) -> String {
        render_groups(&self.parts)
    }

    /// A listing of every part for `spackle context`: rank, tokens, score, module, reason, and
    /// the part's first line.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if let Some(function) = &self.enclosing_function {
            out.push_str(&format!("enclosing function: {function}\n"));
        }
        if let Some(class) = &self.enclosing_class {
            out.push_str(&format!("enclosing class: {class}\n"));
        }
        if let Some(expected) = &self.expected_type {
            out.push_str(&format!("expected type: {expected}\n"));
        }
        let names: Vec<String> = self
            .names_in_scope
            .iter()
            .map(|(name, ty)| match ty {
                Some(ty) => format!("{name}: {ty}"),
                None => name.clone(),
            })
            .collect();
        out.push_str(&format!("names in scope: {}\n", names.join(", ")));
        out.push_str(&format!(
            "{} parts, {} tokens, {} candidates left out\n",
            self.parts.len(),
            self.tokens,
            self.left_out
        ));
        for part in &self.parts {
            let first = part.text.lines().next().unwrap_or("");
            out.push_str(&format!(
                "#{:<3} {:>4} tok  score {:>5.2}  {}  {}  [{}]\n",
                part.rank, part.tokens, part.score, part.module, first, part.reason
            ));
        }
        out
    }
}

fn render_groups(parts: &[ContextPart]) -> String {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, Vec<&ContextPart>> = HashMap::new();
    for part in parts {
        if !groups.contains_key(part.module.as_str()) {
            order.push(&part.module);
        }
        groups.entry(&part.module).or_default().push(part);
    }
    let mut out = String::new();
    for module in order {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&module_header(module));
        for part in &groups[module] {
            out.push_str(&part.text);
        }
    }
    out
}

fn module_header(module: &str) -> String {
    format!("# {module}\n")
}

/// Counts tokens the way the prompt will be counted (cl100k_base, shipped with tiktoken-rs).
pub fn count_tokens(text: &str) -> usize {
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len()
}

/// A quick upper estimate of the tokens of stub text (cl100k gives about 3.5 bytes a token on
/// Python stubs); the packed text is counted exactly at the end.
fn estimate_tokens(text: &str) -> usize {
    text.len() / 3 + 1
}

/// The context at byte `offset` of the file at `path` (absolute, inside the index's root), whose
/// current text is `text`: for `spackle context FILE:LINE:COL` and other callers without a
/// document store. Parses the text; `None` when the file is outside the workspace or has no
/// module name.
pub fn build_context_for_file(
    index: &Index,
    path: &std::path::Path,
    text: &str,
    offset: usize,
    budget: Budget,
) -> Option<HoleContext> {
    let relative = index.relative_path(path)?;
    let module = index.module_name_of(path)?;
    let tree = crate::store::parse_python(text, None)?;
    Some(build_context(
        index, text, &tree, &module, &relative, offset, budget,
    ))
}

/// Builds the repository context for the cursor at byte `offset` of `document_text`.
///
/// `tree` is the document's current tree, `module_name` its dotted module name and `path` its
/// path relative to the workspace root (used to resolve relative imports and tell packages).
pub fn build_context(
    index: &Index,
    document_text: &str,
    tree: &Tree,
    module_name: &str,
    path: &str,
    offset: usize,
    budget: Budget,
) -> HoleContext {
    let t0 = std::time::Instant::now();
    let known = index.module(module_name);
    let mut hole = hole::analyze(document_text, tree, module_name, path, offset, known);
    let t1 = t0.elapsed();
    let overlay = Overlay {
        index,
        current: hole.module.clone(),
    };
    // In a call's argument, the type expected is the parameter's, from the callee's signature.
    let mut expected_from_call = None;
    if let (None, Some(call)) = (&hole.expected_type, &hole.call_argument) {
        if let Some(parameter) = index.semantic().parameter_at(
            &index.root().join(path),
            document_text,
            offset,
            call.position,
            call.keyword.as_deref(),
        ) {
            hole.expected_type = Some(parameter.type_text);
            expected_from_call = Some(classes_in_index(index, parameter.classes));
        }
    }
    let mut types = types_at_hole(index, &overlay, &hole, document_text, path, offset);
    if let (Some(types), Some(expected)) = (types.as_mut(), expected_from_call) {
        types.expected = expected;
    }
    // A name without a written annotation shows the type the semantic layer inferred for it.
    let inferred: HashMap<String, String> = types
        .iter()
        .flat_map(|types| &types.names)
        .filter(|(_, classes)| !classes.is_empty())
        .map(|(name, classes)| {
            let names: Vec<&str> = classes.iter().map(|(_, class)| class.as_str()).collect();
            (name.clone(), names.join(" | "))
        })
        .collect();
    let mut ranker = Ranker::new(&overlay, &hole, types);
    ranker.rank();
    let scores = std::mem::take(&mut ranker.scores);
    let t2 = t0.elapsed();
    let mut context = pack(&overlay, module_name, scores, budget);
    tracing::debug!(analyze = ?t1, rank = ?(t2 - t1), pack = ?(t0.elapsed() - t2), parts = context.parts.len(), "context built");
    context.expected_type = hole.expected_type.clone();
    context.enclosing_function = hole.function_qualname.clone();
    context.enclosing_class = hole.class_qualname.clone();
    context.names_in_scope = hole
        .names_in_scope
        .iter()
        .map(|n| {
            let written = n
                .type_text
                .clone()
                .filter(|text| !text.starts_with("call:"));
            (
                n.name.clone(),
                written.or_else(|| inferred.get(&n.name).cloned()),
            )
        })
        .collect();
    context
}

/// Asks the semantic layer for the classes of the names in scope at the hole, of `self`'s
/// attributes and of the names in the expected type. `None` when it cannot analyse the file.
fn types_at_hole(
    index: &Index,
    overlay: &Overlay,
    hole: &hole::Hole,
    text: &str,
    path: &str,
    offset: usize,
) -> Option<rank::TypesAtHole> {
    let mut expressions: Vec<String> = Vec::new();
    // Each name's value, and the names its written annotation mentions (`*items: Item` holds a
    // `tuple[Item, ...]`, `list[Item]` a list: the classes that matter are in the annotation).
    let mut names: Vec<(String, Vec<String>)> = Vec::new();
    for name in &hole.names_in_scope {
        if names.iter().any(|(known, _)| *known == name.name) {
            continue;
        }
        let annotation = name
            .type_text
            .as_deref()
            .filter(|text| !text.starts_with("call:"))
            .map(names_in_annotation)
            .unwrap_or_default();
        expressions.push(name.name.clone());
        expressions.extend(annotation.iter().cloned());
        names.push((name.name.clone(), annotation));
    }
    let mut attributes = Vec::new();
    if let Some(class) = &hole.class_qualname {
        for (_, attribute) in rank::self_attributes(overlay, &hole.module.name, class) {
            if !attributes.contains(&attribute.name) {
                attributes.push(attribute.name.clone());
            }
        }
        // `self` is the enclosing function's first parameter in a method.
        let receiver = hole
            .function
            .as_ref()
            .and_then(|function| function.params.first())
            .map(|first| first.name.clone())
            .filter(|name| name == "self");
        match receiver {
            Some(receiver) => {
                expressions.extend(
                    attributes
                        .iter()
                        .map(|attribute| format!("{receiver}.{attribute}")),
                );
            }
            None => attributes.clear(),
        }
    }
    let expected_names = hole
        .expected_type
        .as_deref()
        .map(names_in_annotation)
        .unwrap_or_default();
    expressions.extend(expected_names.iter().cloned());
    expressions.truncate(crate::semantic::MAX_PROBED);
    if expressions.is_empty() {
        return Some(rank::TypesAtHole::default());
    }
    let absolute = index.root().join(path);
    let answers = index
        .semantic()
        .classes_at(&absolute, text, offset, &expressions)?;
    let mut answers = answers
        .into_iter()
        .map(|classes| classes_in_index(index, classes));
    let mut types = rank::TypesAtHole::default();
    for (name, annotation) in names {
        let mut classes = answers.next().unwrap_or_default();
        for _ in annotation {
            for class in answers.next().unwrap_or_default() {
                if !classes.contains(&class) {
                    classes.push(class);
                }
            }
        }
        types.names.insert(name, classes);
    }
    for attribute in attributes {
        types
            .self_attributes
            .insert(attribute, answers.next().unwrap_or_default());
    }
    for _ in expected_names {
        types.expected.extend(answers.next().unwrap_or_default());
    }
    Some(types)
}

/// The semantic layer's classes as the index names them, `(module, qualname)`.
fn classes_in_index(
    index: &Index,
    classes: Vec<crate::semantic::ClassAt>,
) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = classes
        .into_iter()
        .filter_map(|class| Some((module_of_path(index, &class.path)?, class.name)))
        .collect();
    keys.dedup();
    keys
}

/// The (dotted) names an annotation mentions, each once: `Optional["pkg.Cart"]` → `Optional`,
/// `pkg.Cart`.
fn names_in_annotation(annotation: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in annotation.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')) {
        let is_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && !name.ends_with('.');
        if is_name && !names.iter().any(|known| known == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// The dotted module name of a file of the workspace or of an installed package.
fn module_of_path(index: &Index, path: &std::path::Path) -> Option<String> {
    if path.starts_with(index.root()) {
        return index.module_name_of(path);
    }
    let root = index
        .environment()
        .roots()
        .iter()
        .find(|root| path.starts_with(root))?;
    let relative = path
        .strip_prefix(root)
        .ok()?
        .to_string_lossy()
        .replace('\\', "/");
    crate::index::walk::module_name(&relative)
}

/// A part's identity: module, class qualname (for a class), name (for a module-level definition).
type PartKey = (String, Option<String>, Option<String>);

/// One part being assembled: a class (header plus chosen members) or a module-level definition.
struct Draft {
    module: String,
    /// Rendered lines of the members chosen, with their source order for stable output.
    members: Vec<(u32, String)>,
    header: String,
    /// For a class without members, the header gets ` ...`.
    is_class: bool,
    score: f64,
    reasons: Vec<&'static str>,
    rank: usize,
}

impl Draft {
    fn text(&self) -> String {
        if self.is_class && self.members.is_empty() {
            let header = self.header.trim_end_matches('\n');
            return match header.split_once('\n') {
                // A docstring line follows the header: keep it as the body.
                Some(_) => format!("{header}\n"),
                None => match header.strip_suffix(':') {
                    Some(head) => format!("{head}: ...\n"),
                    None => match header.find(":  # in ") {
                        Some(at) => format!("{}: ...{}\n", &header[..at], &header[at + 1..]),
                        None => format!("{header}\n"),
                    },
                },
            };
        }
        let mut members = self.members.clone();
        members.sort_by_key(|(line, _)| *line);
        let mut out = self.header.clone();
        for (_, text) in members {
            out.push_str(&text);
        }
        out
    }
}

/// Picks the best-scored definitions that fit the budget and renders them.
fn pack(
    source: &Overlay,
    current_module: &str,
    scores: HashMap<Key, Scored>,
    budget: Budget,
) -> HoleContext {
    let ranked: Vec<(Key, Scored)> = scores
        .into_iter()
        .filter(|(key, _)| key.module != current_module)
        .collect();
    // Priority is relevance per size, softly: a long signature must be more relevant than a
    // short one to go first.
    let cost_of = |key: &Key| -> usize { item_cost(source, key) };
    let mut ranked: Vec<(Key, Scored, f64)> = ranked
        .into_iter()
        .map(|(key, scored)| {
            let priority = scored.score / (1.0 + cost_of(&key) as f64 / COST_SCALE_BYTES);
            (key, scored, priority)
        })
        .collect();
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let ranked: Vec<(Key, Scored)> = ranked
        .into_iter()
        .map(|(key, scored, _)| (key, scored))
        .collect();
    let max_bytes = budget.max_bytes.unwrap_or(usize::MAX);
    let max_tokens = budget.max_tokens.unwrap_or(usize::MAX);
    let mut used_bytes = 0usize;
    let mut used_tokens = 0usize;
    let mut drafts: Vec<Draft> = Vec::new();
    let mut draft_of: HashMap<PartKey, usize> = HashMap::new();
    let mut modules_used: HashSet<String> = HashSet::new();
    let mut chosen: HashSet<Key> = HashSet::new();
    let mut left_out = 0usize;
    let mut modules: HashMap<String, Arc<crate::index::model::ModuleInfo>> = HashMap::new();
    let top_score = ranked.first().map(|r| r.1.score).unwrap_or(0.0);

    for (key, scored) in &ranked {
        if chosen.contains(key) {
            continue;
        }
        if used_bytes >= max_bytes || used_tokens >= max_tokens {
            left_out += 1;
            continue;
        }
        let info = match modules.get(&key.module) {
            Some(info) => info.clone(),
            None => match source.module(&key.module) {
                Some(info) => {
                    modules.insert(key.module.clone(), info.clone());
                    info
                }
                None => continue,
            },
        };
        let with_doc = scored.score >= top_score * 0.6 && drafts.len() < 4;
        // What this choice adds: possibly a module header, a class header, and the item.
        let mut added = String::new();
        let new_module = !modules_used.contains(&key.module);
        if new_module {
            if !modules_used.is_empty() {
                added.push('\n');
            }
            added.push_str(&module_header(&key.module));
        }
        let (part_key, item_text, line): (PartKey, Option<String>, u32);
        let mut new_header: Option<String> = None;
        match (&key.class, &key.name) {
            (Some(qualname), member) => {
                let Some(class) = find_class(&info, qualname) else {
                    continue;
                };
                part_key = (key.module.clone(), Some(qualname.clone()), None);
                if !draft_of.contains_key(&part_key) {
                    let header = render::class_header(class, qualname, with_doc);
                    new_header = Some(header);
                }
                match member {
                    None => {
                        item_text = None;
                        line = class.line;
                    }
                    Some(name) => {
                        let Some((member_line, text)) = render_member(class, name) else {
                            continue;
                        };
                        item_text = Some(text);
                        line = member_line;
                    }
                }
            }
            (None, Some(name)) => {
                part_key = (key.module.clone(), None, Some(name.clone()));
                if let Some(function) = info.functions.iter().find(|f| &f.name == name) {
                    item_text = Some(render::function(function, "", with_doc));
                    line = function.line;
                } else if let Some(variable) = info.variables.iter().find(|v| &v.name == name) {
                    item_text = Some(render::variable(variable, ""));
                    line = variable.line;
                } else {
                    continue;
                }
            }
            (None, None) => continue,
        }
        if let Some(header) = &new_header {
            added.push_str(header);
        }
        if let Some(text) = &item_text {
            added.push_str(text);
        }
        // A class chosen only for its header renders as `class X: ...` (3 more bytes).
        let extra = if new_header.is_some() && item_text.is_none() {
            4
        } else {
            0
        };
        let added_bytes = added.len() + extra;
        let added_tokens = if budget.max_tokens.is_some() {
            estimate_tokens(&added)
        } else {
            0
        };
        if used_bytes + added_bytes > max_bytes || used_tokens + added_tokens > max_tokens {
            left_out += 1;
            continue;
        }
        used_bytes += added_bytes;
        used_tokens += added_tokens;
        if new_module {
            modules_used.insert(key.module.clone());
        }
        chosen.insert(key.clone());
        let index = match draft_of.get(&part_key) {
            Some(index) => *index,
            None => {
                let is_class = part_key.1.is_some();
                drafts.push(Draft {
                    module: key.module.clone(),
                    members: Vec::new(),
                    header: new_header.clone().unwrap_or_default(),
                    is_class,
                    score: scored.score,
                    reasons: Vec::new(),
                    rank: drafts.len(),
                });
                draft_of.insert(part_key.clone(), drafts.len() - 1);
                drafts.len() - 1
            }
        };
        let draft = &mut drafts[index];
        if let Some(text) = item_text {
            if draft.is_class {
                draft.members.push((line, text));
            } else {
                draft.header = text;
            }
        }
        for reason in &scored.reasons {
            if !draft.reasons.contains(reason) {
                draft.reasons.push(reason);
            }
        }
    }

    // Parts in rank order; the module grouping happens when the text is rendered.
    let mut parts: Vec<ContextPart> = drafts
        .iter()
        .map(|draft| {
            let text = draft.text();
            ContextPart {
                module: draft.module.clone(),
                tokens: count_tokens(&text),
                text,
                rank: draft.rank,
                score: draft.score,
                reason: draft.reasons.join(", "),
            }
        })
        .collect();
    // The parts' token counts plus the module headers' give the total to within a few tokens;
    // the joined text is counted exactly (and trimmed to fit) only when that is near the limit.
    loop {
        let text = render_groups(&parts);
        let modules: HashSet<&str> = parts.iter().map(|p| p.module.as_str()).collect();
        let summed: usize = parts.iter().map(|p| p.tokens).sum::<usize>()
            + modules
                .iter()
                .map(|m| count_tokens(&module_header(m)))
                .sum::<usize>();
        let near_limit = budget.max_tokens.is_some_and(|max| summed * 10 >= max * 9);
        let tokens = if near_limit {
            count_tokens(&text)
        } else {
            summed
        };
        if (tokens <= max_tokens && text.len() <= max_bytes) || parts.is_empty() {
            return HoleContext {
                parts,
                tokens,
                left_out,
                ..HoleContext::default()
            };
        }
        parts.pop();
        left_out += 1;
    }
}

/// Bytes at which a candidate's priority is halved by its size.
const COST_SCALE_BYTES: f64 = 200.0;

/// The size of a candidate's own stub line(s) (a class header for a class, the member or
/// function line otherwise).
fn item_cost(source: &Overlay, key: &Key) -> usize {
    let Some(info) = source.module(&key.module) else {
        return 0;
    };
    match (&key.class, &key.name) {
        (Some(qualname), None) => find_class(&info, qualname)
            .map_or(0, |c| render::class_header(c, qualname, false).len()),
        (Some(qualname), Some(name)) => find_class(&info, qualname)
            .and_then(|c| render_member(c, name))
            .map_or(0, |(_, t)| t.len()),
        (None, Some(name)) => info
            .functions
            .iter()
            .find(|f| &f.name == name)
            .map(|f| render::function(f, "", false).len())
            .or_else(|| {
                info.variables
                    .iter()
                    .find(|v| &v.name == name)
                    .map(|v| render::variable(v, "").len())
            })
            .unwrap_or(0),
        (None, None) => 0,
    }
}

/// One member of a class rendered at class indentation, with its source line.
fn render_member(class: &ClassInfo, name: &str) -> Option<(u32, String)> {
    if let Some(method) = class.methods.iter().find(|m| m.name == name) {
        return Some((method.line, render::function(method, "    ", false)));
    }
    if let Some(attribute) = class.attributes.iter().find(|a| a.name == name) {
        return Some((attribute.line, render::variable(attribute, "    ")));
    }
    if let Some(attribute) = class.instance_attributes.iter().find(|a| a.name == name) {
        // In a class body, `self.x: T = ...` reads best as `x: T`; a value is shown only when it
        // says something on its own (not a parameter's name, nothing computed from `self`).
        let mut attribute = attribute.clone();
        let value_is_local = attribute.value.as_deref().is_some_and(|v| {
            v.contains("self") || v.chars().all(|c| c.is_alphanumeric() || c == '_')
        });
        if attribute.annotation.is_some() || value_is_local {
            attribute.value = None;
        }
        return Some((attribute.line, render::variable(&attribute, "    ")));
    }
    if let Some(nested) = class.classes.iter().find(|c| c.name == name) {
        return Some((nested.line, format!("    class {}: ...\n", nested.name)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::environment::Environment;
    use std::path::{Path, PathBuf};

    /// Indexes the files (as open buffers, nothing on disk) and builds the context at `<CURSOR>`
    /// in the last one.
    fn context_of(files: &[(&str, &str)], budget: Budget) -> HoleContext {
        let root = PathBuf::from("/workspace");
        let mut index = Index::empty(root.clone(), Arc::new(Environment::none()));
        for (path, text) in files {
            index.update_buffer(&root.join(path), &text.replace("<CURSOR>", ""));
        }
        let (path, text) = files.last().expect("at least one file");
        let offset = text.find("<CURSOR>").expect("the last file has a cursor");
        let text = text.replace("<CURSOR>", "");
        let tree = crate::store::parse_python(&text, None).expect("parses");
        let module = index
            .module_name_of(&Path::new("/workspace").join(path))
            .expect("module name");
        build_context(&index, &text, &tree, &module, path, offset, budget)
    }

    const MODELS: &str = "class Request:\n    \"\"\"An HTTP request.\"\"\"\n    def __init__(self, method: str, url: str) -> None:\n        self.method = method\n        self.url = url\n        self.headers: Headers = Headers()\n    def read(self) -> bytes: ...\n\nclass Response:\n    status_code: int\n    def __init__(self, status_code: int, request: Request) -> None: ...\n    @property\n    def is_error(self) -> bool: ...\n\nclass Headers(dict):\n    def get_list(self, key: str) -> list[str]: ...\n";
    const UTILS: &str = "def parse_header(value: str) -> dict[str, str]:\n    \"\"\"Parse a header value.\"\"\"\n\ndef unrelated_helper() -> None: ...\n";
    const CLIENT: &str = "from .models import Request, Response\nfrom .utils import parse_header\n\nclass Client:\n    def send(self, request: Request) -> Response:\n        \"\"\"Send the request and read the response headers.\"\"\"\n        <CURSOR>\n\n    def close(self) -> None:\n        pass\n";

    #[test]
    fn the_hole_gets_its_types_and_the_imports_it_needs() {
        let files = [
            ("pkg/__init__.py", ""),
            ("pkg/models.py", MODELS),
            ("pkg/utils.py", UTILS),
            ("pkg/client.py", CLIENT),
        ];
        let context = context_of(&files, Budget::tokens(1500));
        assert_eq!(context.expected_type.as_deref(), Some("Response"));
        assert_eq!(context.enclosing_function.as_deref(), Some("Client.send"));
        expect_test::expect![[r##"
            # pkg.models
            class Response:
                status_code: int
                def __init__(self, status_code: int, request: Request) -> None: ...
                @property
                def is_error(self) -> bool: ...
            class Request:
                """An HTTP request."""
                def __init__(self, method: str, url: str) -> None: ...
                method: str
                url: str
                headers: Headers
                def read(self) -> bytes: ...
            class Headers(dict):
                def get_list(self, key: str) -> list[str]: ...

            # pkg.utils
            def parse_header(value: str) -> dict[str, str]:
                """Parse a header value."""
        "##]]
        .assert_eq(&context.repository_text());
        assert!(context
            .describe()
            .contains("imported and not used elsewhere in the file"));
    }

    /// `shop/models.py` and `shop/service.py` (the fixture without its cursor) on disk, indexed,
    /// with their semantic layer.
    fn shop_on_disk(models: &str, service: &str) -> crate::semantic::test_support::Workspace {
        crate::semantic::test_support::Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/models.py", models),
            ("shop/service.py", &service.replace("<CURSOR>", "")),
        ])
    }

    /// The context at `<CURSOR>` of `fixture` as the text of `shop/service.py`.
    fn context_on_disk(
        workspace: &crate::semantic::test_support::Workspace,
        fixture: &str,
    ) -> HoleContext {
        let offset = fixture.find("<CURSOR>").expect("cursor");
        let text = fixture.replace("<CURSOR>", "");
        build_context_for_file(
            &workspace.index,
            &workspace.path("shop/service.py"),
            &text,
            offset,
            Budget::tokens(1500),
        )
        .expect("a context")
    }

    #[test]
    fn types_come_from_the_semantic_layer_at_the_hole() {
        let models = "class Cart:\n    def total(self) -> int:\n        return 0\n\n\nclass Shop:\n    def cart(self) -> Cart:\n        return Cart()\n\n\ndef open_shop() -> Shop:\n    return Shop()\n\n\nclass Unrelated:\n    pass\n";
        let service = "from __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\nfrom shop.models import open_shop\n\nif TYPE_CHECKING:\n    from shop.models import Shop\n\n\nclass Checkout:\n    def __init__(self, shop: Shop) -> None:\n        self.shop = shop\n\n\ndef checkout():\n    cart = open_shop().cart()\n    <CURSOR>\n";
        let workspace = shop_on_disk(models, service);
        let context = context_on_disk(&workspace, service);
        let described = context.describe();
        // `cart` is assigned from a call chain no annotation names: ty infers `Cart`.
        let cart = described
            .lines()
            .find(|line| line.contains("class Cart"))
            .unwrap_or_default();
        assert!(cart.contains("local variable type"), "{described}");
        assert!(described.contains("cart: Cart"), "{described}");
        assert!(!context.repository_text().contains("Unrelated"));
    }

    #[test]
    fn a_call_argument_expects_the_parameters_type_from_the_signature() {
        let models = "class Cart:\n    def total(self) -> int:\n        return 0\n\n\nclass Shop:\n    def checkout(self, cart: Cart, note: str = \"\") -> None:\n        pass\n\n\ndef open_shop() -> Shop:\n    return Shop()\n";
        let service = "from shop.models import open_shop\n\n\ndef pay():\n    open_shop().checkout(<CURSOR>)\n";
        let workspace = shop_on_disk(models, service);
        let context_at = |fixture: &str| context_on_disk(&workspace, fixture);
        let context = context_at(service);
        assert_eq!(context.expected_type.as_deref(), Some("Cart"));
        let described = context.describe();
        let cart = described
            .lines()
            .find(|line| line.contains("class Cart"))
            .unwrap_or_default();
        assert!(cart.contains("expected type"), "{described}");
        let keyword = context_at(&service.replace("<CURSOR>", "note=<CURSOR>"));
        assert_eq!(keyword.expected_type.as_deref(), Some("str"));
    }

    #[test]
    fn annotations_name_the_classes_a_value_holds() {
        assert_eq!(
            names_in_annotation("Optional[\"pkg.Cart\"] | list[Item]"),
            ["Optional", "pkg.Cart", "list", "Item"]
        );
        assert_eq!(names_in_annotation("tuple[int, ...]"), ["tuple", "int"]);
    }

    #[test]
    fn a_file_outside_the_workspace_has_no_context() {
        let index = Index::empty(PathBuf::from("/workspace"), Arc::new(Environment::none()));
        assert!(build_context_for_file(
            &index,
            Path::new("/elsewhere/x.py"),
            "x = 1\n",
            0,
            Budget::tokens(10)
        )
        .is_none());
        let inside = build_context_for_file(
            &index,
            Path::new("/workspace/pkg/x.py"),
            "x = 1\n",
            0,
            Budget::tokens(10),
        );
        assert!(inside.is_some_and(|c| c.parts.is_empty()));
    }

    #[test]
    fn a_small_budget_keeps_the_most_relevant_parts() {
        let files = [
            ("pkg/__init__.py", ""),
            ("pkg/models.py", MODELS),
            ("pkg/utils.py", UTILS),
            ("pkg/client.py", CLIENT),
        ];
        let context = context_of(&files, Budget::bytes(200));
        let text = context.repository_text();
        assert!(text.len() <= 200, "{text}");
        assert!(text.contains("class Response"), "{text}");
        assert!(context.left_out > 0);
    }

    #[test]
    fn broken_and_odd_documents_do_not_break_the_builder() {
        for document in [
            "",
            "def",
            "class A(:\n    def f(self",
            "x = (<CURSOR>",
            "<CURSOR>",
            "def f():\n<CURSOR>",
        ] {
            let files = [
                ("pkg/models.py", MODELS),
                (
                    "pkg/odd.py",
                    if document.contains("<CURSOR>") {
                        document
                    } else {
                        "<CURSOR>"
                    },
                ),
            ];
            let context = context_of(&files, Budget::tokens(200));
            assert!(context.tokens <= 200);
        }
    }
}
