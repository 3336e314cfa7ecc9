//! Extraction: one Python module's tree-sitter tree turned into the index's plain data model.
//!
//! The walk is deliberately forgiving: broken code is normal input, so statements inside `ERROR`
//! nodes, `if`/`try`/`with` blocks at module level and half-written definitions are read for
//! whatever they still say. Nothing here panics on odd trees; a missing field is simply skipped.

use tree_sitter::{Node, Tree};

use crate::store::walk_preorder;

use super::model::{
    ClassInfo, FunctionInfo, FunctionKind, ImportInfo, ModuleInfo, Param, ParamKind, VariableInfo,
};

/// Assigned values longer than this are cut (with `...`) in the index.
const MAX_VALUE_CHARS: usize = 120;

/// How many classes deep nested classes are read.
const MAX_CLASS_NESTING: usize = 32;

/// How deep nested blocks (`if`, `try`, `with`, `ERROR`) are followed at module and class level.
const MAX_BLOCK_DEPTH: usize = 8;

/// Builds the index entry of one module from its source text and tree.
///
/// `name` is the dotted module name (`pkg` for `pkg/__init__.py`), `path` the file's path
/// relative to the root it was found under; whether the module is a package is read from the
/// path's file name. Relative imports are resolved against `name`.
pub fn extract_module(name: &str, path: &str, source: &str, tree: &Tree) -> ModuleInfo {
    let file_name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let is_package = file_name == "__init__.py" || file_name == "__init__.pyi";
    let root = tree.root_node();
    let mut extractor = Extractor {
        source,
        module_name: name,
        is_package,
        module: ModuleInfo::default(),
        class_nesting: std::cell::Cell::new(0),
    };
    extractor.module.name = name.to_string();
    extractor.module.path = path.to_string();
    extractor.module.is_package = is_package;
    extractor.module.has_errors = root.has_error();
    extractor.module.source_hash = source_hash(source);
    extractor.module.docstring = block_docstring(root, source);
    extractor.module_statements(root, 0);
    let members = member_uses(root, source);
    extractor.module.dynamic_objects = members.dynamic_objects;
    extractor.module.member_reads = members.reads;
    extractor.module.assigned_members = members.assigned;
    extractor.module.identifiers = super::vocabulary::identifier_hashes(source);
    extractor.module
}

/// What the module does with members, by name, across the whole tree.
#[derive(Default)]
struct MemberUses {
    /// Names that `setattr(NAME, computed, value)` calls give attributes by computed name (not
    /// `self` or `cls`: those make their class dynamic, see `dynamic_members`).
    dynamic_objects: Vec<String>,
    /// Members read: `x.name` anywhere but as an assignment's target, `getattr(x, "name")`,
    /// `hasattr(x, "name")`. Sorted, without repeats.
    reads: Vec<String>,
    /// Members given to objects from outside their class: `x.name = ...` and
    /// `setattr(x, "name", ...)` for `x` other than `self`/`cls`, and the keys of the namespace
    /// a class built with `type(name, bases, namespace)` gets. Sorted, without repeats.
    assigned: Vec<String>,
}

fn member_uses(root: Node, source: &str) -> MemberUses {
    let mut names: Vec<String> = Vec::new();
    let mut reads: Vec<String> = Vec::new();
    let mut assigned: Vec<String> = Vec::new();
    walk_preorder(root, |node| {
        if node.kind() == "attribute" {
            if let Some(member) = node.child_by_field_name("attribute") {
                let member = node_text(member, source).to_string();
                if !is_assignment_target(node) {
                    reads.push(member);
                } else if node
                    .child_by_field_name("object")
                    .is_some_and(|object| !matches!(node_text(object, source), "self" | "cls"))
                {
                    assigned.push(member);
                }
            }
        }
        let function = (node.kind() == "call")
            .then(|| node.child_by_field_name("function"))
            .flatten()
            .map(|function| node_text(function, source));
        let arguments = node.child_by_field_name("arguments");
        let argument = |at: usize| arguments.and_then(|a| a.named_child(at));
        if matches!(function, Some("getattr" | "hasattr")) {
            if let Some(member) = argument(1).and_then(|second| string_literal(second, source)) {
                reads.push(member);
            }
        }
        if function == Some("type") && arguments.is_some_and(|a| a.named_child_count() == 3) {
            if let Some(namespace) = argument(2) {
                assigned.extend(namespace_keys(namespace, source));
            }
        }
        if function == Some("setattr") {
            if let (Some(first), Some(second)) = (argument(0), argument(1)) {
                let name = node_text(first, source);
                if !matches!(name, "self" | "cls") {
                    match string_literal(second, source) {
                        Some(member) => assigned.push(member),
                        None if first.kind() == "identifier"
                            && !names.iter().any(|known| known == name) =>
                        {
                            names.push(name.to_string())
                        }
                        None => {}
                    }
                }
            }
        }
        true
    });
    reads.sort_unstable();
    reads.dedup();
    assigned.sort_unstable();
    assigned.dedup();
    MemberUses {
        dynamic_objects: names,
        reads,
        assigned,
    }
}

/// The string keys of the namespace given to `type(name, bases, namespace)`: a dict literal, or
/// a name bound to one in the same function (or module).
fn namespace_keys(namespace: Node, source: &str) -> Vec<String> {
    let keys_of = |dictionary: Node| -> Vec<String> {
        let mut cursor = dictionary.walk();
        dictionary
            .named_children(&mut cursor)
            .filter(|pair| pair.kind() == "pair")
            .filter_map(|pair| string_literal(pair.child_by_field_name("key")?, source))
            .collect()
    };
    match namespace.kind() {
        "dictionary" => keys_of(namespace),
        "identifier" => {
            let name = node_text(namespace, source);
            let mut scope = namespace;
            while let Some(parent) = scope.parent() {
                scope = parent;
                if scope.kind() == "function_definition" {
                    break;
                }
            }
            let mut keys = Vec::new();
            walk_preorder(scope, |node| {
                if node.kind() == "assignment"
                    && node
                        .child_by_field_name("left")
                        .is_some_and(|left| node_text(left, source) == name)
                {
                    if let Some(right) = node
                        .child_by_field_name("right")
                        .filter(|right| right.kind() == "dictionary")
                    {
                        keys.extend(keys_of(right));
                    }
                }
                true
            });
            keys
        }
        _ => Vec::new(),
    }
}

/// Whether `node` is what an assignment stores to (`x.a = 1`, `x.a, y = pair`), not a read.
/// An augmented assignment (`x.a += 1`) reads its target too.
fn is_assignment_target(node: Node) -> bool {
    let mut child = node;
    while let Some(parent) = child.parent() {
        match parent.kind() {
            "pattern_list" | "tuple_pattern" | "list_pattern" => child = parent,
            "assignment" => {
                return parent
                    .child_by_field_name("left")
                    .is_some_and(|left| left.id() == child.id());
            }
            _ => return false,
        }
    }
    false
}

struct Extractor<'a> {
    source: &'a str,
    module_name: &'a str,
    is_package: bool,
    module: ModuleInfo,
    /// How many classes enclose the one being read (bounded: generated code can nest deeply).
    class_nesting: std::cell::Cell<usize>,
}

impl<'a> Extractor<'a> {
    fn text(&self, node: Node) -> &'a str {
        node_text(node, self.source)
    }

    /// Reads the statements of a module-level block (the module itself, or a nested `if`/`try`).
    fn module_statements(&mut self, block: Node, depth: usize) {
        let mut cursor = block.walk();
        for child in block.named_children(&mut cursor) {
            self.module_statement(child, depth);
        }
    }

    fn module_statement(&mut self, node: Node, depth: usize) {
        match node.kind() {
            "import_statement" | "import_from_statement" | "future_import_statement" => {
                let imports = self.imports(node);
                self.module.imports.extend(imports);
            }
            "class_definition" => {
                if let Some(class) = self.class(node, &[]) {
                    self.module.classes.push(class);
                }
            }
            "function_definition" => {
                if let Some(function) = self.function(node, &[], false) {
                    self.note_module_function(&function);
                    self.module.functions.push(function);
                }
            }
            "decorated_definition" => self.module_decorated(node),
            "expression_statement" => self.module_expression(node),
            "type_alias_statement" => {
                if let Some(variable) = self.type_alias(node) {
                    self.module.variables.push(variable);
                }
            }
            "if_statement"
            | "try_statement"
            | "with_statement"
            | "else_clause"
            | "elif_clause"
            | "except_clause"
            | "finally_clause"
            | "block"
            | "ERROR"
            | "except_group_clause"
                if depth < MAX_BLOCK_DEPTH =>
            {
                self.module_statements(node, depth + 1);
            }
            _ => {}
        }
    }

    fn module_decorated(&mut self, node: Node) {
        let decorators = decorators(node, self.source);
        let Some(definition) = node.child_by_field_name("definition") else {
            return;
        };
        match definition.kind() {
            "class_definition" => {
                if let Some(class) = self.class(definition, &decorators) {
                    self.module.classes.push(class);
                }
            }
            "function_definition" => {
                if let Some(function) = self.function(definition, &decorators, false) {
                    self.note_module_function(&function);
                    self.module.functions.push(function);
                }
            }
            _ => {}
        }
    }

    fn note_module_function(&mut self, function: &FunctionInfo) {
        if function.name == "__getattr__" {
            self.module.has_getattr = true;
        }
    }

    fn module_expression(&mut self, node: Node) {
        let Some(inner) = node.named_child(0) else {
            return;
        };
        match inner.kind() {
            "assignment" => {
                let line = inner.start_position().row as u32;
                for variable in self.assignment_variables(inner, line) {
                    if variable.name == "__all__" {
                        if let Some(right) = inner.child_by_field_name("right") {
                            self.module.all = string_sequence(right, self.source);
                        }
                    }
                    self.module.variables.push(variable);
                }
            }
            "augmented_assignment" => {
                // `__all__ += [...]` extends the public names.
                let left = inner.child_by_field_name("left");
                let right = inner.child_by_field_name("right");
                if let (Some(left), Some(right)) = (left, right) {
                    if self.text(left) == "__all__" {
                        if let Some(more) = string_sequence(right, self.source) {
                            self.module.all.get_or_insert_with(Vec::new).extend(more);
                        }
                    }
                }
            }
            "call" => {
                // `__all__.extend([...])` and `__all__.append("x")`.
                let Some(function) = inner.child_by_field_name("function") else {
                    return;
                };
                let callee = self.text(function);
                if callee == "__all__.extend" || callee == "__all__.append" {
                    if let Some(arguments) = inner.child_by_field_name("arguments") {
                        if let Some(first) = arguments.named_child(0) {
                            let names = if callee.ends_with("extend") {
                                string_sequence(first, self.source)
                            } else {
                                string_literal(first, self.source).map(|s| vec![s])
                            };
                            if let Some(names) = names {
                                self.module.all.get_or_insert_with(Vec::new).extend(names);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn type_alias(&self, node: Node) -> Option<VariableInfo> {
        let left = node.child_by_field_name("left")?;
        let name_node = if left.kind() == "generic_type" {
            left.named_child(0)?
        } else {
            left
        };
        let right = node.child_by_field_name("right")?;
        Some(VariableInfo {
            name: self.text(name_node).to_string(),
            annotation: Some("TypeAlias".to_string()),
            value: Some(shorten(self.text(right))),
            line: node.start_position().row as u32,
        })
    }

    /// A value's source text for the index, shortened, with every string literal in it written
    /// as `'...'`: a value may hold a secret (`Client(api_key="sk-...")`), and nothing in the
    /// index may carry one into a prompt or the cache.
    fn value_text(&self, node: Node) -> String {
        // Only the text that can survive `shorten` is looked at, so a huge literal costs little.
        let window = node.start_byte() + 4 * MAX_VALUE_CHARS;
        let end = node.end_byte().min(window);
        let mut text = String::new();
        let mut at = node.start_byte();
        let mut stack = vec![node];
        while let Some(current) = stack.pop() {
            if current.start_byte() >= end {
                continue;
            }
            if matches!(current.kind(), "string" | "concatenated_string") {
                text.push_str(self.source.get(at..current.start_byte()).unwrap_or(""));
                text.push_str("'...'");
                at = current.end_byte();
                continue;
            }
            let mut cursor = current.walk();
            let children: Vec<Node> = current.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
        if at < end {
            text.push_str(self.source.get(at..end).unwrap_or(""));
        }
        let mut value = shorten(&text);
        if end < node.end_byte() && !value.ends_with("...") {
            value.push_str("...");
        }
        value
    }

    /// The names an assignment binds (plain names only: `a = ...`, `a, b = ...`, `a: T = ...`).
    fn assignment_variables(&self, assignment: Node, line: u32) -> Vec<VariableInfo> {
        let mut out = Vec::new();
        let Some(left) = assignment.child_by_field_name("left") else {
            return out;
        };
        let annotation = assignment
            .child_by_field_name("type")
            .map(|t| self.text(t).to_string());
        let right = assignment.child_by_field_name("right");
        // `a = b = value`: the right side is itself an assignment; the value is its last right side.
        let mut value_node = right;
        let mut chained_targets = Vec::new();
        while let Some(value) = value_node {
            if value.kind() == "assignment" {
                if let Some(target) = value.child_by_field_name("left") {
                    chained_targets.push(target);
                }
                value_node = value.child_by_field_name("right");
            } else {
                break;
            }
        }
        // A string constant is kept as its type only: its value may be a secret.
        let string_type = value_node.and_then(|v| string_literal_type(v, self.source));
        let value = value_node
            .filter(|_| string_type.is_none())
            .map(|v| self.value_text(v));
        let annotation = annotation.or(string_type.map(str::to_string));
        match left.kind() {
            "identifier" => out.push(VariableInfo {
                name: self.text(left).to_string(),
                annotation: annotation.clone(),
                value: value.clone(),
                line,
            }),
            "pattern_list" | "tuple_pattern" | "list_pattern" => {
                let mut cursor = left.walk();
                for part in left.named_children(&mut cursor) {
                    if part.kind() == "identifier" {
                        out.push(VariableInfo {
                            name: self.text(part).to_string(),
                            annotation: None,
                            value: None,
                            line,
                        });
                    }
                }
            }
            _ => {}
        }
        for target in chained_targets {
            if target.kind() == "identifier" {
                out.push(VariableInfo {
                    name: self.text(target).to_string(),
                    annotation: string_type.map(str::to_string),
                    value: value.clone(),
                    line,
                });
            }
        }
        out
    }

    fn imports(&self, node: Node) -> Vec<ImportInfo> {
        let line = node.start_position().row as u32;
        let mut out = Vec::new();
        match node.kind() {
            "import_statement" => {
                let mut cursor = node.walk();
                for name in node.children_by_field_name("name", &mut cursor) {
                    match name.kind() {
                        "dotted_name" => {
                            let module = compact(self.text(name));
                            let bound = module.split('.').next().unwrap_or("").to_string();
                            if !bound.is_empty() {
                                out.push(ImportInfo {
                                    module,
                                    name: None,
                                    bound,
                                    star: false,
                                    line,
                                });
                            }
                        }
                        "aliased_import" => {
                            let module = name
                                .child_by_field_name("name")
                                .map(|n| compact(self.text(n)));
                            let alias = name
                                .child_by_field_name("alias")
                                .map(|n| self.text(n).to_string());
                            if let (Some(module), Some(alias)) = (module, alias) {
                                out.push(ImportInfo {
                                    module,
                                    name: None,
                                    bound: alias,
                                    star: false,
                                    line,
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
            "import_from_statement" | "future_import_statement" => {
                let module = if node.kind() == "future_import_statement" {
                    Some("__future__".to_string())
                } else {
                    node.child_by_field_name("module_name")
                        .and_then(|m| self.absolute_module(m))
                };
                let Some(module) = module else { return out };
                let mut cursor = node.walk();
                let children: Vec<Node> = node.named_children(&mut cursor).collect();
                for child in children {
                    if child.kind() == "wildcard_import" {
                        out.push(ImportInfo {
                            module: module.clone(),
                            name: None,
                            bound: "*".to_string(),
                            star: true,
                            line,
                        });
                    }
                }
                let mut cursor = node.walk();
                for name in node.children_by_field_name("name", &mut cursor) {
                    match name.kind() {
                        "dotted_name" | "identifier" => {
                            let imported = compact(self.text(name));
                            out.push(ImportInfo {
                                module: module.clone(),
                                name: Some(imported.clone()),
                                bound: imported,
                                star: false,
                                line,
                            });
                        }
                        "aliased_import" => {
                            let imported = name
                                .child_by_field_name("name")
                                .map(|n| compact(self.text(n)));
                            let alias = name
                                .child_by_field_name("alias")
                                .map(|n| self.text(n).to_string());
                            if let (Some(imported), Some(alias)) = (imported, alias) {
                                out.push(ImportInfo {
                                    module: module.clone(),
                                    name: Some(imported),
                                    bound: alias,
                                    star: false,
                                    line,
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// The absolute module of a `from X import ...` statement, relative imports resolved.
    fn absolute_module(&self, module_name: Node) -> Option<String> {
        if module_name.kind() != "relative_import" {
            return Some(compact(self.text(module_name)));
        }
        let mut level = 0usize;
        let mut rest = String::new();
        let mut cursor = module_name.walk();
        for child in module_name.named_children(&mut cursor) {
            match child.kind() {
                "import_prefix" => level = self.text(child).chars().filter(|c| *c == '.').count(),
                "dotted_name" => rest = compact(self.text(child)),
                _ => {}
            }
        }
        resolve_relative(self.module_name, self.is_package, level, &rest)
    }

    fn class(&self, node: Node, decorators: &[String]) -> Option<ClassInfo> {
        if self.class_nesting.get() >= MAX_CLASS_NESTING {
            return None;
        }
        self.class_nesting.set(self.class_nesting.get() + 1);
        let class = self.class_body(node, decorators);
        self.class_nesting.set(self.class_nesting.get() - 1);
        class
    }

    fn class_body(&self, node: Node, decorators: &[String]) -> Option<ClassInfo> {
        let name = self.text(node.child_by_field_name("name")?).to_string();
        let mut class = ClassInfo {
            name,
            bases: Vec::new(),
            decorators: decorators.to_vec(),
            docstring: None,
            attributes: Vec::new(),
            instance_attributes: Vec::new(),
            methods: Vec::new(),
            classes: Vec::new(),
            slots: None,
            dynamic_members: false,
            line: node.start_position().row as u32,
        };
        if let Some(superclasses) = node.child_by_field_name("superclasses") {
            let mut cursor = superclasses.walk();
            for base in superclasses.named_children(&mut cursor) {
                if base.kind() == "comment" {
                    continue;
                }
                class.bases.push(compact(self.text(base)));
            }
        }
        if let Some(body) = node.child_by_field_name("body") {
            class.docstring = block_docstring(body, self.source);
            self.class_statements(body, &mut class, 0);
        }
        let mut seen = std::collections::HashSet::new();
        class
            .instance_attributes
            .retain(|a| seen.insert(a.name.clone()));
        if class
            .methods
            .iter()
            .any(|m| m.name == "__getattr__" || m.name == "__getattribute__")
        {
            class.dynamic_members = true;
        }
        Some(class)
    }

    fn class_statements(&self, block: Node, class: &mut ClassInfo, depth: usize) {
        let mut cursor = block.walk();
        for child in block.named_children(&mut cursor) {
            match child.kind() {
                "function_definition" => self.class_method(child, &[], class),
                "decorated_definition" => {
                    let decorators = decorators(child, self.source);
                    if let Some(definition) = child.child_by_field_name("definition") {
                        match definition.kind() {
                            "function_definition" => {
                                self.class_method(definition, &decorators, class)
                            }
                            "class_definition" => {
                                if let Some(nested) = self.class(definition, &decorators) {
                                    class.classes.push(nested);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                "class_definition" => {
                    if let Some(nested) = self.class(child, &[]) {
                        class.classes.push(nested);
                    }
                }
                "expression_statement" => {
                    let Some(inner) = child.named_child(0) else {
                        continue;
                    };
                    if inner.kind() == "assignment" {
                        let line = inner.start_position().row as u32;
                        for variable in self.assignment_variables(inner, line) {
                            if variable.name == "__slots__" {
                                if let Some(right) = inner.child_by_field_name("right") {
                                    class.slots =
                                        string_sequence(right, self.source).or_else(|| {
                                            string_literal(right, self.source).map(|s| vec![s])
                                        });
                                }
                            }
                            class.attributes.push(variable);
                        }
                    }
                }
                "if_statement" | "try_statement" | "else_clause" | "elif_clause"
                | "except_clause" | "finally_clause" | "block" | "ERROR"
                    if depth < MAX_BLOCK_DEPTH =>
                {
                    self.class_statements(child, class, depth + 1);
                }
                _ => {}
            }
        }
    }

    fn class_method(&self, node: Node, decorators: &[String], class: &mut ClassInfo) {
        // A property's setter and deleter repeat the getter's name; the getter speaks for them.
        if decorators
            .iter()
            .any(|d| d.ends_with(".setter") || d.ends_with(".deleter"))
        {
            return;
        }
        let Some(function) = self.function(node, decorators, true) else {
            return;
        };
        if let Some(body) = node.child_by_field_name("body") {
            let receiver = function
                .params
                .first()
                .filter(|_| !matches!(function.kind, FunctionKind::StaticMethod))
                .map(|p| p.name.clone());
            if let Some(receiver) = receiver {
                let params: Vec<(String, Option<String>)> = function
                    .params
                    .iter()
                    .map(|p| (p.name.clone(), p.annotation.clone()))
                    .collect();
                let mut found = SelfAttributes {
                    receiver: &receiver,
                    params: &params,
                    attributes: Vec::new(),
                    dynamic: false,
                };
                self.self_attributes(body, &mut found, 0);
                // `setattr(self, ...)` makes the members unknowable, except in `__setstate__`,
                // which only restores attributes a pickled instance already had.
                if found.dynamic && function.name != "__setstate__" {
                    class.dynamic_members = true;
                }
                class.instance_attributes.extend(found.attributes);
            }
        }
        class.methods.push(function);
    }

    /// Collects `self.x = ...` (and `self.x: T = ...`) inside a method body, not in nested scopes.
    fn self_attributes(&self, node: Node, found: &mut SelfAttributes, depth: usize) {
        if depth > 64 {
            return;
        }
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "function_definition" | "class_definition" | "lambda" | "decorated_definition" => {
                    continue
                }
                "assignment" | "augmented_assignment" => {
                    if let Some(left) = child.child_by_field_name("left") {
                        let annotation = child
                            .child_by_field_name("type")
                            .map(|t| self.text(t).to_string());
                        let right = child.child_by_field_name("right");
                        self.self_targets(
                            left,
                            annotation,
                            right,
                            child.start_position().row as u32,
                            found,
                        );
                    }
                    if let Some(right) = child.child_by_field_name("right") {
                        self.self_attributes(right, found, depth + 1);
                    }
                }
                "call" => {
                    if let Some(function) = child.child_by_field_name("function") {
                        if self.text(function) == "setattr" {
                            if let Some(arguments) = child.child_by_field_name("arguments") {
                                let first = arguments.named_child(0).map(|a| self.text(a));
                                let second = arguments.named_child(1);
                                if first == Some(found.receiver) {
                                    match second.and_then(|s| string_literal(s, self.source)) {
                                        Some(name) => found.attributes.push(VariableInfo {
                                            name,
                                            annotation: None,
                                            value: None,
                                            line: child.start_position().row as u32,
                                        }),
                                        None => found.dynamic = true,
                                    }
                                }
                            }
                        }
                    }
                    self.self_attributes(child, found, depth + 1);
                }
                _ => self.self_attributes(child, found, depth + 1),
            }
        }
    }

    fn self_targets(
        &self,
        left: Node,
        annotation: Option<String>,
        right: Option<Node>,
        line: u32,
        found: &mut SelfAttributes,
    ) {
        match left.kind() {
            "attribute" => {
                let object = left.child_by_field_name("object");
                let attribute = left.child_by_field_name("attribute");
                if let (Some(object), Some(attribute)) = (object, attribute) {
                    if self.text(object) == found.receiver {
                        let string_type = right.and_then(|r| string_literal_type(r, self.source));
                        let mut annotation = annotation.or(string_type.map(str::to_string));
                        let value = right
                            .filter(|_| string_type.is_none())
                            .map(|r| self.value_text(r));
                        // `self.x = x` where `x` is an annotated parameter takes the parameter's type.
                        if annotation.is_none() {
                            if let Some(r) = right.filter(|r| r.kind() == "identifier") {
                                let name = self.text(r);
                                annotation = found
                                    .params
                                    .iter()
                                    .find(|(p, _)| p == name)
                                    .and_then(|(_, a)| a.clone());
                            }
                        }
                        found.attributes.push(VariableInfo {
                            name: self.text(attribute).to_string(),
                            annotation,
                            value,
                            line,
                        });
                    }
                }
            }
            "pattern_list" | "tuple_pattern" | "list_pattern" | "tuple" | "list" => {
                let mut cursor = left.walk();
                for part in left.named_children(&mut cursor) {
                    self.self_targets(part, None, None, line, found);
                }
            }
            _ => {}
        }
    }

    fn function(&self, node: Node, decorators: &[String], in_class: bool) -> Option<FunctionInfo> {
        let name = self.text(node.child_by_field_name("name")?).to_string();
        let is_async = node.child(0).map(|c| c.kind() == "async").unwrap_or(false);
        let kind = if !in_class {
            FunctionKind::Function
        } else if decorators.iter().any(|d| is_property_decorator(d)) {
            FunctionKind::Property
        } else if decorators
            .iter()
            .any(|d| d == "staticmethod" || d.ends_with(".staticmethod"))
        {
            FunctionKind::StaticMethod
        } else if decorators
            .iter()
            .any(|d| d == "classmethod" || d.ends_with(".classmethod"))
        {
            FunctionKind::ClassMethod
        } else {
            FunctionKind::Method
        };
        let params = node
            .child_by_field_name("parameters")
            .map(|p| self.params(p))
            .unwrap_or_default();
        let returns = node
            .child_by_field_name("return_type")
            .map(|r| compact(self.text(r)));
        let docstring = node
            .child_by_field_name("body")
            .and_then(|b| block_docstring(b, self.source));
        Some(FunctionInfo {
            name,
            kind,
            params,
            returns,
            is_async,
            decorators: decorators.to_vec(),
            docstring,
            line: node.start_position().row as u32,
        })
    }

    fn params(&self, parameters: Node) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        let mut keyword_only = false;
        let mut cursor = parameters.walk();
        for child in parameters.named_children(&mut cursor) {
            let default_kind = if keyword_only {
                ParamKind::KeywordOnly
            } else {
                ParamKind::PositionalOrKeyword
            };
            match child.kind() {
                "identifier" => out.push(Param {
                    name: self.text(child).to_string(),
                    kind: default_kind,
                    annotation: None,
                    default: None,
                }),
                "typed_parameter" => {
                    let annotation = child
                        .child_by_field_name("type")
                        .map(|t| compact(self.text(t)));
                    let Some(inner) = child.named_child(0) else {
                        continue;
                    };
                    let (name, kind) = match inner.kind() {
                        "list_splat_pattern" => {
                            keyword_only = true;
                            (splat_name(inner, self.source), ParamKind::VarPositional)
                        }
                        "dictionary_splat_pattern" => {
                            (splat_name(inner, self.source), ParamKind::VarKeyword)
                        }
                        _ => (self.text(inner).to_string(), default_kind),
                    };
                    out.push(Param {
                        name,
                        kind,
                        annotation,
                        default: None,
                    });
                }
                "default_parameter" | "typed_default_parameter" => {
                    let Some(name) = child.child_by_field_name("name") else {
                        continue;
                    };
                    let annotation = child
                        .child_by_field_name("type")
                        .map(|t| compact(self.text(t)));
                    let parameter_name = self.text(name);
                    let default = child.child_by_field_name("value").map(|v| {
                        if looks_secret(parameter_name) {
                            self.value_text(v)
                        } else {
                            shorten(self.text(v))
                        }
                    });
                    out.push(Param {
                        name: self.text(name).to_string(),
                        kind: default_kind,
                        annotation,
                        default,
                    });
                }
                "list_splat_pattern" => {
                    keyword_only = true;
                    out.push(Param {
                        name: splat_name(child, self.source),
                        kind: ParamKind::VarPositional,
                        annotation: None,
                        default: None,
                    });
                }
                "dictionary_splat_pattern" => out.push(Param {
                    name: splat_name(child, self.source),
                    kind: ParamKind::VarKeyword,
                    annotation: None,
                    default: None,
                }),
                "keyword_separator" => keyword_only = true,
                "positional_separator" => {
                    for param in out.iter_mut() {
                        if param.kind == ParamKind::PositionalOrKeyword {
                            param.kind = ParamKind::PositionalOnly;
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }
}

struct SelfAttributes<'p> {
    receiver: &'p str,
    params: &'p [(String, Option<String>)],
    attributes: Vec<VariableInfo>,
    dynamic: bool,
}

fn is_property_decorator(decorator: &str) -> bool {
    let last = decorator.rsplit('.').next().unwrap_or(decorator);
    matches!(last, "property" | "cached_property" | "abstractproperty")
}

fn splat_name(node: Node, source: &str) -> String {
    node.named_child(0)
        .map(|n| node_text(n, source).to_string())
        .unwrap_or_default()
}

/// The decorators of a `decorated_definition`, as written, without `@`.
fn decorators(node: Node, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.kind() == "decorator" {
            let text = node_text(child, source).trim_start_matches('@').trim();
            out.push(compact(text));
        }
    }
    out
}

/// FNV-1a over the text: cheap, deterministic across runs (it is persisted with the entry).
pub fn source_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash
}

/// The source text of a node, or an empty string if its range does not fit the source.
pub fn node_text<'a>(node: Node, source: &'a str) -> &'a str {
    source.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

/// Collapses runs of whitespace (including newlines) into single spaces.
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space
                && !out.is_empty()
                && !out.ends_with(['(', '[', '{'])
                && !matches!(c, ')' | ']' | '}' | ',')
            {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// `str` or `bytes` when `node` is a string literal (or several, concatenated), else `None`.
fn string_literal_type(node: Node, source: &str) -> Option<&'static str> {
    if !matches!(node.kind(), "string" | "concatenated_string") {
        return None;
    }
    let text = node_text(node, source);
    let prefix = &text[..text.find(['"', '\'']).unwrap_or(0)];
    Some(if prefix.contains(['b', 'B']) {
        "bytes"
    } else {
        "str"
    })
}

/// Whether a name looks like it holds a credential (`API_KEY`, `token`, `db_password`).
pub fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "credential",
        "auth",
        "cookie",
        "session",
        "private",
        "dsn",
        "conn",
    ]
    .iter()
    .any(|word| lower.contains(word))
}

/// Compacts a value and cuts it to a bounded length, on a character boundary.
fn shorten(text: &str) -> String {
    let compacted = compact(text);
    if compacted.chars().count() <= MAX_VALUE_CHARS {
        return compacted;
    }
    let mut cut: String = compacted.chars().take(MAX_VALUE_CHARS).collect();
    cut.push_str("...");
    cut
}

/// Resolves `from .{level dots}{rest} import ...` in `module` to an absolute dotted name.
pub fn resolve_relative(
    module: &str,
    is_package: bool,
    level: usize,
    rest: &str,
) -> Option<String> {
    if level == 0 {
        return Some(rest.to_string());
    }
    let mut parts: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        module.split('.').collect()
    };
    if !is_package {
        parts.pop()?;
    }
    for _ in 1..level {
        parts.pop()?;
    }
    let mut base = parts.join(".");
    if !rest.is_empty() {
        if !base.is_empty() {
            base.push('.');
        }
        base.push_str(rest);
    }
    if base.is_empty() {
        None
    } else {
        Some(base)
    }
}

/// The first paragraph of a block's docstring, on one line.
fn block_docstring(block: Node, source: &str) -> Option<String> {
    let mut cursor = block.walk();
    let first = block
        .named_children(&mut cursor)
        .find(|c| c.kind() != "comment")?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let string = first.named_child(0)?;
    if string.kind() != "string" {
        return None;
    }
    let raw = string_content(string, source);
    let paragraph: Vec<&str> = raw
        .trim()
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    if joined.is_empty() {
        None
    } else {
        Some(joined)
    }
}

fn string_content(string: Node, source: &str) -> String {
    let mut out = String::new();
    let mut cursor = string.walk();
    for child in string.named_children(&mut cursor) {
        if child.kind() == "string_content" {
            out.push_str(node_text(child, source));
        }
    }
    out
}

/// A plain string literal's value (no f-strings, no concatenation).
fn string_literal(node: Node, source: &str) -> Option<String> {
    if node.kind() != "string" {
        return None;
    }
    let mut cursor = node.walk();
    if node
        .named_children(&mut cursor)
        .any(|c| c.kind() == "interpolation")
    {
        return None;
    }
    Some(string_content(node, source))
}

/// A list or tuple literal of plain strings (`__all__`, `__slots__`).
fn string_sequence(node: Node, source: &str) -> Option<Vec<String>> {
    let node = if node.kind() == "parenthesized_expression" {
        node.named_child(0)?
    } else {
        node
    };
    if !matches!(node.kind(), "list" | "tuple" | "set") {
        return None;
    }
    let mut out = Vec::new();
    let mut cursor = node.walk();
    for item in node.named_children(&mut cursor) {
        if item.kind() == "comment" {
            continue;
        }
        out.push(string_literal(item, source)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_python;

    fn extract(name: &str, path: &str, source: &str) -> ModuleInfo {
        let tree = parse_python(source, None).expect("tree-sitter parses any input");
        extract_module(name, path, source, &tree)
    }

    #[test]
    fn string_values_are_kept_as_their_type_only() {
        let source = "API_KEY = \"sk-live-1\"\nRAW = b'\\x00secret'\nA = B = f\"tok-{1}\"\nHEADERS = {\"Authorization\": \"Bearer sk-live-1\", 'n': 2}\nCLIENT = Client(key='sk-live-1')\nN = 3\nclass C:\n    password = 'hunter2'\n    def __init__(self):\n        self.token = 'tok-2'\ndef connect(url='http://x', api_key='sk-live-1'): ...\n";
        let module = extract("m", "m.py", source);
        let described: Vec<String> = module
            .variables
            .iter()
            .chain(&module.classes[0].attributes)
            .chain(&module.classes[0].instance_attributes)
            .map(|v| format!("{}: {:?} = {:?}", v.name, v.annotation, v.value))
            .chain(
                module.functions[0]
                    .params
                    .iter()
                    .map(|p| format!("{}={:?}", p.name, p.default)),
            )
            .collect();
        expect_test::expect![[r#"
            [
                "API_KEY: Some(\"str\") = None",
                "RAW: Some(\"bytes\") = None",
                "A: Some(\"str\") = None",
                "B: Some(\"str\") = None",
                "HEADERS: None = Some(\"{'...': '...', '...': 2}\")",
                "CLIENT: None = Some(\"Client(key='...')\")",
                "N: None = Some(\"3\")",
                "password: Some(\"str\") = None",
                "token: Some(\"str\") = None",
                "url=Some(\"'http://x'\")",
                "api_key=Some(\"'...'\")",
            ]
        "#]]
        .assert_debug_eq(&described);
    }

    #[test]
    fn relative_imports_resolve_against_the_module() {
        let source = "from . import a\nfrom .b import c as d\nfrom ..e import *\nimport x.y.z, p as q\nfrom __future__ import annotations\n";
        let module = extract("pkg.sub.mod", "pkg/sub/mod.py", source);
        let got: Vec<String> = module
            .imports
            .iter()
            .map(|i| format!("{}|{:?}|{}|{}", i.module, i.name, i.bound, i.star))
            .collect();
        assert_eq!(
            got,
            vec![
                "pkg.sub|Some(\"a\")|a|false",
                "pkg.sub.b|Some(\"c\")|d|false",
                "pkg.e|None|*|true",
                "x.y.z|None|x|false",
                "p|None|q|false",
                "__future__|Some(\"annotations\")|annotations|false",
            ]
        );
        let package = extract(
            "pkg",
            "pkg/__init__.py",
            "from .models import Model\nfrom . import util\n",
        );
        assert!(package.is_package);
        assert_eq!(package.imports[0].module, "pkg.models");
        assert_eq!(package.imports[1].module, "pkg");
        assert_eq!(package.imports[1].name.as_deref(), Some("util"));
    }

    #[test]
    fn classes_keep_bases_members_and_self_attributes() {
        let source = r#"
@dataclass(frozen=True)
class Point(Base, Generic[T], metaclass=Meta):
    """A point.

    More text."""
    x: int = 0
    y: int
    __slots__ = ("a", "b")

    def __init__(self, name: str, *args, size: int = 3, **kw) -> None:
        self.name = name
        self.items: list[str] = []
        self.a, self.b = 1, 2
        def inner():
            self.hidden = 1

    @property
    def norm(self) -> float:
        return 0.0

    @norm.setter
    def norm(self, value): ...

    @staticmethod
    def make(a, /, b, *, c=1): ...

    @classmethod
    async def build(cls) -> "Point": ...

    class Inner:
        def __getattr__(self, name): ...
"#;
        let module = extract("m", "m.py", source);
        let class = &module.classes[0];
        assert_eq!(class.name, "Point");
        assert_eq!(class.bases, vec!["Base", "Generic[T]", "metaclass=Meta"]);
        assert_eq!(class.decorators, vec!["dataclass(frozen=True)"]);
        assert_eq!(class.docstring.as_deref(), Some("A point."));
        let attributes: Vec<_> = class
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.annotation.as_deref()))
            .collect();
        assert_eq!(
            attributes,
            vec![("x", Some("int")), ("y", Some("int")), ("__slots__", None)]
        );
        assert_eq!(class.slots, Some(vec!["a".to_string(), "b".to_string()]));
        let instance: Vec<_> = class
            .instance_attributes
            .iter()
            .map(|a| (a.name.as_str(), a.annotation.as_deref()))
            .collect();
        assert_eq!(
            instance,
            vec![
                ("name", Some("str")),
                ("items", Some("list[str]")),
                ("a", None),
                ("b", None)
            ]
        );
        let methods: Vec<_> = class
            .methods
            .iter()
            .map(|m| (m.name.as_str(), m.kind, m.is_async))
            .collect();
        assert_eq!(
            methods,
            vec![
                ("__init__", FunctionKind::Method, false),
                ("norm", FunctionKind::Property, false),
                ("make", FunctionKind::StaticMethod, false),
                ("build", FunctionKind::ClassMethod, true),
            ]
        );
        let init = &class.methods[0];
        let params: Vec<_> = init
            .params
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.kind,
                    p.annotation.as_deref(),
                    p.default.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            params,
            vec![
                ("self", ParamKind::PositionalOrKeyword, None, None),
                ("name", ParamKind::PositionalOrKeyword, Some("str"), None),
                ("args", ParamKind::VarPositional, None, None),
                ("size", ParamKind::KeywordOnly, Some("int"), Some("3")),
                ("kw", ParamKind::VarKeyword, None, None),
            ]
        );
        assert_eq!(init.returns.as_deref(), Some("None"));
        let make: Vec<_> = class.methods[2]
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.kind))
            .collect();
        assert_eq!(
            make,
            vec![
                ("a", ParamKind::PositionalOnly),
                ("b", ParamKind::PositionalOrKeyword),
                ("c", ParamKind::KeywordOnly)
            ]
        );
        assert!(!class.dynamic_members);
        assert_eq!(class.classes[0].name, "Inner");
        assert!(class.classes[0].dynamic_members);
    }

    #[test]
    fn objects_given_attributes_by_computed_name_are_noted() {
        let source = "codes = LookupDict()\n\ndef _init():\n    for title in TITLES:\n        setattr(codes, title, 1)\n        setattr(other, 'fixed', 2)\n        setattr(self, title, 3)\n";
        assert_eq!(extract("m", "m.py", source).dynamic_objects, ["codes"]);
    }

    #[test]
    fn members_given_from_outside_their_class_are_noted() {
        let source = "def factory(form, base):\n    attrs = {'form': form, 'max_num': 3}\n    made = type('Made', (base,), attrs)\n    made.extra = 1\n    setattr(made, 'prefix', 'p')\n    return type('Other', (base,), {'can_delete': True})\n\nclass C:\n    def __init__(self):\n        self.own = 1\n";
        assert_eq!(
            extract("m", "m.py", source).assigned_members,
            ["can_delete", "extra", "form", "max_num", "prefix"]
        );
    }

    #[test]
    fn member_reads_leave_out_assignment_targets() {
        let source = "r.url = a.scheme\nr.hist, (r.cookies, y) = pair\nr.count += 1\nif hasattr(r, 'raw') and getattr(r, name):\n    r.close().reason\n";
        assert_eq!(
            extract("m", "m.py", source).member_reads,
            ["close", "count", "raw", "reason", "scheme"]
        );
    }

    #[test]
    fn module_variables_all_and_getattr() {
        let source = "__all__ = ['A', \"b\"]\n__all__ += ['c']\nX: int = 1\na = b = 2\nif TYPE_CHECKING:\n    from typing import Any\ntry:\n    import json\nexcept ImportError:\n    json = None\ndef __getattr__(name): ...\n";
        let module = extract("m", "m.py", source);
        assert_eq!(
            module.all,
            Some(vec!["A".to_string(), "b".to_string(), "c".to_string()])
        );
        let variables: Vec<_> = module.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(variables, vec!["__all__", "X", "a", "b", "json"]);
        assert_eq!(module.imports.len(), 2);
        assert!(module.has_getattr);
        assert!(!module.has_errors);
    }

    #[test]
    fn broken_code_still_yields_what_it_can() {
        let source = "import os\nclass A(:\n    def f(self, x: int) -> str:\n        self.y = 1\n\ndef g(a, b=\n\nclass B:\n    z = 1\n";
        let module = extract("m", "m.py", source);
        assert!(module.has_errors);
        assert_eq!(module.imports[0].bound, "os");
        let class = module
            .classes
            .iter()
            .find(|c| c.name == "A")
            .expect("class A survives its broken bases");
        assert_eq!(class.methods[0].name, "f");
        assert_eq!(class.instance_attributes[0].name, "y");
        let later = extract(
            "m",
            "m.py",
            "def f(:
    pass

class B:
    z = 1
",
        );
        assert!(later.classes.iter().any(|c| c.name == "B"));
        // Nothing panics on empty or odd input either.
        let deep: String = (0..200)
            .map(|i| format!("{}class C{i}:\n", "    ".repeat(i)))
            .collect();
        let module = extract("m", "m.py", &deep);
        assert_eq!(module.classes.len(), 1);
        for odd in [
            "",
            "\n\n",
            "def",
            "class",
            "from . import",
            "from .. import *",
            "@",
            "x: = 1",
            "def f(*, **k): pass",
        ] {
            let _ = extract("m", "m.py", odd);
        }
    }

    #[test]
    fn relative_import_beyond_the_top_is_dropped() {
        assert_eq!(resolve_relative("a", false, 2, "x"), None);
        assert_eq!(resolve_relative("a.b", false, 1, ""), Some("a".to_string()));
        assert_eq!(
            resolve_relative("a.b", true, 2, "c"),
            Some("a.c".to_string())
        );
    }
}
