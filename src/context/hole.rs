//! The hole at the cursor: enclosing function and class, expected type, typed names in scope.
//!
//! An empty body (the usual shape of a hole) often does not parse: the document is repaired by
//! putting `...` at the cursor when the cursor's line is blank, and parsed again, so the
//! enclosing definitions are found the same way whether the body is empty or half written.
//!
//! The sites that give the hole an expected type or a call argument are captured by
//! `grammars/python/hole.scm`, the enclosing function's locals by `grammars/python/locals.scm`.
//! Direct walks remain where a query does not fit: the walk up to the enclosing definitions
//! (which also orders the sites, innermost first), the looks at one node's children (an empty
//! body, the arguments before the cursor's) and the import ranges (see [`import_ranges`]);
//! usage counts are a lexical scan.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tree_sitter::{
    Node, QueryCursor, QueryCursorOptions, QueryCursorState, StreamingIterator, Tree,
};

use super::query::{HoleQuery, LocalsQuery};

use crate::index::extract::{extract_module, node_text};
use crate::index::model::{FunctionInfo, ModuleInfo};

/// How many levels above the cursor the typed hole's sites are looked for (see [`analyze`]).
const MAX_SITE_DEPTH: usize = 256;

/// How long one query over the tree may run. Pathological trees (100,000 unclosed brackets) make
/// tree-sitter's queries slow; past this, what was found so far is what the hole gets.
const QUERY_BUDGET: std::time::Duration = std::time::Duration::from_millis(200);

/// A progress callback that stops a query once [`QUERY_BUDGET`] is spent.
fn query_deadline() -> impl FnMut(&QueryCursorState) -> bool {
    let deadline = std::time::Instant::now() + QUERY_BUDGET;
    move |_| {
        let late = std::time::Instant::now() > deadline;
        if late {
            tracing::debug!("a tree-sitter query ran out of time; its matches so far are used");
        }
        late
    }
}

/// A name visible at the cursor, with its type when one is written or can be read off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedName {
    pub name: String,
    /// An annotation as written, or the callee of the constructor/call it was assigned from
    /// (`Foo` for `x = Foo(...)`, `self.make` for `x = self.make(...)`), prefixed with `call:`.
    pub type_text: Option<String>,
    pub origin: NameOrigin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameOrigin {
    Parameter,
    Local,
    SelfAttribute,
}

/// What the code around the cursor says about the hole.
#[derive(Debug, Clone, Default)]
pub struct Hole {
    /// The current module, extracted from the (repaired) document text.
    pub module: Arc<ModuleInfo>,
    /// The innermost enclosing class, as a qualname.
    pub class_qualname: Option<String>,
    /// The innermost enclosing function as the index knows it (methods and module functions).
    pub function: Option<FunctionInfo>,
    /// The qualname of the innermost enclosing function (`Class.method`, `outer.inner`).
    pub function_qualname: Option<String>,
    pub expected_type: Option<String>,
    pub names_in_scope: Vec<TypedName>,
    /// Identifiers in the enclosing function's header and docstring, and in lines near the cursor.
    pub nearby_identifiers: Vec<String>,
    /// How the rest of the document uses names.
    pub usage: Usage,
    /// The call whose argument the cursor is in, if any.
    pub call_argument: Option<CallArgument>,
}

/// The cursor stands in an argument of a call: which callee, which argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallArgument {
    /// The callee as written (`make`, `self.build`, `mod.Class`).
    pub callee: String,
    /// How many positional arguments come before the cursor's.
    pub position: usize,
    /// The keyword, when the cursor is in `name=...`.
    pub keyword: Option<String>,
}

/// Name and attribute uses in the document, outside of import statements.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Identifier uses (not attribute names) in the whole document.
    pub names: HashMap<String, u32>,
    /// Identifier uses inside the enclosing class.
    pub names_in_class: HashMap<String, u32>,
    /// Attribute names (`x.name`) anywhere in the document.
    pub attributes: HashMap<String, u32>,
    /// `name.attr` pairs where `name` is a plain identifier.
    pub qualified: HashMap<(String, String), u32>,
    /// Names and dotted names that are called somewhere (`Foo(...)`, `mod.Foo(...)`).
    pub called: HashSet<String>,
}

/// Lines above and below the cursor whose identifiers feed the retrieval query.
const NEARBY_LINES: usize = 12;

/// Reads the hole at byte `offset` of `text`, whose tree is `tree`, in module `module_name`.
///
/// `known` is the index's entry for this module, if any: it is used as it is when it was
/// extracted from exactly this text (and either the cursor needed no repair or the text has no
/// syntax error), instead of extracting again.
pub fn analyze(
    text: &str,
    tree: &Tree,
    module_name: &str,
    path: &str,
    offset: usize,
    known: Option<Arc<ModuleInfo>>,
) -> Hole {
    let offset = floor_boundary(text, offset.min(text.len()));
    let p0 = std::time::Instant::now();
    let original_hash = if known.is_some() {
        crate::index::extract::source_hash(text)
    } else {
        0
    };
    let repaired = repair(text, offset);
    let reparsed;
    let (text, tree) = match &repaired {
        Some(repaired) => {
            // An incremental reparse: the tree is edited where `...` went in.
            let mut edited = tree.clone();
            let inserted = repaired.len() - text.len();
            let start = point_at(text, offset);
            let mut end = start;
            for c in repaired[offset..offset + inserted].chars() {
                if c == '\n' {
                    end.row += 1;
                    end.column = 0;
                } else {
                    end.column += c.len_utf8();
                }
            }
            edited.edit(&tree_sitter::InputEdit {
                start_byte: offset,
                old_end_byte: offset,
                new_end_byte: offset + inserted,
                start_position: start,
                old_end_position: start,
                new_end_position: end,
            });
            match crate::store::parse_python(repaired, Some(&edited)) {
                Some(parsed) => {
                    reparsed = parsed;
                    (repaired.as_str(), &reparsed)
                }
                None => (text, tree),
            }
        }
        None => (text, tree),
    };
    // The cursor now sits on the `...` that was put in (when it was).
    let offset = match &repaired {
        Some(r) if text.len() == r.len() => offset + r[offset..].find("...").unwrap_or(0),
        _ => offset,
    };
    let p1 = p0.elapsed();
    // An entry of this very text is reused; after a repair only when the text parsed cleanly
    // anyway (the `...` then changes nothing the extraction reads).
    let reusable =
        known.filter(|k| k.source_hash == original_hash && (repaired.is_none() || !k.has_errors));
    let module = match reusable {
        Some(known) => known,
        None => Arc::new(extract_module(module_name, path, text, tree)),
    };
    let p2 = p0.elapsed();
    let mut hole = Hole {
        module,
        ..Hole::default()
    };
    let Some(node) = tree.root_node().descendant_for_byte_range(offset, offset) else {
        return hole;
    };

    // Enclosing definitions, innermost first, and how far up every ancestor is. The path is
    // found walking down from the root: `Node::parent` walks down from the root itself, so
    // walking up with it costs the square of the depth (100,000 nested brackets: minutes).
    let mut path = vec![tree.root_node()];
    while let Some(last) = path.last().copied() {
        if last.id() == node.id() {
            break;
        }
        match last.child_with_descendant(node) {
            Some(child) if child.id() != last.id() => path.push(child),
            _ => break,
        }
    }
    let mut definitions: Vec<Node> = Vec::new();
    let mut ancestors: HashMap<usize, usize> = HashMap::new();
    for current in path.iter().rev().copied() {
        if matches!(current.kind(), "function_definition" | "class_definition") {
            definitions.push(current);
        }
        ancestors.insert(current.id(), ancestors.len());
    }
    let function_node = definitions
        .iter()
        .copied()
        .find(|n| n.kind() == "function_definition");
    let outer_first: Vec<Node> = definitions.iter().rev().copied().collect();
    let names: Vec<&str> = outer_first
        .iter()
        .filter_map(|n| {
            n.child_by_field_name("name")
                .map(|name| node_text(name, text))
        })
        .collect();
    if let Some(function) = function_node {
        let position = outer_first
            .iter()
            .position(|n| n.id() == function.id())
            .unwrap_or(0);
        hole.function_qualname =
            Some(names[..=position.min(names.len().saturating_sub(1))].join("."));
        // The class the function is a method of, or the innermost class around the cursor.
        let classes: Vec<&str> = outer_first[..position]
            .iter()
            .filter(|n| n.kind() == "class_definition")
            .filter_map(|n| {
                n.child_by_field_name("name")
                    .map(|name| node_text(name, text))
            })
            .collect();
        if !classes.is_empty()
            && outer_first[..position]
                .iter()
                .all(|n| n.kind() == "class_definition")
        {
            hole.class_qualname = Some(classes.join("."));
        }
        hole.function = find_function(&hole.module, hole.class_qualname.as_deref(), function, text);
    } else {
        let classes: Vec<&str> = outer_first
            .iter()
            .take_while(|n| n.kind() == "class_definition")
            .filter_map(|n| {
                n.child_by_field_name("name")
                    .map(|name| node_text(name, text))
            })
            .collect();
        if !classes.is_empty() {
            hole.class_qualname = Some(classes.join("."));
        }
    }

    // Both readers of the sites stop at the innermost definition, so the query starts there, or
    // at most MAX_SITE_DEPTH levels above the cursor: a query's time grows with the square of
    // the depth it descends, and sites further out than that say nothing about the hole.
    let innermost = definitions.first().copied().unwrap_or(tree.root_node());
    let innermost_up = ancestors
        .get(&innermost.id())
        .copied()
        .unwrap_or(path.len());
    let query_root = if innermost_up > MAX_SITE_DEPTH {
        path[path.len() - 1 - MAX_SITE_DEPTH]
    } else {
        innermost
    };
    let sites = hole_sites(query_root, &ancestors, text, offset);
    hole.expected_type = expected_type(&sites, function_node, hole.function.as_ref(), text, offset);
    hole.call_argument = call_argument(&sites, text, offset);
    if let Some(function) = &hole.function {
        for param in &function.params {
            hole.names_in_scope.push(TypedName {
                name: param.name.clone(),
                type_text: param.annotation.clone(),
                origin: NameOrigin::Parameter,
            });
        }
    }
    if let Some(function) = function_node {
        if let Some(body) = function.child_by_field_name("body") {
            collect_locals(body, text, offset, &mut hole.names_in_scope);
        }
    }
    hole.nearby_identifiers = nearby_identifiers(text, offset, function_node);
    let class_node = definitions
        .iter()
        .copied()
        .find(|n| n.kind() == "class_definition");
    let class_range = class_node.map(|n| (n.start_byte(), n.end_byte()));
    let p3 = p0.elapsed();
    count_usage(tree.root_node(), text, class_range, &mut hole.usage);
    tracing::trace!(reparse = ?p1, extract = ?(p2 - p1), hole = ?(p3 - p2), usage = ?(p0.elapsed() - p3), "hole analysed");
    hole
}

/// Counts name, attribute and call uses outside import statements, strings and comments.
///
/// A lexical scan rather than a tree walk: it is several times faster on large modules (this
/// runs on every request) and reads broken code the same way as clean code.
fn count_usage(root: Node, text: &str, class_range: Option<(usize, usize)>, usage: &mut Usage) {
    let imports = import_ranges(root);
    let bytes = text.as_bytes();
    let mut names: HashMap<&str, u32> = HashMap::new();
    let mut names_in_class: HashMap<&str, u32> = HashMap::new();
    let mut attributes: HashMap<&str, u32> = HashMap::new();
    let mut qualified: HashMap<(&str, &str), u32> = HashMap::new();
    let mut called: HashSet<&str> = HashSet::new();
    let mut import_index = 0;
    // The previous identifier, when it was followed directly by `.` (the object of an attribute),
    // and the start of the dotted chain it belongs to.
    let mut object: Option<&str> = None;
    let mut chain_start: Option<usize> = None;
    let mut after_dot = false;
    let mut i = 0;
    while i < bytes.len() {
        while import_index < imports.len() && imports[import_index].1 <= i {
            import_index += 1;
        }
        if let Some(&(start, end)) = imports.get(import_index) {
            if i >= start && i < end {
                i = end;
                continue;
            }
        }
        let c = bytes[i];
        match c {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                after_dot = false;
            }
            b'"' | b'\'' => {
                i = skip_string(bytes, i);
                after_dot = false;
                object = None;
            }
            b'.' => {
                after_dot = true;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                // A string prefix (`f"`, `rb'`) belongs to the string that follows.
                if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') && i - start <= 2 {
                    continue;
                }
                let Some(word) = text.get(start..i) else {
                    continue;
                };
                let mut next = i;
                while next < bytes.len() && (bytes[next] == b' ' || bytes[next] == b'\t') {
                    next += 1;
                }
                let followed_by_dot = next < bytes.len() && bytes[next] == b'.';
                let followed_by_call = next < bytes.len() && bytes[next] == b'(';
                if after_dot {
                    *attributes.entry(word).or_default() += 1;
                    if let Some(object) = object {
                        *qualified.entry((object, word)).or_default() += 1;
                    }
                    object = None;
                } else {
                    *names.entry(word).or_default() += 1;
                    if class_range.is_some_and(|(s, e)| start >= s && i <= e) {
                        *names_in_class.entry(word).or_default() += 1;
                    }
                    object = if followed_by_dot { Some(word) } else { None };
                    chain_start = Some(start);
                }
                if followed_by_call {
                    if let Some(chain) = chain_start.and_then(|s| text.get(s..i)) {
                        called.insert(chain);
                    }
                }
                after_dot = false;
            }
            b' ' | b'\t' | b'\\' => i += 1,
            _ => {
                after_dot = false;
                object = None;
                i += 1;
            }
        }
    }
    usage.names = names.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    usage.names_in_class = names_in_class
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    usage.attributes = attributes
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    usage.qualified = qualified
        .into_iter()
        .map(|((o, a), v)| ((o.to_string(), a.to_string()), v))
        .collect();
    usage.called = called.into_iter().map(str::to_string).collect();
}

/// The index of the byte after the string literal starting at `start` (a quote).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let triple = bytes.len() >= start + 3 && bytes[start + 1] == quote && bytes[start + 2] == quote;
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' if !triple => return i,
            c if c == quote => {
                if !triple {
                    return i + 1;
                }
                if bytes.len() >= i + 3 && bytes[i + 1] == quote && bytes[i + 2] == quote {
                    return i + 3;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Byte ranges of the import statements at module level and in blocks below it (not inside
/// functions), in order.
///
/// A direct walk, not a query: it visits only module-level statements and the blocks of
/// `if`/`try`/`with` below them, while a query for import statements would visit every node of
/// the module (imports inside functions included) and then need a walk up from each to leave
/// those out.
fn import_ranges(root: Node) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut stack = vec![(root, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "import_statement" | "import_from_statement" | "future_import_statement" => {
                    out.push((child.start_byte(), child.end_byte()));
                }
                "if_statement" | "try_statement" | "with_statement" | "else_clause"
                | "elif_clause" | "except_clause" | "finally_clause" | "block" | "ERROR"
                    if depth < 6 =>
                {
                    stack.push((child, depth + 1));
                }
                _ => {}
            }
        }
    }
    out.sort_unstable();
    out
}

/// The document with `...` at the cursor when the cursor's line is blank up to its end.
fn repair(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(text.len());
    let before = text[line_start..offset].trim_end();
    let blank = text[line_start..line_end].trim().is_empty();
    let open = before.ends_with(['=', '(', '[', '{', ',', ':'])
        || before.ends_with("return")
        || before.ends_with("await");
    let rest_closes = text[offset..line_end]
        .trim()
        .chars()
        .all(|c| matches!(c, ')' | ']' | '}' | ',' | ':'));
    if !(blank || open && rest_closes) {
        return None;
    }
    if !blank {
        let mut repaired = String::with_capacity(text.len() + 4);
        repaired.push_str(&text[..offset]);
        repaired.push_str(if text[..offset].ends_with(' ') {
            "..."
        } else {
            " ..."
        });
        repaired.push_str(&text[offset..]);
        return Some(repaired);
    }
    let mut repaired = String::with_capacity(text.len() + 3);
    repaired.push_str(&text[..offset]);
    if offset == line_start {
        // An unindented blank line: indent like the previous non-blank line's body would be.
        let previous = text[..line_start]
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let indent = previous.len() - previous.trim_start().len();
        let extra = if previous.trim_end().ends_with(':') {
            4
        } else {
            0
        };
        repaired.push_str(&" ".repeat(indent + extra));
    }
    repaired.push_str("...");
    repaired.push_str(&text[offset..]);
    Some(repaired)
}

fn point_at(text: &str, offset: usize) -> tree_sitter::Point {
    let before = &text[..offset];
    let row = before.matches('\n').count();
    let column = offset - before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    tree_sitter::Point { row, column }
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn find_function(
    module: &ModuleInfo,
    class: Option<&str>,
    node: Node,
    text: &str,
) -> Option<FunctionInfo> {
    let name = node_text(node.child_by_field_name("name")?, text);
    let line = node.start_position().row as u32;
    let candidates: &[FunctionInfo] = match class {
        Some(qualname) => &crate::index::resolve::find_class(module, qualname)?.methods,
        None => &module.functions,
    };
    candidates
        .iter()
        .find(|f| f.name == name && f.line == line)
        .or_else(|| candidates.iter().find(|f| f.name == name))
        .cloned()
}

/// The type the code at the cursor should produce, when the code says so.
///
/// The sites come from `grammars/python/hole.scm`, innermost first: a return statement gives the
/// function's return annotation, the value side of an annotated assignment its annotation (the
/// element type inside a list, set or tuple literal), and a scope ends the search.
fn expected_type(
    sites: &[Site],
    function_node: Option<Node>,
    function: Option<&FunctionInfo>,
    text: &str,
    offset: usize,
) -> Option<String> {
    let returns = function
        .and_then(|f| f.returns.clone())
        .filter(|r| r != "None");
    for site in sites {
        match site.kind {
            SiteKind::Return => return returns,
            SiteKind::AnnotatedAssignment { annotation, value } if offset >= value.start_byte() => {
                let annotation = node_text(annotation, text).to_string();
                // Inside a list, set or tuple literal: the element type of `list[T]`.
                let in_literal =
                    matches!(value.kind(), "list" | "set" | "tuple") && value.start_byte() < offset;
                if in_literal {
                    if let Some(element) = element_type(&annotation) {
                        return Some(element);
                    }
                }
                return Some(annotation);
            }
            SiteKind::Scope => break,
            _ => {}
        }
    }
    // An empty (or `...`) body: the whole body is to be written, and it must return `returns`.
    // A look at the body's statements, not a search: a direct walk.
    let body = function_node?.child_by_field_name("body")?;
    let mut cursor = body.walk();
    let statements: Vec<Node> = body
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .filter(|n| {
            !(n.kind() == "expression_statement"
                && n.named_child(0).map(|c| c.kind()) == Some("string"))
        })
        .collect();
    let empty = statements
        .iter()
        .all(|n| matches!(node_text(*n, text).trim(), "..." | "pass"));
    if empty {
        returns
    } else {
        None
    }
}

/// The call argument the cursor is in, when it is in one (and not inside a nested definition).
///
/// The innermost argument list around the cursor decides, unless a statement or a scope comes
/// first (sites of `grammars/python/hole.scm`, innermost first).
fn call_argument(sites: &[Site], text: &str, offset: usize) -> Option<CallArgument> {
    let mut keyword = None;
    for site in sites {
        match site.kind {
            SiteKind::KeywordArgument { name } if keyword.is_none() => {
                keyword = Some(node_text(name, text).to_string());
            }
            SiteKind::Call { callee } => {
                // Counting the arguments before the cursor's is a look at one node's children.
                let mut cursor = site.node.walk();
                let position = site
                    .node
                    .named_children(&mut cursor)
                    .filter(|a| {
                        a.end_byte() < offset && !matches!(a.kind(), "keyword_argument" | "comment")
                    })
                    .count();
                return Some(CallArgument {
                    callee: node_text(callee, text).to_string(),
                    position,
                    keyword,
                });
            }
            SiteKind::Arguments | SiteKind::Scope | SiteKind::Statement => return None,
            _ => {}
        }
    }
    None
}

/// A capture of `grammars/python/hole.scm` whose node encloses the cursor.
#[derive(Debug, Clone, Copy)]
struct Site<'tree> {
    /// The node that encloses the cursor (for a call, its argument list).
    node: Node<'tree>,
    /// How many ancestors up from the node at the cursor it is (0: that node itself).
    depth: usize,
    kind: SiteKind<'tree>,
}

/// What a site is.
#[derive(Debug, Clone, Copy)]
enum SiteKind<'tree> {
    Return,
    AnnotatedAssignment {
        annotation: Node<'tree>,
        value: Node<'tree>,
    },
    KeywordArgument {
        name: Node<'tree>,
    },
    /// The argument list of a call whose callee is a name or a dotted name; read before the
    /// plain `Arguments` site of the same node.
    Call {
        callee: Node<'tree>,
    },
    Arguments,
    Scope,
    Statement,
}

impl SiteKind<'_> {
    /// The order in which sites of the same node are read: a call's argument list before the
    /// plain argument list it also is.
    fn order(&self) -> u8 {
        match self {
            SiteKind::Return => 0,
            SiteKind::AnnotatedAssignment { .. } => 1,
            SiteKind::KeywordArgument { .. } => 2,
            SiteKind::Call { .. } => 3,
            SiteKind::Arguments => 4,
            SiteKind::Scope => 5,
            SiteKind::Statement => 6,
        }
    }
}

/// The sites of `grammars/python/hole.scm` among the cursor's ancestors up to `innermost`,
/// innermost first.
///
/// `innermost` is the innermost definition around the cursor (or the module): no reader looks
/// past it. `ancestors` maps the id of every node from the one at the cursor up to the root to
/// how far up it is. The query only visits the nodes that touch the cursor.
fn hole_sites<'tree>(
    innermost: Node<'tree>,
    ancestors: &HashMap<usize, usize>,
    text: &str,
    offset: usize,
) -> Vec<Site<'tree>> {
    let query = HoleQuery::get();
    let mut cursor = QueryCursor::new();
    // A match is only found when its nodes start before the range's end. The sites that apply
    // have all their nodes start at or before the cursor (an annotated assignment applies once
    // the cursor is in its value), so the range can end just after the cursor.
    cursor.set_byte_range(offset.saturating_sub(1)..offset + 1);
    let mut sites = Vec::new();
    let mut give_up = query_deadline();
    let options = QueryCursorOptions::new().progress_callback(&mut give_up);
    let mut matches =
        cursor.matches_with_options(&query.query, innermost, text.as_bytes(), options);
    while let Some(found) = matches.next() {
        let capture = |index: u32| {
            found
                .captures
                .iter()
                .find(|c| c.index == index)
                .map(|c| c.node)
        };
        let site = if let Some(node) = capture(query.expected_return) {
            Some((node, SiteKind::Return))
        } else if let (Some(node), Some(annotation), Some(value)) = (
            capture(query.expected_assignment),
            capture(query.expected_annotation),
            capture(query.expected_value),
        ) {
            Some((node, SiteKind::AnnotatedAssignment { annotation, value }))
        } else if let (Some(node), Some(callee)) =
            (capture(query.call_arguments), capture(query.call_callee))
        {
            Some((node, SiteKind::Call { callee }))
        } else if let Some(node) = capture(query.arguments) {
            Some((node, SiteKind::Arguments))
        } else if let (Some(node), Some(name)) = (
            capture(query.call_keyword_argument),
            capture(query.call_keyword),
        ) {
            Some((node, SiteKind::KeywordArgument { name }))
        } else if let Some(node) = capture(query.scope) {
            Some((node, SiteKind::Scope))
        } else {
            capture(query.statement).map(|node| (node, SiteKind::Statement))
        };
        if let Some((node, kind)) = site {
            if let Some(&depth) = ancestors.get(&node.id()) {
                sites.push(Site { node, depth, kind });
            }
        }
    }
    sites.sort_by_key(|site| (site.depth, site.kind.order()));
    sites
}

/// `T` of `list[T]`, `List[T]`, `set[T]`, `Sequence[T]`, `tuple[T, ...]` and the like.
fn element_type(annotation: &str) -> Option<String> {
    let (container, rest) = annotation.split_once('[')?;
    let container = container.rsplit('.').next().unwrap_or(container).trim();
    let known = [
        "list",
        "List",
        "set",
        "Set",
        "frozenset",
        "FrozenSet",
        "Sequence",
        "MutableSequence",
        "Iterable",
        "tuple",
        "Tuple",
    ];
    if !known.contains(&container) {
        return None;
    }
    let inner = rest.strip_suffix(']')?;
    let mut depth = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => return Some(inner[..i].trim().to_string()),
            _ => {}
        }
    }
    Some(inner.trim().to_string())
}

/// Assignments further below the function's body than this are not read. (The direct walk this
/// query replaced stopped there to bound its recursion; the query cursor does not recurse, and
/// the limit only keeps the names the same.)
const LOCALS_MAX_DEPTH: u32 = 49;

/// Names assigned in the function `body` before the cursor (not inside nested definitions), from
/// `grammars/python/locals.scm`, in the order they are assigned; a name assigned again keeps
/// its last type.
fn collect_locals(body: Node, text: &str, offset: usize, out: &mut Vec<TypedName>) {
    if offset <= body.start_byte() {
        return;
    }
    // The query reads the body's statements up to the first one that starts after the cursor.
    // A range ending at the cursor itself loses matches: tree-sitter drops a match that is not
    // finished where the range ends (an assignment around the cursor, or one whose optional
    // value it has not yet seen to be missing). Ending between two statements lets it leave
    // every statement that starts before the cursor.
    let mut statements = body.walk();
    let end = body
        .named_children(&mut statements)
        .find(|statement| statement.start_byte() >= offset)
        .map_or(body.end_byte(), |next| next.start_byte());
    let query = LocalsQuery::get();
    let mut cursor = QueryCursor::new();
    cursor
        .set_byte_range(body.start_byte()..end)
        .set_max_start_depth(Some(LOCALS_MAX_DEPTH));
    let mut found: Vec<(Node, Local)> = Vec::new();
    let mut give_up = query_deadline();
    let options = QueryCursorOptions::new().progress_callback(&mut give_up);
    let mut matches = cursor.matches_with_options(&query.query, body, text.as_bytes(), options);
    while let Some(each) = matches.next() {
        let capture = |index: u32| {
            each.captures
                .iter()
                .find(|c| c.index == index)
                .map(|c| c.node)
        };
        if let (Some(assignment), Some(name)) = (capture(query.assignment), capture(query.name)) {
            let local = Local::Assignment {
                name,
                annotation: capture(query.annotation),
                value: capture(query.value),
            };
            found.push((assignment, local));
        } else if let Some(scope) = capture(query.scope) {
            found.push((scope, Local::Scope));
        }
    }
    found.sort_by_key(|(node, _)| node.start_byte());
    // Scopes nest or follow each other, so one end is enough to skip what is inside them.
    let mut scope_end = 0;
    for (node, local) in found {
        if node.start_byte() >= offset {
            break;
        }
        if node.start_byte() < scope_end {
            continue;
        }
        let Local::Assignment {
            name,
            annotation,
            value,
        } = local
        else {
            scope_end = node.end_byte();
            continue;
        };
        let type_text = annotation
            .map(|t| node_text(t, text).to_string())
            .or_else(|| value.and_then(|v| call_type(v, text)));
        let name = node_text(name, text).to_string();
        out.retain(|n| !(n.name == name && n.origin == NameOrigin::Local));
        out.push(TypedName {
            name,
            type_text,
            origin: NameOrigin::Local,
        });
    }
}

/// A match of `grammars/python/locals.scm`.
enum Local<'tree> {
    /// `name = value` or `name: annotation = value`.
    Assignment {
        name: Node<'tree>,
        annotation: Option<Node<'tree>>,
        value: Option<Node<'tree>>,
    },
    /// A nested definition or lambda: what it assigns is its own.
    Scope,
}

/// `Foo(...)` or `self.make(...)` as `call:Foo` / `call:self.make`: a type read off a call.
fn call_type(value: Node, text: &str) -> Option<String> {
    let value = if value.kind() == "await" {
        value.named_child(0)?
    } else {
        value
    };
    if value.kind() != "call" {
        return None;
    }
    let function = value.child_by_field_name("function")?;
    if !matches!(function.kind(), "identifier" | "attribute") {
        return None;
    }
    Some(format!("call:{}", node_text(function, text)))
}

/// Identifiers of the enclosing function's header and docstring and of the lines near the cursor.
fn nearby_identifiers(text: &str, offset: usize, function_node: Option<Node>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(function) = function_node {
        let header_end = function
            .child_by_field_name("body")
            .and_then(|b| b.named_child(0))
            .filter(|first| first.kind() == "expression_statement")
            .map(|first| first.end_byte())
            .unwrap_or_else(|| {
                function
                    .child_by_field_name("body")
                    .map(|b| b.start_byte())
                    .unwrap_or(function.end_byte())
            });
        identifiers_into(
            &text[function.start_byte()..header_end.min(text.len()).max(function.start_byte())],
            &mut out,
        );
    }
    let before: Vec<usize> = text[..offset].match_indices('\n').map(|(i, _)| i).collect();
    let start = if before.len() > NEARBY_LINES {
        before[before.len() - NEARBY_LINES]
    } else {
        0
    };
    let end = text[offset..]
        .match_indices('\n')
        .nth(NEARBY_LINES)
        .map(|(i, _)| offset + i)
        .unwrap_or(text.len());
    identifiers_into(&text[start..end], &mut out);
    out
}

/// Appends every identifier of `text` (outside of nothing: strings and comments count too).
pub fn identifiers_into(text: &str, out: &mut Vec<String>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(text[start..i].to_string());
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hole_at(source: &str) -> Hole {
        let offset = source.find("<CURSOR>").expect("fixture has a cursor");
        let text = source.replace("<CURSOR>", "");
        let tree = crate::store::parse_python(&text, None).expect("parses");
        analyze(&text, &tree, "pkg.mod", "pkg/mod.py", offset, None)
    }

    #[test]
    fn an_empty_method_body_is_found_with_its_types() {
        let hole = hole_at(
            "from .models import Request, Response\n\nclass Client:\n    def send(self, request: Request, *, timeout: float = 1.0) -> Response:\n        \"\"\"Send it.\"\"\"\n        <CURSOR>\n\n    def close(self) -> None:\n        pass\n",
        );
        assert_eq!(hole.class_qualname.as_deref(), Some("Client"));
        assert_eq!(hole.function_qualname.as_deref(), Some("Client.send"));
        assert_eq!(hole.expected_type.as_deref(), Some("Response"));
        let names: Vec<_> = hole
            .names_in_scope
            .iter()
            .map(|n| (n.name.as_str(), n.type_text.as_deref()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("self", None),
                ("request", Some("Request")),
                ("timeout", Some("float"))
            ]
        );
        assert!(hole.nearby_identifiers.iter().any(|i| i == "Send"));
    }

    #[test]
    fn a_body_without_docstring_or_statements_is_repaired() {
        let hole =
            hole_at("def parse(text: str) -> Token:\n    <CURSOR>\n\ndef other():\n    pass\n");
        assert_eq!(hole.function_qualname.as_deref(), Some("parse"));
        assert_eq!(hole.expected_type.as_deref(), Some("Token"));
        assert!(hole.module.functions.iter().any(|f| f.name == "other"));
    }

    #[test]
    fn the_index_entry_is_reused_only_for_the_same_text() {
        let text = "def f(a):\n    return a\n";
        let tree = crate::store::parse_python(text, None).expect("parses");
        let known = Arc::new(extract_module("m", "m.py", text, &tree));
        let hole = analyze(text, &tree, "m", "m.py", 14, Some(known.clone()));
        assert!(Arc::ptr_eq(&hole.module, &known));
        let other = "def f(a):\n    return b\n";
        let tree = crate::store::parse_python(other, None).expect("parses");
        let hole = analyze(other, &tree, "m", "m.py", 14, Some(known.clone()));
        assert!(!Arc::ptr_eq(&hole.module, &known));
    }

    #[test]
    fn usage_counts_skip_imports_strings_and_comments() {
        let hole = hole_at("import os\nfrom a import (\n    b,\n    c,\n)\nx = os.path.join('b', \"c\")  # b\ny = c.run(x).z\n<CURSOR>");
        assert_eq!(hole.usage.names.get("b"), None);
        assert_eq!(hole.usage.names.get("os"), Some(&1));
        assert_eq!(hole.usage.names.get("c"), Some(&1));
        assert_eq!(
            hole.usage
                .qualified
                .get(&("os".to_string(), "path".to_string())),
            Some(&1)
        );
        assert_eq!(hole.usage.attributes.get("join"), Some(&1));
        assert!(hole.usage.called.contains("os.path.join"));
        assert!(hole.usage.called.contains("c.run"));
    }

    #[test]
    fn locals_and_assignment_annotations() {
        let hole = hole_at("def f(a):\n    b = Builder(a)\n    c: Result = <CURSOR>\n");
        assert_eq!(hole.expected_type.as_deref(), Some("Result"));
        let local = hole
            .names_in_scope
            .iter()
            .find(|n| n.name == "b")
            .expect("b is a local");
        assert_eq!(local.type_text.as_deref(), Some("call:Builder"));
        let hole = hole_at("def f(a):\n    xs: list[Item] = [<CURSOR>]\n");
        assert_eq!(hole.expected_type.as_deref(), Some("Item"));
        let hole = hole_at("def f(a):\n    g(a, b, key=<CURSOR>)\n");
        assert_eq!(
            hole.call_argument,
            Some(CallArgument {
                callee: "g".into(),
                position: 2,
                keyword: Some("key".into())
            })
        );
        // Module level, no function: nothing breaks.
        let hole = hole_at("x = 1\n<CURSOR>");
        assert!(hole.function.is_none());
    }

    fn call_at(source: &str) -> Option<(String, usize, Option<String>)> {
        hole_at(source)
            .call_argument
            .map(|c| (c.callee, c.position, c.keyword))
    }

    #[test]
    fn the_innermost_argument_list_decides_the_call_argument() {
        let call = |callee: &str, position, keyword: Option<&str>| {
            Some((callee.to_string(), position, keyword.map(str::to_string)))
        };
        // A call inside a keyword argument's value: the inner call, with no keyword.
        assert_eq!(
            call_at("def f(a):\n    g(a, key=h(1, <CURSOR>))\n"),
            call("h", 1, None)
        );
        // A container in a keyword argument keeps the keyword.
        assert_eq!(
            call_at("def f(a):\n    self.g(key=[1, <CURSOR>])\n"),
            call("self.g", 0, Some("key"))
        );
        // A class's bases, a call of a subscript and a lambda are not call arguments.
        assert_eq!(call_at("class A(Base, <CURSOR>):\n    pass\n"), None);
        assert_eq!(call_at("def f(a):\n    a[0](<CURSOR>)\n"), None);
        assert_eq!(call_at("def f(a):\n    g(key=lambda: <CURSOR>)\n"), None);
        // A statement ends the search: a blank line of a body is in no call.
        assert_eq!(call_at("def f(a):\n    x = 1\n    <CURSOR>\n"), None);
    }

    #[test]
    fn expected_types_stop_at_scopes_and_wait_for_the_value() {
        let expected = |source: &str| hole_at(source).expected_type;
        assert_eq!(
            expected("def f() -> Out:\n    return <CURSOR>\n").as_deref(),
            Some("Out")
        );
        // A return annotation of `None` says nothing.
        assert_eq!(expected("def f() -> None:\n    return <CURSOR>\n"), None);
        // In the annotation itself the value's type is not asked for.
        assert_eq!(
            expected("def f():\n    x: <CURSOR> = 1\n    return x\n"),
            None
        );
        // A lambda in a return statement is its own scope.
        assert_eq!(
            expected("def f() -> Out:\n    return lambda: <CURSOR>\n"),
            None
        );
        // Parentheses around one value are not a tuple literal: the annotation as it is.
        assert_eq!(
            expected("def f():\n    xs: tuple[Item, ...] = (<CURSOR>)\n").as_deref(),
            Some("tuple[Item, ...]")
        );
        assert_eq!(
            expected("def f():\n    xs: Sequence[Item] = [a, <CURSOR>]\n").as_deref(),
            Some("Item")
        );
    }

    #[test]
    fn locals_skip_nested_scopes_and_keep_the_last_assignment() {
        let hole = hole_at(
            "def f(a):\n    b = Builder(a)\n    x = y = make()\n    def inner():\n        hidden = Hidden()\n    class K:\n        attr: int = 1\n    g = lambda: 0\n    b: Result = other()\n    if a:\n        for i in a:\n            deep = await fetch()\n    <CURSOR>\n    late = Late()\n",
        );
        let locals: Vec<(&str, Option<&str>)> = hole
            .names_in_scope
            .iter()
            .filter(|n| n.origin == NameOrigin::Local)
            .map(|n| (n.name.as_str(), n.type_text.as_deref()))
            .collect();
        assert_eq!(
            locals,
            vec![
                ("x", None),
                ("y", Some("call:make")),
                ("g", None),
                ("b", Some("Result")),
                ("deep", Some("call:fetch")),
            ]
        );
    }
}
