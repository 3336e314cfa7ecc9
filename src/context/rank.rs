//! Ranking: every definition the hole may need gets a score and the reasons it was chosen.
//!
//! Signals, strongest first: the types the hole's names are annotated with (parameters,
//! locals, `self` and its attributes, the expected type) and what those types reach through
//! their bases, attributes and return types; what the file imports (an import that nothing else
//! in the file uses is most likely there for the code being written); what the enclosing class
//! inherits; functions whose return type fits the expected type; BM25 over the index's symbols.
//! Members of a class are scored one by one, so a large class contributes the members the
//! code around the cursor touches, not all of them.

use std::collections::{HashMap, HashSet};

use crate::index::model::{ClassInfo, FunctionInfo, FunctionKind, ModuleInfo, VariableInfo};
use crate::index::resolve::{self, find_class, resolve_dotted, resolve_name, Symbol};
use crate::index::search;
use crate::index::{Index, ModuleSource};

use super::hole::{Hole, NameOrigin};

/// A definition that may go into the context.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub module: String,
    /// The class qualname for a class header or a member; `None` for module-level definitions.
    pub class: Option<String>,
    /// The member or module-level name; `None` for a class header.
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Scored {
    pub score: f64,
    pub reasons: Vec<&'static str>,
}

/// How far relevant types are followed through annotations and bases.
const MAX_TYPE_DEPTH: usize = 2;
/// How many distinct words a BM25 query keeps.
const MAX_QUERY_WORDS: usize = 40;
/// How many BM25 hits are considered.
const BM25_HITS: usize = 40;
/// Names that are never worth resolving as types.
const BUILTIN_TYPES: &[&str] = &[
    "None",
    "str",
    "int",
    "float",
    "bool",
    "bytes",
    "object",
    "list",
    "dict",
    "set",
    "tuple",
    "type",
    "Any",
    "Optional",
    "Union",
    "List",
    "Dict",
    "Set",
    "Tuple",
    "Type",
    "Callable",
    "Iterable",
    "Iterator",
    "Sequence",
    "Mapping",
    "typing",
    "t",
    "Literal",
    "ClassVar",
    "Final",
    "Generator",
    "AsyncIterator",
    "AsyncIterable",
    "Awaitable",
    "Coroutine",
];

/// The current module overlaid on the index (the document's text wins over the indexed copy).
pub struct Overlay<'a> {
    pub index: &'a Index,
    pub current: std::sync::Arc<ModuleInfo>,
}

impl ModuleSource for Overlay<'_> {
    fn module(&self, name: &str) -> Option<std::sync::Arc<ModuleInfo>> {
        if name == self.current.name {
            Some(self.current.clone())
        } else {
            self.index.module(name)
        }
    }
}

/// What the semantic layer says about the types at the hole, as `(module, class qualname)`
/// pairs the index can render.
#[derive(Debug, Clone, Default)]
pub struct TypesAtHole {
    /// The classes of each name in scope (parameters and locals).
    pub names: HashMap<String, Vec<(String, String)>>,
    /// The classes of `self.<attribute>` for the enclosing class's attributes.
    pub self_attributes: HashMap<String, Vec<(String, String)>>,
    /// The classes the expected type names.
    pub expected: Vec<(String, String)>,
}

pub struct Ranker<'a> {
    source: &'a Overlay<'a>,
    hole: &'a Hole,
    /// The semantic layer's answer; `None` when it could not analyse the file (then only written
    /// annotations give types).
    types: Option<TypesAtHole>,
    pub scores: HashMap<Key, Scored>,
    /// Classes already expanded, with the weight they were expanded at.
    expanded: HashMap<(String, String), f64>,
    nearby: HashSet<String>,
}

impl<'a> Ranker<'a> {
    pub fn new(source: &'a Overlay<'a>, hole: &'a Hole, types: Option<TypesAtHole>) -> Ranker<'a> {
        let nearby = hole.nearby_identifiers.iter().cloned().collect();
        Ranker {
            source,
            hole,
            types,
            scores: HashMap::new(),
            expanded: HashMap::new(),
            nearby,
        }
    }

    fn current(&self) -> &str {
        &self.hole.module.name
    }

    fn add(&mut self, key: Key, score: f64, reason: &'static str) {
        if score <= 0.0 {
            return;
        }
        let entry = self.scores.entry(key).or_default();
        entry.score += score;
        if !entry.reasons.contains(&reason) {
            entry.reasons.push(reason);
        }
    }

    /// Runs every signal.
    pub fn rank(&mut self) {
        let t0 = std::time::Instant::now();
        self.typed_names();
        let t1 = t0.elapsed();
        self.imports();
        let t2 = t0.elapsed();
        self.relevant_headers();
        let t3 = t0.elapsed();
        self.retrieval();
        let t4 = t0.elapsed();
        tracing::trace!(typed = ?t1, imports = ?(t2 - t1), headers = ?(t3 - t2), retrieval = ?(t4 - t3), "ranked");
    }

    /// Types of parameters, locals, `self`, its attributes and the expected type: as the semantic
    /// layer infers them at the hole, else as written in annotations.
    fn typed_names(&mut self) {
        let current = self.current().to_string();
        let expected = match &self.types {
            Some(types) if !types.expected.is_empty() => types.expected.clone(),
            _ => match self.hole.expected_type.clone() {
                Some(expected) => self.classes_in_annotation(&current, &expected),
                None => Vec::new(),
            },
        };
        for (module, qualname) in expected {
            self.expand_class(&module, &qualname, 2.0, 0, "expected type");
        }
        let names = self.hole.names_in_scope.clone();
        for name in &names {
            let weight = match name.origin {
                NameOrigin::Parameter => 2.0,
                NameOrigin::Local => 1.6,
                NameOrigin::SelfAttribute => 1.2,
            };
            let classes = match &self.types {
                Some(types) => types.names.get(&name.name).cloned().unwrap_or_default(),
                None => match &name.type_text {
                    Some(annotation) if !annotation.starts_with("call:") => {
                        self.classes_in_annotation(&current, annotation)
                    }
                    _ => Vec::new(),
                },
            };
            let reason = match name.origin {
                NameOrigin::Parameter => "parameter type",
                NameOrigin::Local => "local variable type",
                NameOrigin::SelfAttribute => "attribute type",
            };
            for (module, qualname) in classes {
                self.expand_class(&module, &qualname, weight, 0, reason);
            }
        }
        // `self`: the enclosing class's bases and the types of its attributes.
        if let Some(class) = self.hole.class_qualname.clone() {
            self.enclosing_class(&current, &class);
        }
    }

    fn enclosing_class(&mut self, module: &str, qualname: &str) {
        let Some(info) = self.source.module(module) else {
            return;
        };
        let Some(class) = find_class(&info, qualname).cloned() else {
            return;
        };
        for base in &class.bases {
            if base.contains('=') {
                continue;
            }
            if let Some(Symbol::Class {
                module: base_module,
                qualname: base_qualname,
            }) = resolve_dotted(self.source, module, base)
            {
                self.expand_class(
                    &base_module,
                    &base_qualname,
                    1.8,
                    0,
                    "base of the enclosing class",
                );
            }
        }
        // Attributes of `self` (its own and inherited) whose types are known.
        for (owner_module, attribute) in self_attributes(self.source, module, qualname) {
            let used_near = self.nearby.contains(&attribute.name);
            let used_in_class = self
                .hole
                .usage
                .attributes
                .get(&attribute.name)
                .copied()
                .unwrap_or(0)
                > 0;
            let weight = if used_near {
                1.4
            } else if used_in_class {
                0.9
            } else {
                0.5
            };
            let classes = match (&self.types, &attribute.annotation) {
                (Some(types), _) => types
                    .self_attributes
                    .get(&attribute.name)
                    .cloned()
                    .unwrap_or_default(),
                (None, Some(annotation)) => self.classes_in_annotation(&owner_module, annotation),
                (None, None) => Vec::new(),
            };
            for (module, qualname) in classes {
                self.expand_class(&module, &qualname, weight, 0, "type of a self attribute");
            }
        }
    }

    /// Resolves the class names an annotation mentions (`Optional[Foo]`, `"Bar"`, `a.B | None`).
    fn classes_in_annotation(&self, module: &str, annotation: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for name in annotation.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')) {
            if name.is_empty()
                || BUILTIN_TYPES.contains(&name)
                || name.chars().next().is_some_and(|c| c.is_ascii_digit())
            {
                continue;
            }
            match resolve_dotted(self.source, module, name) {
                Some(Symbol::Class { module, qualname }) => out.push((module, qualname)),
                Some(Symbol::Variable {
                    module: alias_module,
                    name: alias,
                }) if !alias.contains('.') => {
                    // A type alias: follow the names in its value once.
                    if let Some(info) = self.source.module(&alias_module) {
                        if let Some(value) = info
                            .variables
                            .iter()
                            .find(|v| v.name == alias)
                            .and_then(|v| v.value.clone())
                        {
                            for inner in value
                                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
                            {
                                if inner.is_empty()
                                    || BUILTIN_TYPES.contains(&inner)
                                    || inner == alias
                                {
                                    continue;
                                }
                                if let Some(Symbol::Class { module, qualname }) =
                                    resolve_dotted(self.source, &alias_module, inner)
                                {
                                    out.push((module, qualname));
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        out.dedup();
        out
    }

    /// Scores a class header and its members (and, more weakly, what it inherits and refers to).
    fn expand_class(
        &mut self,
        module: &str,
        qualname: &str,
        weight: f64,
        depth: usize,
        reason: &'static str,
    ) {
        let key = (module.to_string(), qualname.to_string());
        if let Some(previous) = self.expanded.get(&key) {
            if *previous >= weight {
                return;
            }
        }
        self.expanded.insert(key, weight);
        let Some(info) = self.source.module(module) else {
            return;
        };
        let Some(class) = find_class(&info, qualname).cloned() else {
            return;
        };
        drop(info);
        self.add(
            Key {
                module: module.to_string(),
                class: Some(qualname.to_string()),
                name: None,
            },
            weight,
            reason,
        );
        let is_enclosing_base = reason == "base of the enclosing class";
        self.score_members(module, qualname, &class, weight, is_enclosing_base, reason);
        // Inherited members count as the class's own, a little less.
        for base in &class.bases {
            if base.contains('=') {
                continue;
            }
            if let Some(Symbol::Class {
                module: base_module,
                qualname: base_qualname,
            }) = resolve_dotted(self.source, module, base)
            {
                if depth < MAX_TYPE_DEPTH + 2 {
                    self.expand_class(
                        &base_module,
                        &base_qualname,
                        weight * 0.7,
                        depth + 1,
                        "base of a relevant type",
                    );
                }
            }
        }
        if depth >= MAX_TYPE_DEPTH {
            return;
        }
        // Types reachable through the class's annotations.
        let mut related = Vec::new();
        for attribute in class.attributes.iter().chain(&class.instance_attributes) {
            if let Some(annotation) = &attribute.annotation {
                related.extend(self.classes_in_annotation(module, annotation));
            }
        }
        for method in &class.methods {
            if method.name.starts_with('_') && method.name != "__init__" {
                continue;
            }
            if let Some(returns) = &method.returns {
                related.extend(self.classes_in_annotation(module, returns));
            }
        }
        related.sort();
        related.dedup();
        for (related_module, related_qualname) in related {
            if related_module == module && related_qualname == qualname {
                continue;
            }
            self.expand_class(
                &related_module,
                &related_qualname,
                weight * 0.3,
                depth + 1,
                "type reached from a relevant type",
            );
        }
    }

    fn score_members(
        &mut self,
        module: &str,
        qualname: &str,
        class: &ClassInfo,
        weight: f64,
        private_ok: bool,
        reason: &'static str,
    ) {
        let called = self
            .hole
            .usage
            .called
            .iter()
            .any(|c| c == &class.name || c.ends_with(&format!(".{}", class.name)));
        let mut members: Vec<(String, bool)> = Vec::new();
        for method in &class.methods {
            members.push((method.name.clone(), method.kind == FunctionKind::Property));
        }
        for attribute in class.attributes.iter().chain(&class.instance_attributes) {
            members.push((attribute.name.clone(), true));
        }
        for nested in &class.classes {
            members.push((nested.name.clone(), false));
        }
        // Any one member of a small class is a likelier pick than one of a large class.
        let public = members
            .iter()
            .filter(|(n, _)| !n.starts_with('_'))
            .count()
            .max(1);
        let base = 0.2 + 0.4 / (public as f64).sqrt();
        let mut seen = HashSet::new();
        for (name, _) in members {
            if !seen.insert(name.clone()) {
                continue;
            }
            let mut factor: f64 = base;
            if self.hole.usage.attributes.contains_key(&name) {
                factor += 0.45;
            }
            if self.nearby.contains(&name) {
                factor += 0.3;
            }
            if name == "__init__" {
                factor = if called { 0.55 } else { 0.05 };
            } else if name.starts_with("__") && name.ends_with("__") {
                factor *= 0.15;
            } else if name.starts_with('_') && !private_ok {
                factor *= 0.4;
            }
            // Delegation: `close` calls `self._transport.close()`, `__exit__` the wrapped
            // object's `__exit__`, `__init__` the base's `__init__`.
            if self.hole.function.as_ref().is_some_and(|f| f.name == name) {
                factor = factor.max(0.9);
            }
            let key = Key {
                module: module.to_string(),
                class: Some(qualname.to_string()),
                name: Some(name),
            };
            self.add(key, weight * factor, reason);
        }
    }

    /// What the file imports, weighted by how the rest of the file uses it.
    fn imports(&mut self) {
        let current = self.current().to_string();
        let imports = self.hole.module.imports.clone();
        for import in imports.iter().filter(|i| !i.star) {
            let bound = import.bound.as_str();
            let uses = self.hole.usage.names.get(bound).copied().unwrap_or(0);
            let class_uses = self
                .hole
                .usage
                .names_in_class
                .get(bound)
                .copied()
                .unwrap_or(0);
            let mut weight =
                0.6 + 0.15 * f64::from(uses.min(8)).ln_1p() + 0.2 * f64::from(class_uses.min(4));
            let unused = uses == 0;
            if unused {
                weight += 1.6;
            }
            if self.nearby.contains(bound) {
                weight += 0.8;
            }
            let reason = if unused {
                "imported and not used elsewhere in the file"
            } else {
                "imported by the file"
            };
            let Some(symbol) = resolve_name(self.source, &current, bound) else {
                continue;
            };
            match symbol {
                Symbol::Class { module, qualname } => {
                    if module == current {
                        continue;
                    }
                    self.add(
                        Key {
                            module: module.clone(),
                            class: Some(qualname.clone()),
                            name: None,
                        },
                        weight,
                        reason,
                    );
                    // Members of an imported class matter as far as the file touches them.
                    self.expand_class(&module, &qualname, weight * 0.5, 1, reason);
                }
                Symbol::Function { module, qualname } => {
                    if module != current {
                        self.add(function_key(&module, &qualname), weight, reason);
                    }
                }
                Symbol::Variable { module, name } => {
                    if module != current {
                        self.add(function_key(&module, &name), weight * 0.8, reason);
                    }
                    // A global with a declared type (`request: Request`) is used through the
                    // members of that type.
                    let annotation = self.source.module(&module).and_then(|info| {
                        info.variables
                            .iter()
                            .find(|v| v.name == name)
                            .and_then(|v| v.annotation.clone())
                    });
                    if let Some(annotation) = annotation {
                        for (class_module, qualname) in
                            self.classes_in_annotation(&module, &annotation)
                        {
                            self.expand_class(
                                &class_module,
                                &qualname,
                                weight * 0.6,
                                1,
                                "type of an imported global",
                            );
                        }
                    }
                }
                Symbol::Module(module) => self.module_import(&module, bound, weight),
                Symbol::External(_) | Symbol::Unknown => {}
            }
        }
    }

    /// `import pkg.mod as m` / `from pkg import mod`: the attributes the file reads from it.
    fn module_import(&mut self, module: &str, bound: &str, weight: f64) {
        let used: Vec<(String, u32)> = self
            .hole
            .usage
            .qualified
            .iter()
            .filter(|((object, _), _)| object == bound)
            .map(|((_, attribute), count)| (attribute.clone(), *count))
            .collect();
        for (attribute, count) in used {
            let near = self.nearby.contains(&attribute);
            let score =
                weight * (0.5 + 0.1 * f64::from(count.min(5))) + if near { 1.0 } else { 0.0 };
            match resolve::resolve_attribute(
                self.source,
                &Symbol::Module(module.to_string()),
                &attribute,
            ) {
                Some(Symbol::Class { module, qualname }) => {
                    self.add(
                        Key {
                            module,
                            class: Some(qualname),
                            name: None,
                        },
                        score,
                        "read from an imported module",
                    );
                }
                Some(Symbol::Function { module, qualname }) => self.add(
                    function_key(&module, &qualname),
                    score,
                    "read from an imported module",
                ),
                Some(Symbol::Variable { module, name }) => self.add(
                    function_key(&module, &name),
                    score * 0.8,
                    "read from an imported module",
                ),
                _ => {}
            }
        }
    }

    /// Functions and methods anywhere in the index whose return type fits the expected type.
    fn relevant_headers(&mut self) {
        let Some(expected) = self.hole.expected_type.clone() else {
            return;
        };
        let current = self.current().to_string();
        let wanted: Vec<(String, String)> = self.classes_in_annotation(&current, &expected);
        if wanted.is_empty() {
            return;
        }
        let names: HashSet<String> = wanted
            .iter()
            .map(|(_, q)| q.rsplit('.').next().unwrap_or(q).to_string())
            .collect();
        // (how exactly the return type is the expected one, key): `-> T` before `-> T | None`
        // before `-> list[T]`; ties in a stable order, whatever order the index iterates in.
        let mut found: Vec<(usize, Key)> = Vec::new();
        for module in self.source.index.workspace_modules() {
            if module.name == current {
                continue;
            }
            for function in &module.functions {
                if let Some(closeness) = return_closeness(function, &names) {
                    found.push((closeness, function_key(&module.name, &function.name)));
                }
            }
            for class in &module.classes {
                for method in &class.methods {
                    if method.name.starts_with('_') {
                        continue;
                    }
                    if let Some(closeness) = return_closeness(method, &names) {
                        let key = Key {
                            module: module.name.clone(),
                            class: Some(class.name.clone()),
                            name: Some(method.name.clone()),
                        };
                        found.push((closeness, key));
                    }
                }
            }
        }
        found.sort();
        for (_, key) in found.into_iter().take(24) {
            self.add(key, 0.7, "returns the expected type");
        }
    }

    /// BM25 over the index's symbols with the hole's signature, docstring and nearby names.
    fn retrieval(&mut self) {
        let mut query = Vec::new();
        if let Some(function) = &self.hole.function {
            search::words_of_identifier(&function.name, &mut query);
            search::words_of_identifier(&function.name, &mut query);
            if let Some(doc) = &function.docstring {
                search::words_of_text(doc, &mut query);
            }
        }
        for identifier in &self.hole.nearby_identifiers {
            search::words_of_identifier(identifier, &mut query);
        }
        let current = self.current().to_string();
        // The first distinct words (the function's name, its docstring, then the nearby lines)
        // make the query: enough to retrieve on, and a bounded cost.
        let mut seen = HashSet::new();
        query.retain(|word| seen.insert(*word));
        query.truncate(MAX_QUERY_WORDS);
        let documents = self.source.index.symbol_documents(&current);
        let hits = search::bm25(&documents, &query, BM25_HITS);
        let best = hits.first().map(|h| h.score).unwrap_or(1.0);
        for hit in hits {
            let score = 1.0 * hit.score / best;
            let key = match hit.kind {
                search::SymbolKind::Class => Key {
                    module: hit.module,
                    class: Some(hit.name),
                    name: None,
                },
                search::SymbolKind::Member => Key {
                    module: hit.module,
                    class: hit.class,
                    name: Some(hit.name),
                },
                search::SymbolKind::Function | search::SymbolKind::Variable => {
                    function_key(&hit.module, &hit.name)
                }
            };
            self.add(key, score, "similar words (BM25)");
        }
        self.named_like_the_hole(&documents);
    }

    /// A class or function named like the function being written (`def rule` and `class Rule`,
    /// `def get_text` and `def text`) is what wrappers and delegating methods call.
    fn named_like_the_hole(&mut self, documents: &[(String, std::sync::Arc<search::ModuleDocs>)]) {
        let Some(function) = &self.hole.function else {
            return;
        };
        if function.name.starts_with("__") {
            return;
        }
        let wanted = search::normalized_name(&function.name);
        let mut names = vec![wanted.clone()];
        for prefix in ["get", "make", "create", "build", "to", "as", "new"] {
            if let Some(rest) = wanted.strip_prefix(prefix).filter(|rest| rest.len() >= 3) {
                names.push(rest.to_string());
            }
        }
        let found = search::named(documents, &names);
        if found.len() <= 4 {
            for hit in found {
                let key = match hit.kind {
                    search::SymbolKind::Class => Key {
                        module: hit.module,
                        class: Some(hit.name),
                        name: None,
                    },
                    _ => function_key(&hit.module, &hit.name),
                };
                self.add(key, 1.5, "named like the function being written");
            }
        }
    }
}

/// The attributes of instances of `module.qualname`, its own and inherited (class-level and
/// assigned through `self`), each with the module of the class that defines it.
pub fn self_attributes(
    source: &dyn ModuleSource,
    module: &str,
    qualname: &str,
) -> Vec<(String, VariableInfo)> {
    let Some(info) = source.module(module) else {
        return Vec::new();
    };
    let Some(class) = find_class(&info, qualname).cloned() else {
        return Vec::new();
    };
    let mut owners = vec![(module.to_string(), class)];
    if let Some(members) = resolve::class_members(source, module, qualname) {
        for (owner_module, owner_qualname) in members.classes.iter().skip(1) {
            if let Some(owner) = resolve::class_info(source, owner_module, owner_qualname) {
                owners.push((owner_module.clone(), owner));
            }
        }
    }
    let mut attributes = Vec::new();
    for (owner_module, owner) in owners {
        for attribute in owner.attributes.iter().chain(&owner.instance_attributes) {
            attributes.push((owner_module.clone(), attribute.clone()));
        }
    }
    attributes
}

/// How far a function's return annotation is from naming one of `names` (0: it is one of
/// them; then by the annotation's length); `None` when it does not mention any.
fn return_closeness(function: &FunctionInfo, names: &HashSet<String>) -> Option<usize> {
    let returns = function.returns.as_deref()?;
    let mentions = returns
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .any(|word| names.contains(word.rsplit('.').next().unwrap_or(word)));
    if !mentions {
        return None;
    }
    let bare = returns.trim_matches(|c| c == '"' || c == '\'');
    let last = bare.rsplit('.').next().unwrap_or(bare);
    Some(if names.contains(last) {
        0
    } else {
        returns.len()
    })
}

/// The key of a module-level function or variable, or of a method given as `Class.method`.
fn function_key(module: &str, qualname: &str) -> Key {
    match qualname.rsplit_once('.') {
        Some((class, name)) => Key {
            module: module.to_string(),
            class: Some(class.to_string()),
            name: Some(name.to_string()),
        },
        None => Key {
            module: module.to_string(),
            class: None,
            name: Some(qualname.to_string()),
        },
    }
}
