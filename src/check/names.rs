//! Unresolved names: Python's scoping rules over the spliced document's tree, and the names the
//! candidate reads that no visible scope binds.
//!
//! Order is ignored (a name bound later in the module or the function counts as bound), which keeps
//! the check silent on code that works. Function, class, lambda and comprehension scopes are kept
//! apart; class scopes are invisible to the functions nested in them; `global` and `nonlocal`,
//! walrus targets, `match` captures, `except ... as`, `del`, loop and `with` targets bind. A star
//! import, a module `__getattr__` or writes through `globals()` make the module scope open, and
//! nothing that would resolve there is reported.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::{Problem, ProblemKind, Spliced};

/// Deeper trees than this are not analysed (and no name problems are reported for them).
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Module,
    Class,
    Function,
    Comprehension,
}

/// What bound a name, with the byte ranges the member checks need to find its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingKind {
    /// A parameter; `index` is its position in the parameter list, `annotation` its type's range.
    Parameter {
        index: usize,
        annotation: Option<(usize, usize)>,
        star: bool,
    },
    /// `name = value` or `name: annotation = value` with a plain name on the left.
    Assignment {
        value: Option<(usize, usize)>,
        annotation: Option<(usize, usize)>,
    },
    /// `import module` (`name` is `None`) or `from module import name`; `module` is as written,
    /// with the leading dots of a relative import.
    Import {
        module: String,
        name: Option<String>,
    },
    /// A `def`; the range of the function_definition node.
    Function { node: (usize, usize) },
    /// A `class`; the range of the class_definition node.
    Class { node: (usize, usize) },
    /// `except Error as name` with one exception class (the range of its expression).
    ExceptAs { class: (usize, usize) },
    /// Anything else: loop and `with` targets, walrus, `del`, patterns, `global`.
    Other,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub kind: BindingKind,
    pub start: usize,
}

#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub kind: ScopeKind,
    pub parent: Option<usize>,
    /// The byte range of the node that makes the scope (the whole document for the module).
    pub start: usize,
    pub end: usize,
    pub bindings: HashMap<&'a str, Vec<Binding>>,
    pub globals: HashSet<&'a str>,
    pub nonlocals: HashSet<&'a str>,
    /// Something binds names this analysis cannot see (a star import, module `__getattr__`).
    pub open: bool,
    /// The name of the function or class that makes the scope (empty otherwise).
    pub name: &'a str,
    /// The decorators of that function or class, as written without `@`.
    pub decorators: Vec<&'a str>,
}

impl<'a> Scope<'a> {
    fn new(kind: ScopeKind, parent: Option<usize>, start: usize, end: usize) -> Self {
        Scope {
            kind,
            parent,
            start,
            end,
            bindings: HashMap::new(),
            globals: HashSet::new(),
            nonlocals: HashSet::new(),
            open: false,
            name: "",
            decorators: Vec::new(),
        }
    }
}

/// One name read inside the candidate.
#[derive(Debug, Clone)]
pub struct Read<'a> {
    pub name: &'a str,
    pub start: usize,
    pub end: usize,
    pub scope: usize,
    /// The read sits inside an ERROR node, where the tree's shape cannot be trusted.
    pub in_error: bool,
}

/// Where a name read resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Bound in this scope (index into `Scopes::scopes`).
    Scope(usize),
    Builtin,
    /// An open scope could bind it.
    Unknown,
    Unresolved,
}

/// The scopes of a document and the names read inside the candidate.
#[derive(Debug)]
pub struct Scopes<'a> {
    pub text: &'a str,
    pub scopes: Vec<Scope<'a>>,
    pub reads: Vec<Read<'a>>,
    /// Type parameter names (PEP 695); never reported.
    pub type_parameters: HashSet<&'a str>,
    /// False when the tree was too deep to analyse: nothing is reported then.
    pub complete: bool,
    /// The candidate's byte range.
    pub span: (usize, usize),
}

impl<'a> Scopes<'a> {
    /// Resolves `name` as read in `scope`, following Python's rules.
    pub fn resolve(&self, name: &str, scope: usize) -> Resolution {
        let module = 0;
        let mut current = scope;
        let mut first = true;
        if !self.scopes[scope].globals.contains(name) {
            loop {
                let here = &self.scopes[current];
                let visible = first || here.kind != ScopeKind::Class;
                if visible && (here.bindings.contains_key(name) || here.nonlocals.contains(name)) {
                    return Resolution::Scope(current);
                }
                if visible && here.open && here.kind != ScopeKind::Module {
                    return Resolution::Unknown;
                }
                match here.parent {
                    Some(parent) => current = parent,
                    None => break,
                }
                first = false;
            }
        } else if self.scopes[module].bindings.contains_key(name) {
            return Resolution::Scope(module);
        }
        if is_builtin(name) || self.type_parameters.contains(name) {
            return Resolution::Builtin;
        }
        if self.scopes[module].open {
            return Resolution::Unknown;
        }
        Resolution::Unresolved
    }

    /// The innermost scope whose node contains `offset`.
    pub fn scope_at(&self, offset: usize) -> usize {
        let mut best = 0;
        for (index, scope) in self.scopes.iter().enumerate() {
            if scope.start <= offset && offset < scope.end && scope.start >= self.scopes[best].start
            {
                best = index;
            }
        }
        best
    }

    /// Every name visible from `scope` (for suggestions).
    pub fn visible_names(&self, scope: usize) -> Vec<&'a str> {
        let mut names = Vec::new();
        let mut current = Some(scope);
        let mut first = true;
        while let Some(index) = current {
            let here = &self.scopes[index];
            if first || here.kind != ScopeKind::Class {
                names.extend(here.bindings.keys().copied());
            }
            first = false;
            current = here.parent;
        }
        names
    }
}

/// Builds the scopes of the spliced document; reads are recorded only inside the candidate.
pub fn analyze<'a>(spliced: &'a Spliced) -> Scopes<'a> {
    analyze_text(
        &spliced.text,
        spliced.tree.root_node(),
        spliced.start,
        spliced.end,
    )
}

/// [`analyze`] over any text and tree, recording reads in `start..end`.
pub fn analyze_text<'a>(text: &'a str, root: Node<'a>, start: usize, end: usize) -> Scopes<'a> {
    let mut walker = Walker {
        text,
        scopes: vec![Scope::new(
            ScopeKind::Module,
            None,
            0,
            text.len().max(root.end_byte()) + 1,
        )],
        reads: Vec::new(),
        type_parameters: HashSet::new(),
        complete: true,
        span: (start, end),
    };
    walker.declared_globals(root);
    walker.module_dynamics(root);
    walker.walk_children(root, 0, false, 0);
    Scopes {
        text,
        scopes: walker.scopes,
        reads: walker.reads,
        type_parameters: walker.type_parameters,
        complete: walker.complete,
        span: (start, end),
    }
}

struct Walker<'a> {
    text: &'a str,
    scopes: Vec<Scope<'a>>,
    reads: Vec<Read<'a>>,
    type_parameters: HashSet<&'a str>,
    complete: bool,
    span: (usize, usize),
}

impl<'a> Walker<'a> {
    fn text_of(&self, node: Node) -> &'a str {
        self.text
            .get(node.start_byte()..node.end_byte())
            .unwrap_or("")
    }

    fn overlaps_span(&self, node: Node) -> bool {
        node.start_byte() <= self.span.1 && node.end_byte() >= self.span.0
    }

    fn bind(&mut self, scope: usize, name: &'a str, kind: BindingKind, start: usize) {
        if name.is_empty() {
            return;
        }
        // A name declared `global` in this scope is bound in the module.
        let scope = if self.scopes[scope].globals.contains(name) {
            0
        } else {
            scope
        };
        self.scopes[scope]
            .bindings
            .entry(name)
            .or_default()
            .push(Binding { kind, start });
    }

    fn read(&mut self, node: Node, scope: usize, in_error: bool) {
        let (start, end) = (node.start_byte(), node.end_byte());
        if start >= self.span.0 && end <= self.span.1 {
            let name = self.text_of(node);
            self.reads.push(Read {
                name,
                start,
                end,
                scope,
                in_error,
            });
        }
    }

    /// Names declared `global` anywhere are module bindings (the functions that declare them
    /// assign them), even in functions this walk does not enter.
    fn declared_globals(&mut self, root: Node<'a>) {
        let text = self.text;
        for (index, _) in text.match_indices("global") {
            let before_ok = index == 0 || !is_identifier_byte(text.as_bytes()[index - 1]);
            let after_ok = text
                .as_bytes()
                .get(index + 6)
                .is_none_or(|&b| !is_identifier_byte(b));
            if !before_ok || !after_ok {
                continue;
            }
            let Some(node) = root.descendant_for_byte_range(index, index + 6) else {
                continue;
            };
            let Some(statement) = node
                .parent()
                .filter(|parent| parent.kind() == "global_statement")
            else {
                continue;
            };
            let mut cursor = statement.walk();
            for child in statement.named_children(&mut cursor) {
                if child.kind() == "identifier" {
                    let name = self.text_of(child);
                    self.scopes[0]
                        .bindings
                        .entry(name)
                        .or_default()
                        .push(Binding {
                            kind: BindingKind::Other,
                            start: child.start_byte(),
                        });
                }
            }
        }
    }

    /// Writes through `globals()` (subscript assignment, `update`) and a module-level
    /// `__getattr__` make the module scope open.
    fn module_dynamics(&mut self, root: Node<'a>) {
        let text = self.text;
        for (index, _) in text.match_indices("globals()") {
            let rest = text[index + "globals()".len()..].trim_start();
            let writes = rest.starts_with(".update")
                || rest.starts_with(".setdefault")
                || (rest.starts_with('[') && {
                    // `globals()[key] = value`: an assignment whose left side starts here.
                    root.descendant_for_byte_range(index, index + 7)
                        .and_then(|node| {
                            let mut current = node;
                            // `globals` -> call -> subscript -> assignment: a few steps at most.
                            for _ in 0..4 {
                                let parent = current.parent()?;
                                if parent.kind() == "assignment" {
                                    return Some(
                                        parent.child_by_field_name("left")?.start_byte() == index,
                                    );
                                }
                                current = parent;
                            }
                            None
                        })
                        .unwrap_or(false)
                });
            if writes {
                self.scopes[0].open = true;
            }
        }
        let mut cursor = root.walk();
        for child in root.named_children(&mut cursor) {
            let definition = if child.kind() == "decorated_definition" {
                child.child_by_field_name("definition")
            } else {
                Some(child)
            };
            if let Some(definition) = definition.filter(|node| node.kind() == "function_definition")
            {
                if definition
                    .child_by_field_name("name")
                    .is_some_and(|name| self.text_of(name) == "__getattr__")
                {
                    self.scopes[0].open = true;
                }
            }
        }
    }

    fn walk_children(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            self.walk(child, scope, in_error, depth + 1);
        }
    }

    fn walk(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        if depth > MAX_DEPTH {
            self.complete = false;
            return;
        }
        let in_error = in_error || node.is_error();
        match node.kind() {
            "identifier" => self.read(node, scope, in_error),
            "comment" | "string_content" | "escape_sequence" | "integer" | "float" | "true"
            | "false" | "none" | "ellipsis" => {}
            "attribute" => {
                if let Some(object) = node.child_by_field_name("object") {
                    self.walk(object, scope, in_error, depth + 1);
                }
            }
            "keyword_argument" => {
                if let Some(value) = node.child_by_field_name("value") {
                    self.walk(value, scope, in_error, depth + 1);
                }
            }
            "dotted_name" => {
                if let Some(first) = node.named_child(0) {
                    self.walk(first, scope, in_error, depth + 1);
                }
            }
            "member_type" => {
                if let Some(first) = node.named_child(0) {
                    self.walk(first, scope, in_error, depth + 1);
                }
            }
            _ => self.walk_compound(node, scope, in_error, depth),
        }
    }

    /// The node kinds that bind names or open scopes; kept out of [`Walker::walk`] so that the
    /// recursion through plain expressions uses small stack frames.
    #[inline(never)]
    fn walk_compound(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        match node.kind() {
            "function_definition" => self.function(node, scope, in_error, depth),
            "class_definition" => self.class(node, scope, in_error, depth),
            "lambda" => self.lambda(node, scope, in_error, depth),
            "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression" => self.comprehension(node, scope, in_error, depth),
            "assignment" => {
                let left = node.child_by_field_name("left");
                let right = node.child_by_field_name("right");
                let annotation = node.child_by_field_name("type");
                if let Some(left) = left {
                    if left.kind() == "identifier" {
                        let kind = BindingKind::Assignment {
                            value: right.map(|value| (value.start_byte(), value.end_byte())),
                            annotation: annotation
                                .map(|annotation| (annotation.start_byte(), annotation.end_byte())),
                        };
                        self.bind(scope, self.text_of(left), kind, left.start_byte());
                    } else {
                        self.target(left, scope, in_error, depth + 1);
                    }
                }
                if let Some(annotation) = annotation {
                    self.walk(annotation, scope, in_error, depth + 1);
                }
                if let Some(right) = right {
                    self.walk(right, scope, in_error, depth + 1);
                }
            }
            "augmented_assignment" => {
                if let Some(left) = node.child_by_field_name("left") {
                    self.target(left, scope, in_error, depth + 1);
                }
                if let Some(right) = node.child_by_field_name("right") {
                    self.walk(right, scope, in_error, depth + 1);
                }
            }
            "named_expression" => {
                let mut target_scope = scope;
                while self.scopes[target_scope].kind == ScopeKind::Comprehension {
                    target_scope = self.scopes[target_scope].parent.unwrap_or(0);
                }
                if let Some(name) = node.child_by_field_name("name") {
                    self.bind(
                        target_scope,
                        self.text_of(name),
                        BindingKind::Other,
                        name.start_byte(),
                    );
                }
                if let Some(value) = node.child_by_field_name("value") {
                    self.walk(value, scope, in_error, depth + 1);
                }
            }
            "for_statement" => {
                if let Some(left) = node.child_by_field_name("left") {
                    self.target(left, scope, in_error, depth + 1);
                }
                for field in ["right", "body", "alternative"] {
                    if let Some(child) = node.child_by_field_name(field) {
                        self.walk(child, scope, in_error, depth + 1);
                    }
                }
            }
            "import_statement" | "import_from_statement" => self.import(node, scope),
            "future_import_statement" => {}
            "global_statement" | "nonlocal_statement" => {
                let global = node.kind() == "global_statement";
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "identifier" {
                        let name = self.text_of(child);
                        if global {
                            self.scopes[scope].globals.insert(name);
                        } else {
                            self.scopes[scope].nonlocals.insert(name);
                        }
                    }
                }
            }
            "delete_statement" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    self.target(child, scope, in_error, depth + 1);
                }
            }
            "as_pattern" => {
                let alias = node.child_by_field_name("alias");
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if Some(child) == alias {
                        self.target(child, scope, in_error, depth + 1);
                    } else if child.kind() == "case_pattern" {
                        self.pattern(child, scope, in_error, depth + 1);
                    } else {
                        self.walk(child, scope, in_error, depth + 1);
                    }
                }
            }
            "except_clause" => {
                let alias = node.child_by_field_name("alias");
                let class = node
                    .child_by_field_name("value")
                    .filter(|value| matches!(value.kind(), "identifier" | "attribute"));
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "as_pattern" {
                        // `except Error as name` (this grammar's shape): the class, then the alias.
                        let class = child
                            .named_child(0)
                            .filter(|class| matches!(class.kind(), "identifier" | "attribute"));
                        let name = child
                            .child_by_field_name("alias")
                            .and_then(|alias| {
                                if alias.kind() == "identifier" {
                                    Some(alias)
                                } else {
                                    alias.named_child(0)
                                }
                            })
                            .filter(|name| name.kind() == "identifier");
                        if let (Some(class), Some(name)) = (class, name) {
                            self.walk(class, scope, in_error, depth + 1);
                            let kind = BindingKind::ExceptAs {
                                class: (class.start_byte(), class.end_byte()),
                            };
                            self.bind(scope, self.text_of(name), kind, name.start_byte());
                            continue;
                        }
                        self.walk(child, scope, in_error, depth + 1);
                    } else if Some(child) == alias {
                        match (child.kind(), class) {
                            ("identifier", Some(class)) => {
                                let kind = BindingKind::ExceptAs {
                                    class: (class.start_byte(), class.end_byte()),
                                };
                                self.bind(scope, self.text_of(child), kind, child.start_byte());
                            }
                            _ => self.target(child, scope, in_error, depth + 1),
                        }
                    } else {
                        self.walk(child, scope, in_error, depth + 1);
                    }
                }
            }
            "case_clause" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "case_pattern" {
                        self.pattern(child, scope, in_error, depth + 1);
                    } else {
                        self.walk(child, scope, in_error, depth + 1);
                    }
                }
            }
            "type_alias_statement" => {
                if let Some(left) = node.child_by_field_name("left") {
                    if let Some(name) = first_identifier(left) {
                        self.bind(
                            scope,
                            self.text_of(name),
                            BindingKind::Other,
                            name.start_byte(),
                        );
                    }
                    self.type_parameter_names(left);
                }
            }
            _ => self.walk_children(node, scope, in_error, depth),
        }
    }

    /// Binds the names of an assignment, loop, `with` or `del` target; reads what is read there.
    fn target(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        if depth > MAX_DEPTH {
            self.complete = false;
            return;
        }
        match node.kind() {
            "identifier" => self.bind(
                scope,
                self.text_of(node),
                BindingKind::Other,
                node.start_byte(),
            ),
            "tuple_pattern"
            | "list_pattern"
            | "pattern_list"
            | "parenthesized_expression"
            | "expression_list"
            | "tuple"
            | "list"
            | "list_splat_pattern"
            | "list_splat"
            | "as_pattern_target"
            | "pattern" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    self.target(child, scope, in_error, depth + 1);
                }
            }
            "comment" => {}
            _ => self.walk(node, scope, in_error, depth + 1),
        }
    }

    /// Binds the captures of a `match` pattern; reads its value patterns (`Color.RED`) and classes.
    fn pattern(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        if depth > MAX_DEPTH {
            self.complete = false;
            return;
        }
        match node.kind() {
            "identifier" => self.bind(
                scope,
                self.text_of(node),
                BindingKind::Other,
                node.start_byte(),
            ),
            "dotted_name" => {
                if node.named_child_count() == 1 {
                    if let Some(name) = node.named_child(0) {
                        self.bind(
                            scope,
                            self.text_of(name),
                            BindingKind::Other,
                            name.start_byte(),
                        );
                    }
                } else if let Some(first) = node.named_child(0) {
                    self.read(first, scope, in_error);
                }
            }
            "class_pattern" => {
                let mut cursor = node.walk();
                for (index, child) in node.named_children(&mut cursor).enumerate() {
                    if index == 0 && child.kind() == "dotted_name" {
                        if let Some(first) = child.named_child(0) {
                            self.read(first, scope, in_error);
                        }
                    } else {
                        self.pattern(child, scope, in_error, depth + 1);
                    }
                }
            }
            "keyword_pattern" => {
                let mut cursor = node.walk();
                for (index, child) in node.named_children(&mut cursor).enumerate() {
                    if index > 0 {
                        self.pattern(child, scope, in_error, depth + 1);
                    }
                }
            }
            "dict_pattern" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "dotted_name" if child.named_child_count() > 1 => {
                            if let Some(first) = child.named_child(0) {
                                self.read(first, scope, in_error);
                            }
                        }
                        "case_pattern" | "splat_pattern" => {
                            self.pattern(child, scope, in_error, depth + 1)
                        }
                        _ => {}
                    }
                }
            }
            "case_pattern" | "splat_pattern" | "list_pattern" | "tuple_pattern"
            | "union_pattern" | "as_pattern" | "as_pattern_target" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    self.pattern(child, scope, in_error, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn type_parameter_names(&mut self, node: Node<'a>) {
        let mut cursor = node.walk();
        let mut stack = vec![node];
        while let Some(current) = stack.pop() {
            if current.kind() == "identifier" {
                self.type_parameters.insert(self.text_of(current));
            }
            stack.extend(current.named_children(&mut cursor));
        }
    }

    fn import(&mut self, node: Node<'a>, scope: usize) {
        let from_module = node
            .child_by_field_name("module_name")
            .map(|module| self.text_of(module).to_string());
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            if Some(child) == node.child_by_field_name("module_name") {
                continue;
            }
            match child.kind() {
                "wildcard_import" => self.scopes[scope].open = true,
                "dotted_name" => match &from_module {
                    Some(module) => {
                        let name = self.text_of(child);
                        let kind = BindingKind::Import {
                            module: module.clone(),
                            name: Some(name.to_string()),
                        };
                        self.bind(scope, name, kind, child.start_byte());
                    }
                    None => {
                        // `import a.b.c` binds `a`, the top-level package.
                        if let Some(first) = child.named_child(0) {
                            let name = self.text_of(first);
                            let kind = BindingKind::Import {
                                module: name.to_string(),
                                name: None,
                            };
                            self.bind(scope, name, kind, first.start_byte());
                        }
                    }
                },
                "aliased_import" => {
                    let (Some(name), Some(alias)) = (
                        child.child_by_field_name("name"),
                        child.child_by_field_name("alias"),
                    ) else {
                        continue;
                    };
                    let kind = match &from_module {
                        Some(module) => BindingKind::Import {
                            module: module.clone(),
                            name: Some(self.text_of(name).to_string()),
                        },
                        None => BindingKind::Import {
                            module: self.text_of(name).to_string(),
                            name: None,
                        },
                    };
                    self.bind(scope, self.text_of(alias), kind, alias.start_byte());
                }
                _ => {}
            }
        }
    }

    /// Walks a parameter list: defaults and annotations in the enclosing scope, names bound in the
    /// function's scope.
    fn parameters(
        &mut self,
        parameters: Node<'a>,
        outer: usize,
        inner: Option<usize>,
        in_error: bool,
        depth: usize,
    ) {
        let mut cursor = parameters.walk();
        for (index, parameter) in parameters.named_children(&mut cursor).enumerate() {
            let (name, annotation, default, star) = match parameter.kind() {
                "identifier" => (Some(parameter), None, None, false),
                "typed_parameter" => {
                    let inner_name = parameter.named_child(0);
                    let star = inner_name.is_some_and(|name| name.kind() != "identifier");
                    let name = inner_name.map(|name| {
                        if name.kind() == "identifier" {
                            Some(name)
                        } else {
                            name.named_child(0)
                        }
                    });
                    (
                        name.flatten(),
                        parameter.child_by_field_name("type"),
                        None,
                        star,
                    )
                }
                "default_parameter" => (
                    parameter.child_by_field_name("name"),
                    None,
                    parameter.child_by_field_name("value"),
                    false,
                ),
                "typed_default_parameter" => (
                    parameter.child_by_field_name("name"),
                    parameter.child_by_field_name("type"),
                    parameter.child_by_field_name("value"),
                    false,
                ),
                "list_splat_pattern" | "dictionary_splat_pattern" => {
                    (parameter.named_child(0), None, None, true)
                }
                "tuple_pattern" => {
                    if let Some(inner) = inner {
                        self.target(parameter, inner, in_error, depth + 1);
                    }
                    continue;
                }
                _ => continue,
            };
            if let Some(annotation) = annotation {
                self.walk(annotation, outer, in_error, depth + 1);
            }
            if let Some(default) = default {
                self.walk(default, outer, in_error, depth + 1);
            }
            if let (Some(inner), Some(name)) = (inner, name) {
                if name.kind() == "identifier" {
                    let kind = BindingKind::Parameter {
                        index,
                        annotation: annotation
                            .map(|annotation| (annotation.start_byte(), annotation.end_byte())),
                        star,
                    };
                    self.bind(inner, self.text_of(name), kind, name.start_byte());
                }
            }
        }
    }

    fn function(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        if let Some(name) = node.child_by_field_name("name") {
            let kind = BindingKind::Function {
                node: (node.start_byte(), node.end_byte()),
            };
            self.bind(scope, self.text_of(name), kind, name.start_byte());
        }
        if let Some(type_parameters) = node.child_by_field_name("type_parameters") {
            self.type_parameter_names(type_parameters);
        }
        if let Some(returns) = node.child_by_field_name("return_type") {
            self.walk(returns, scope, in_error, depth + 1);
        }
        let enter = self.overlaps_span(node);
        let inner = if enter {
            let mut new_scope = Scope::new(
                ScopeKind::Function,
                Some(scope),
                node.start_byte(),
                node.end_byte(),
            );
            new_scope.name = node
                .child_by_field_name("name")
                .map_or("", |name| self.text_of(name));
            new_scope.decorators = self.decorators_of(node);
            self.scopes.push(new_scope);
            Some(self.scopes.len() - 1)
        } else {
            None
        };
        if let Some(parameters) = node.child_by_field_name("parameters") {
            self.parameters(parameters, scope, inner, in_error, depth);
        }
        if let (Some(inner), Some(body)) = (inner, node.child_by_field_name("body")) {
            self.walk(body, inner, in_error, depth + 1);
        }
    }

    fn class(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        if let Some(name) = node.child_by_field_name("name") {
            let kind = BindingKind::Class {
                node: (node.start_byte(), node.end_byte()),
            };
            self.bind(scope, self.text_of(name), kind, name.start_byte());
        }
        if let Some(type_parameters) = node.child_by_field_name("type_parameters") {
            self.type_parameter_names(type_parameters);
        }
        if let Some(superclasses) = node.child_by_field_name("superclasses") {
            self.walk(superclasses, scope, in_error, depth + 1);
        }
        if self.overlaps_span(node) {
            let mut new_scope = Scope::new(
                ScopeKind::Class,
                Some(scope),
                node.start_byte(),
                node.end_byte(),
            );
            new_scope.name = node
                .child_by_field_name("name")
                .map_or("", |name| self.text_of(name));
            new_scope.decorators = self.decorators_of(node);
            self.scopes.push(new_scope);
            let inner = self.scopes.len() - 1;
            if let Some(body) = node.child_by_field_name("body") {
                self.walk(body, inner, in_error, depth + 1);
            }
        }
    }

    fn decorators_of(&self, definition: Node<'a>) -> Vec<&'a str> {
        let Some(parent) = definition
            .parent()
            .filter(|parent| parent.kind() == "decorated_definition")
        else {
            return Vec::new();
        };
        let mut cursor = parent.walk();
        let decorators: Vec<Node<'a>> = parent
            .named_children(&mut cursor)
            .filter(|child| child.kind() == "decorator")
            .collect();
        decorators
            .into_iter()
            .map(|decorator| self.text_of(decorator).trim_start_matches('@').trim())
            .collect()
    }

    fn lambda(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        self.scopes.push(Scope::new(
            ScopeKind::Function,
            Some(scope),
            node.start_byte(),
            node.end_byte(),
        ));
        let inner = self.scopes.len() - 1;
        if let Some(parameters) = node.child_by_field_name("parameters") {
            self.parameters(parameters, scope, Some(inner), in_error, depth);
        }
        if let Some(body) = node.child_by_field_name("body") {
            self.walk(body, inner, in_error, depth + 1);
        }
    }

    fn comprehension(&mut self, node: Node<'a>, scope: usize, in_error: bool, depth: usize) {
        self.scopes.push(Scope::new(
            ScopeKind::Comprehension,
            Some(scope),
            node.start_byte(),
            node.end_byte(),
        ));
        let inner = self.scopes.len() - 1;
        let mut first_clause = true;
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            if child.kind() == "for_in_clause" {
                if let Some(left) = child.child_by_field_name("left") {
                    self.target(left, inner, in_error, depth + 1);
                }
                // The first iterable is evaluated in the enclosing scope.
                let iterable_scope = if first_clause { scope } else { inner };
                first_clause = false;
                let mut clause_cursor = child.walk();
                for part in child.children_by_field_name("right", &mut clause_cursor) {
                    self.walk(part, iterable_scope, in_error, depth + 1);
                }
            } else {
                self.walk(child, inner, in_error, depth + 1);
            }
        }
    }
}

fn first_identifier(node: Node) -> Option<Node> {
    if node.kind() == "identifier" {
        return Some(node);
    }
    let mut cursor = node.walk();
    let children: Vec<Node> = node.named_children(&mut cursor).collect();
    children.into_iter().find_map(first_identifier)
}

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

/// Builtins of Python 3.8 to 3.13 (their union), the module attributes every module has, and the
/// names the interpreter provides in class bodies and methods.
const BUILTINS: &[&str] = &[
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BaseException",
    "BaseExceptionGroup",
    "BlockingIOError",
    "BrokenPipeError",
    "BufferError",
    "BytesWarning",
    "ChildProcessError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "DeprecationWarning",
    "EOFError",
    "Ellipsis",
    "EncodingWarning",
    "EnvironmentError",
    "Exception",
    "ExceptionGroup",
    "False",
    "FileExistsError",
    "FileNotFoundError",
    "FloatingPointError",
    "FutureWarning",
    "GeneratorExit",
    "IOError",
    "ImportError",
    "ImportWarning",
    "IndentationError",
    "IndexError",
    "InterruptedError",
    "IsADirectoryError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "ModuleNotFoundError",
    "NameError",
    "None",
    "NotADirectoryError",
    "NotImplemented",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PendingDeprecationWarning",
    "PermissionError",
    "ProcessLookupError",
    "PythonFinalizationError",
    "RecursionError",
    "ReferenceError",
    "ResourceWarning",
    "RuntimeError",
    "RuntimeWarning",
    "StopAsyncIteration",
    "StopIteration",
    "SyntaxError",
    "SyntaxWarning",
    "SystemError",
    "SystemExit",
    "TabError",
    "TimeoutError",
    "True",
    "TypeError",
    "UnboundLocalError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "UnicodeTranslateError",
    "UnicodeWarning",
    "UserWarning",
    "ValueError",
    "Warning",
    "WindowsError",
    "ZeroDivisionError",
    "__build_class__",
    "__debug__",
    "__doc__",
    "__import__",
    "__loader__",
    "__name__",
    "__package__",
    "__spec__",
    "__file__",
    "__cached__",
    "__builtins__",
    "__path__",
    "__annotations__",
    "__dict__",
    "__module__",
    "__qualname__",
    "__class__",
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "copyright",
    "credits",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "exit",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "license",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "quit",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
];

/// Whether `name` is a builtin (or a name every module and class body has).
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// The names the candidate reads that nothing binds, first occurrence of each name only.
pub fn unresolved_names(spliced: &Spliced, scopes: &Scopes) -> Vec<Problem> {
    if !scopes.complete {
        return Vec::new();
    }
    let mut reported = HashSet::new();
    let mut problems = Vec::new();
    for read in &scopes.reads {
        if read.in_error || reported.contains(read.name) {
            continue;
        }
        if scopes.resolve(read.name, read.scope) != Resolution::Unresolved {
            continue;
        }
        reported.insert(read.name);
        let mut candidates: Vec<&str> = scopes.visible_names(read.scope);
        candidates.extend(
            BUILTINS
                .iter()
                .copied()
                .filter(|name| !name.starts_with("__")),
        );
        let suggestions = closest_names(read.name, candidates);
        let line = spliced.line_of(read.start);
        let mut message = format!(
            "{}: undefined name `{}`",
            line + 1,
            super::shown_identifier(read.name)
        );
        if !suggestions.is_empty() {
            let listed: Vec<String> = suggestions.iter().map(|name| format!("`{name}`")).collect();
            message.push_str(&format!("; did you mean {}?", listed.join(" or ")));
        }
        problems.push(spliced.problem(
            ProblemKind::UnresolvedName,
            message,
            read.name.to_string(),
            read.start,
            read.end,
        ));
    }
    problems
}

/// Names longer than this get no suggestions, and are never suggested: the edit distance costs
/// the product of the two lengths, and a model's answer may hold a name of a megabyte.
pub const MAX_SUGGESTED_NAME_BYTES: usize = 100;

/// Up to three names close to `wanted` (edit distance at most a third of its length, at least 1),
/// closest first. None for a name longer than [`MAX_SUGGESTED_NAME_BYTES`], and candidates longer
/// than that are skipped, so the work is bounded whatever the names.
pub fn closest_names<'n>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'n str>,
) -> Vec<String> {
    if wanted.len() > MAX_SUGGESTED_NAME_BYTES {
        return Vec::new();
    }
    let limit = (wanted.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|candidate| *candidate != wanted && candidate.len() <= MAX_SUGGESTED_NAME_BYTES)
        .filter_map(|candidate| {
            let distance = strsim::damerau_levenshtein(wanted, candidate);
            let lowercase_same = wanted.eq_ignore_ascii_case(candidate);
            (distance <= limit || lowercase_same).then_some((distance, candidate))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(3)
        .map(|(_, name)| name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{splice, test_support::cursor, Before};

    /// The names reported for `candidate` at the cursor, in order.
    fn unresolved(fixture: &str, candidate: &str) -> Vec<String> {
        let (document, offset) = cursor(fixture);
        let before = Before::new(&document).unwrap();
        let spliced = splice(&before, offset, candidate).unwrap();
        let scopes = analyze(&spliced);
        unresolved_names(&spliced, &scopes)
            .into_iter()
            .map(|problem| problem.name)
            .collect()
    }

    fn check(fixture: &str, candidate: &str, expected: &[&str]) {
        assert_eq!(
            unresolved(fixture, candidate),
            expected,
            "candidate: {candidate}"
        );
    }

    const METHOD: &str = "import os\nfrom typing import *\n";

    #[test]
    fn locals_parameters_and_later_module_names_resolve() {
        let fixture = "import os\n\ndef f(a, *args, b=1, **kw):\n    <CURSOR>\n\nLATER = 1\n";
        check(
            fixture,
            "x = a + b + len(args) + len(kw)\n    return os.path.join(x, LATER, __file__)",
            &[],
        );
        check(fixture, "return missing + a", &["missing"]);
    }

    #[test]
    fn class_scope_is_invisible_in_methods() {
        let fixture =
            "class A:\n    size = 3\n    other = size + 1\n    def f(self):\n        <CURSOR>\n";
        check(fixture, "return size", &["size"]);
        check(fixture, "return self.size + A.size", &[]);
        let fixture = "class A:\n    size = 3\n    <CURSOR>\n";
        check(
            fixture,
            "doubled = [size * 2]\n    listed = [i for i in range(size)]",
            &[],
        );
        // The first iterable of a comprehension runs in the class scope; the rest does not.
        check(
            fixture,
            "pairs = [(i, j) for i in range(size) for j in range(size)]",
            &["size"],
        );
    }

    #[test]
    fn comprehension_and_lambda_scopes() {
        let fixture = "def f(items):\n    <CURSOR>\n";
        check(
            fixture,
            "total = sum(x * 2 for x in items if x)\n    return x",
            &["x"],
        );
        check(
            fixture,
            "g = lambda y, z=items: y + z\n    return g, y",
            &["y"],
        );
        check(
            fixture,
            "if any((hit := item) for item in items):\n        return hit",
            &[],
        );
        check(
            fixture,
            "return {k: v for k, v in items}, [a for a, *rest in items if rest]",
            &[],
        );
    }

    #[test]
    fn global_nonlocal_and_other_binders() {
        let fixture =
            "def setup():\n    global CONFIG\n    CONFIG = 1\n\ndef f(path):\n    <CURSOR>\n";
        check(fixture, "return CONFIG", &[]);
        let candidate = "try:\n        with open(path) as handle, open(path) as (a, b):\n            data = handle.read()\n    except OSError as error:\n        raise ValueError(error)\n    for i, (j, k) in data:\n        del i\n    return data, j, k, a, b";
        check(fixture, candidate, &[]);
        check(
            fixture,
            "def inner():\n        nonlocal path\n        path = 2\n    return inner",
            &[],
        );
    }

    #[test]
    fn match_captures_bind() {
        let fixture =
            "import enum\nclass Color(enum.Enum):\n    RED = 1\n\ndef f(value):\n    <CURSOR>\n";
        let candidate = "match value:\n        case {\"k\": [first, *rest]}:\n            return first, rest\n        case Color.RED | Point(x=px, y=0) as whole:\n            return px, whole\n        case _:\n            return None";
        check(fixture, candidate, &["Point"]);
    }

    #[test]
    fn star_imports_and_module_getattr_make_the_module_open() {
        check(
            &format!("{METHOD}def f():\n    <CURSOR>\n"),
            "return anything_at_all",
            &[],
        );
        let fixture = "def __getattr__(name):\n    return name\n\ndef f():\n    <CURSOR>\n";
        check(fixture, "return dynamic_thing", &[]);
        let fixture = "globals()['made'] = 1\n\ndef f():\n    <CURSOR>\n";
        check(fixture, "return made", &[]);
        let fixture = "names = globals()\n\ndef f():\n    <CURSOR>\n";
        check(fixture, "return made", &["made"]);
    }

    #[test]
    fn annotations_defaults_and_type_parameters() {
        let fixture = "from typing import Optional\n\n<CURSOR>\n";
        check(
            fixture,
            "def f[T](x: T, y: Optional[int] = None) -> list[T]:\n    return [x]",
            &[],
        );
        check(
            fixture,
            "def f(x: Missing = other) -> None:\n    pass",
            &["Missing", "other"],
        );
        check(
            fixture,
            "class Box[T]:\n    def get(self) -> T:\n        return self.value",
            &[],
        );
    }

    #[test]
    fn reads_inside_error_nodes_are_not_reported() {
        let fixture = "def f():\n    <CURSOR>\n";
        assert!(unresolved(fixture, "x = (unknown_thing +").is_empty());
    }

    #[test]
    fn messages_suggest_close_names() {
        let fixture = "def f(message):\n    <CURSOR>\n";
        let (document, offset) = cursor(fixture);
        let before = Before::new(&document).unwrap();
        let spliced = splice(&before, offset, "return messages").unwrap();
        let scopes = analyze(&spliced);
        let problems = unresolved_names(&spliced, &scopes);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            "2: undefined name `messages`; did you mean `message`?"
        );
        assert_eq!(problems[0].line, 1);
        assert_eq!(
            &spliced.text[problems[0].start..problems[0].end],
            "messages"
        );
    }

    #[test]
    fn long_names_get_no_suggestions_and_are_never_suggested() {
        let short = "message";
        let long_wanted = format!("{}x", "a".repeat(MAX_SUGGESTED_NAME_BYTES));
        let long_known = format!("{}y", "a".repeat(MAX_SUGGESTED_NAME_BYTES));
        // One edit apart, but too long to be compared at all.
        assert!(closest_names(&long_wanted, [long_known.as_str(), short]).is_empty());
        assert!(closest_names("aaaa", [long_known.as_str()]).is_empty());
        let at_limit = "b".repeat(MAX_SUGGESTED_NAME_BYTES);
        let near = format!("{}c", "b".repeat(MAX_SUGGESTED_NAME_BYTES - 1));
        assert_eq!(closest_names(&near, [at_limit.as_str()]), [at_limit]);
    }

    #[test]
    fn messages_never_quote_a_huge_name_whole() {
        let fixture = "def f(message):\n    <CURSOR>\n";
        let huge = format!("messages{}", "z".repeat(1_000_000));
        let (document, offset) = cursor(fixture);
        let before = Before::new(&document).unwrap();
        let spliced = splice(&before, offset, &format!("return {huge}")).unwrap();
        let scopes = analyze(&spliced);
        let problems = unresolved_names(&spliced, &scopes);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.len() < 300,
            "{}",
            &problems[0].message[..300]
        );
        assert!(
            problems[0].message.contains("(1000008 bytes)"),
            "{}",
            problems[0].message
        );
    }
}
