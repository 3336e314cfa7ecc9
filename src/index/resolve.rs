//! Name resolution over the index: what a name bound in a module refers to, and a class's members.
//!
//! # API (shared by `check/` and `context/`)
//!
//! Every function takes `source: &dyn ModuleSource` (the full `Index`, or a [`MapSource`] in tests)
//! and works on dotted module names and class qualnames (`Outer.Inner`).
//!
//! - [`resolve_name`]`(source, module, name) -> Option<Symbol>`: what the module-level name `name`
//!   of `module` is. Follows `import`/`from ... import`, `__init__` re-exports, `from x import *`
//!   (honouring `__all__`), simple aliases (`Alias = Other`), submodules of packages. Bounded
//!   depth, safe on import cycles. `None` means the name is *not bound* in that module (the
//!   caller may then look at builtins); `Some(Symbol::Unknown)` means it may be bound but nothing
//!   can be said (module `__getattr__`, a star import from an unindexed module, a broken import);
//!   `Some(Symbol::External(dotted))` means it comes from a module outside the index.
//! - [`resolve_attribute`]`(source, &symbol, attr) -> Option<Symbol>`: `symbol.attr`, with the
//!   same meaning of `None` (the attribute certainly does not exist) and `Unknown`.
//! - [`resolve_dotted`]`(source, module, "a.b.C[int]") -> Option<Symbol>`: a dotted expression or
//!   annotation as written in `module` (a trailing subscript is ignored).
//! - [`class_info`]`(source, module, qualname) -> Option<ClassInfo>`.
//! - [`class_members`]`(source, module, qualname) -> Option<Members>`: the class's members and
//!   its bases' (first definition wins, left to right, depth first). `None` when the class is
//!   unknown, or any base is unresolved, external (other than `object`, `Generic`, `Protocol`,
//!   `ABC`), or any class on the way has dynamic members (`__getattr__`, `__getattribute__`,
//!   `setattr(self, name, ...)`) or an unusual metaclass: checks then stay silent. Dunder members
//!   every object has (`__class__`, `__dict__`, ...) are *not* listed; callers skip dunders.
//! - [`MapSource`]: an in-memory `ModuleSource`; `MapSource::from_sources(&[(name, path, text)])`
//!   parses and extracts each text, for tests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::model::{ClassInfo, FunctionInfo, ModuleInfo, VariableInfo};
use super::ModuleSource;

/// How many imports, aliases and star imports a resolution follows before giving up.
const MAX_DEPTH: usize = 24;

/// What a name refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Symbol {
    /// A module of the index (or a package whose submodules are indexed).
    Module(String),
    /// A class; `qualname` is `Outer.Inner` for nested classes.
    Class { module: String, qualname: String },
    /// A function, or a method when `qualname` is `Class.method`.
    Function { module: String, qualname: String },
    /// A module-level variable, or a class attribute when `name` is `Class.attr`.
    Variable { module: String, name: String },
    /// Something from a module outside the index: its full dotted name as imported.
    External(String),
    /// Bound, but nothing can be said about it.
    Unknown,
}

/// What kind of member a class has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    /// A method (including properties, static and class methods: see `FunctionInfo::kind`).
    Method(FunctionInfo),
    /// A class-level assignment or annotation.
    ClassAttribute(VariableInfo),
    /// An attribute assigned through `self.x = ...` in a method, or named in `__slots__`.
    InstanceAttribute(VariableInfo),
    /// A nested class; the string is its qualname.
    NestedClass(String),
}

/// One member of a class, with the class that defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub kind: MemberKind,
    /// The module of the class that defines the member.
    pub owner_module: String,
    /// The qualname of the class that defines the member.
    pub owner_class: String,
}

/// The members of a class and of every class it inherits from.
#[derive(Debug, Clone, Default)]
pub struct Members {
    pub by_name: HashMap<String, Member>,
    /// The classes walked, the class itself first, as `(module, qualname)`.
    pub classes: Vec<(String, String)>,
}

impl Members {
    pub fn get(&self, name: &str) -> Option<&Member> {
        self.by_name.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}

/// What `name`, bound at module level in `module`, refers to. See the module documentation.
pub fn resolve_name(source: &dyn ModuleSource, module: &str, name: &str) -> Option<Symbol> {
    let mut visited = HashSet::new();
    resolve_name_inner(source, module, name, &mut visited, 0)
}

fn resolve_name_inner(
    source: &dyn ModuleSource,
    module: &str,
    name: &str,
    visited: &mut HashSet<(String, String)>,
    depth: usize,
) -> Option<Symbol> {
    if depth > MAX_DEPTH || !visited.insert((module.to_string(), name.to_string())) {
        // A cycle or a very long chain: the name is bound somewhere along it, but to what is unclear.
        return Some(Symbol::Unknown);
    }
    let Some(info) = source.module(module) else {
        return Some(Symbol::External(format!("{module}.{name}")));
    };
    if info.classes.iter().any(|c| c.name == name) {
        return Some(Symbol::Class {
            module: module.to_string(),
            qualname: name.to_string(),
        });
    }
    if info.functions.iter().any(|f| f.name == name) {
        return Some(Symbol::Function {
            module: module.to_string(),
            qualname: name.to_string(),
        });
    }
    if let Some(import) = info.imports.iter().find(|i| !i.star && i.bound == name) {
        return Some(follow_import(source, import, visited, depth));
    }
    if let Some(variable) = info.variables.iter().find(|v| v.name == name) {
        return Some(follow_alias(source, module, variable, visited, depth));
    }
    let mut unknown_star = false;
    for import in info.imports.iter().filter(|i| i.star) {
        let Some(target) = source.module(&import.module) else {
            unknown_star = true;
            continue;
        };
        let exported = match &target.all {
            Some(all) => all.iter().any(|n| n == name),
            None => !name.starts_with('_'),
        };
        if !exported || visited.contains(&(import.module.clone(), name.to_string())) {
            continue;
        }
        if let Some(symbol) = resolve_name_inner(source, &import.module, name, visited, depth + 1) {
            return Some(symbol);
        }
    }
    if unknown_star || info.has_getattr {
        return Some(Symbol::Unknown);
    }
    let submodule = format!("{module}.{name}");
    if info.is_package && source.module(&submodule).is_some() {
        return Some(Symbol::Module(submodule));
    }
    None
}

fn follow_import(
    source: &dyn ModuleSource,
    import: &super::model::ImportInfo,
    visited: &mut HashSet<(String, String)>,
    depth: usize,
) -> Symbol {
    match &import.name {
        None => {
            // `import a.b.c` binds `a`; `import a.b as c` binds `a.b`.
            let bound_module = if import.bound == import.module || !import.module.contains('.') {
                import.module.clone()
            } else if import.module.starts_with(&format!("{}.", import.bound)) {
                import.bound.clone()
            } else {
                import.module.clone()
            };
            if source.module(&bound_module).is_some() || source.module(&import.module).is_some() {
                Symbol::Module(bound_module)
            } else {
                Symbol::External(bound_module)
            }
        }
        Some(name) => {
            let submodule = format!("{}.{}", import.module, name);
            if source.module(&import.module).is_some() {
                let found = resolve_name_inner(source, &import.module, name, visited, depth + 1);
                match found {
                    // `from . import sub` in a package's `__init__` reads the submodule.
                    None | Some(Symbol::Unknown) if source.module(&submodule).is_some() => {
                        Symbol::Module(submodule)
                    }
                    Some(symbol) => symbol,
                    None => Symbol::Unknown,
                }
            } else if source.module(&submodule).is_some() {
                Symbol::Module(submodule)
            } else {
                Symbol::External(submodule)
            }
        }
    }
}

/// A module variable whose value is a plain dotted name (`Alias = other.Thing`) is followed.
fn follow_alias(
    source: &dyn ModuleSource,
    module: &str,
    variable: &VariableInfo,
    visited: &mut HashSet<(String, String)>,
    depth: usize,
) -> Symbol {
    let plain = Symbol::Variable {
        module: module.to_string(),
        name: variable.name.clone(),
    };
    if variable.annotation.is_some() {
        return plain;
    }
    let Some(value) = variable.value.as_deref() else {
        return plain;
    };
    if !is_dotted_name(value) || value == variable.name {
        return plain;
    }
    match resolve_dotted_inner(source, module, value, visited, depth + 1) {
        Some(
            symbol @ (Symbol::Class { .. }
            | Symbol::Function { .. }
            | Symbol::Module(_)
            | Symbol::External(_)),
        ) => symbol,
        _ => plain,
    }
}

fn is_dotted_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// The attribute `attr` of what `symbol` refers to. See the module documentation.
pub fn resolve_attribute(source: &dyn ModuleSource, symbol: &Symbol, attr: &str) -> Option<Symbol> {
    let mut visited = HashSet::new();
    resolve_attribute_inner(source, symbol, attr, &mut visited, 0)
}

fn resolve_attribute_inner(
    source: &dyn ModuleSource,
    symbol: &Symbol,
    attr: &str,
    visited: &mut HashSet<(String, String)>,
    depth: usize,
) -> Option<Symbol> {
    match symbol {
        Symbol::Module(module) => {
            if source.module(module).is_some() {
                resolve_name_inner(source, module, attr, visited, depth + 1)
            } else {
                let submodule = format!("{module}.{attr}");
                if source.module(&submodule).is_some() {
                    Some(Symbol::Module(submodule))
                } else {
                    Some(Symbol::External(submodule))
                }
            }
        }
        Symbol::Class { module, qualname } => {
            let Some(members) = class_members(source, module, qualname) else {
                return Some(Symbol::Unknown);
            };
            let member = members.get(attr)?;
            Some(match &member.kind {
                MemberKind::Method(_) => Symbol::Function {
                    module: member.owner_module.clone(),
                    qualname: format!("{}.{}", member.owner_class, member.name),
                },
                MemberKind::NestedClass(qualname) => Symbol::Class {
                    module: member.owner_module.clone(),
                    qualname: qualname.clone(),
                },
                MemberKind::ClassAttribute(_) | MemberKind::InstanceAttribute(_) => {
                    Symbol::Variable {
                        module: member.owner_module.clone(),
                        name: format!("{}.{}", member.owner_class, member.name),
                    }
                }
            })
        }
        Symbol::External(dotted) => Some(Symbol::External(format!("{dotted}.{attr}"))),
        Symbol::Function { .. } | Symbol::Variable { .. } | Symbol::Unknown => {
            Some(Symbol::Unknown)
        }
    }
}

/// A dotted expression (`name`, `mod.Class`, `pkg.mod.Class.Inner`, `List[int]`) as written in
/// `module`. A trailing subscript and surrounding quotes are ignored.
pub fn resolve_dotted(source: &dyn ModuleSource, module: &str, dotted: &str) -> Option<Symbol> {
    let mut visited = HashSet::new();
    resolve_dotted_inner(source, module, dotted, &mut visited, 0)
}

fn resolve_dotted_inner(
    source: &dyn ModuleSource,
    module: &str,
    dotted: &str,
    visited: &mut HashSet<(String, String)>,
    depth: usize,
) -> Option<Symbol> {
    let trimmed = dotted.trim().trim_matches(|c| c == '"' || c == '\'');
    let head = trimmed.split('[').next().unwrap_or(trimmed).trim();
    if !is_dotted_name(head) {
        return None;
    }
    let mut parts = head.split('.');
    let first = parts.next()?;
    let mut symbol = resolve_name_inner(source, module, first, visited, depth)?;
    for part in parts {
        symbol = resolve_attribute_inner(source, &symbol, part, visited, depth + 1)?;
    }
    Some(symbol)
}

/// The class `qualname` (`Outer.Inner` for nested classes) defined in `module`.
pub fn class_info(source: &dyn ModuleSource, module: &str, qualname: &str) -> Option<ClassInfo> {
    let info = source.module(module)?;
    find_class(&info, qualname).cloned()
}

/// Finds a class by qualname inside a module's entry, without copying it.
pub fn find_class<'m>(info: &'m ModuleInfo, qualname: &str) -> Option<&'m ClassInfo> {
    let mut parts = qualname.split('.');
    let first = parts.next()?;
    let mut class = info.classes.iter().find(|c| c.name == first)?;
    for part in parts {
        class = class.classes.iter().find(|c| c.name == part)?;
    }
    Some(class)
}

/// The members of the class and its bases; `None` when they cannot all be known.
pub fn class_members(source: &dyn ModuleSource, module: &str, qualname: &str) -> Option<Members> {
    let mut members = Members::default();
    let mut visited = HashSet::new();
    visited.insert((module.to_string(), qualname.to_string()));
    if collect_members(source, module, qualname, &mut members, &mut visited, 0) {
        Some(members)
    } else {
        None
    }
}

/// Bases that add no members a check would care about.
fn is_trivial_base(dotted: &str) -> bool {
    matches!(
        dotted,
        "object"
            | "builtins.object"
            | "typing.Generic"
            | "typing.Protocol"
            | "typing_extensions.Protocol"
            | "typing_extensions.Generic"
            | "abc.ABC"
    )
}

fn is_plain_metaclass(dotted: &str) -> bool {
    matches!(dotted, "type" | "ABCMeta" | "abc.ABCMeta")
}

fn collect_members(
    source: &dyn ModuleSource,
    module: &str,
    qualname: &str,
    members: &mut Members,
    visited: &mut HashSet<(String, String)>,
    depth: usize,
) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let Some(info) = source.module(module) else {
        return false;
    };
    let Some(class) = find_class(&info, qualname) else {
        return false;
    };
    if class.dynamic_members {
        return false;
    }
    members
        .classes
        .push((module.to_string(), qualname.to_string()));
    let mut add = |name: &str, kind: MemberKind| {
        members
            .by_name
            .entry(name.to_string())
            .or_insert_with(|| Member {
                name: name.to_string(),
                kind,
                owner_module: module.to_string(),
                owner_class: qualname.to_string(),
            });
    };
    for method in &class.methods {
        add(&method.name, MemberKind::Method(method.clone()));
    }
    for attribute in &class.attributes {
        add(
            &attribute.name,
            MemberKind::ClassAttribute(attribute.clone()),
        );
    }
    for nested in &class.classes {
        add(
            &nested.name,
            MemberKind::NestedClass(format!("{qualname}.{}", nested.name)),
        );
    }
    for attribute in &class.instance_attributes {
        add(
            &attribute.name,
            MemberKind::InstanceAttribute(attribute.clone()),
        );
    }
    for slot in class.slots.iter().flatten() {
        add(
            slot,
            MemberKind::InstanceAttribute(VariableInfo {
                name: slot.clone(),
                annotation: None,
                value: None,
                line: class.line,
            }),
        );
    }
    let bases = class.bases.clone();
    drop(info);
    for base in &bases {
        if let Some((keyword, value)) = base.split_once('=') {
            if keyword.trim() == "metaclass" {
                let value = value.trim();
                let known = is_plain_metaclass(value)
                    || matches!(resolve_dotted(source, module, value), Some(Symbol::External(ref d)) if is_plain_metaclass(d));
                if !known {
                    return false;
                }
            }
            continue;
        }
        if base.starts_with('*') {
            return false;
        }
        match resolve_dotted(source, module, base) {
            Some(Symbol::Class {
                module: base_module,
                qualname: base_qualname,
            }) => {
                if !visited.insert((base_module.clone(), base_qualname.clone())) {
                    continue;
                }
                if !collect_members(
                    source,
                    &base_module,
                    &base_qualname,
                    members,
                    visited,
                    depth + 1,
                ) {
                    return false;
                }
            }
            Some(Symbol::External(dotted)) if is_trivial_base(&dotted) => {}
            None if base.trim() == "object" => {}
            _ => return false,
        }
    }
    true
}

/// A `ModuleSource` over a plain map, for tests and small tools.
#[derive(Default, Clone)]
pub struct MapSource {
    pub modules: HashMap<String, Arc<ModuleInfo>>,
}

impl MapSource {
    pub fn insert(&mut self, module: ModuleInfo) {
        self.modules.insert(module.name.clone(), Arc::new(module));
    }

    /// Parses and extracts each `(module name, path, source text)`.
    pub fn from_sources(files: &[(&str, &str, &str)]) -> MapSource {
        let mut map = MapSource::default();
        for (name, path, text) in files {
            if let Some(tree) = crate::store::parse_python(text, None) {
                map.insert(super::extract::extract_module(name, path, text, &tree));
            }
        }
        map
    }
}

impl ModuleSource for MapSource {
    fn module(&self, name: &str) -> Option<Arc<ModuleInfo>> {
        self.modules.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> MapSource {
        MapSource::from_sources(&[
            ("pkg", "pkg/__init__.py", "from .models import Model, Base as PublicBase\nfrom .util import *\nfrom . import sub\n__all__ = ['Model']\n"),
            (
                "pkg.models",
                "pkg/models.py",
                "from typing import Generic, TypeVar\nimport os.path\nT = TypeVar('T')\nclass Base(Generic[T]):\n    kind: str = 'x'\n    def save(self, force: bool = False) -> None:\n        self.saved = True\nclass Model(Base[int]):\n    __slots__ = ('slot',)\n    def __init__(self, name: str):\n        self.name = name\n    class Meta:\n        ordering = []\nAlias = Model\nclass Dynamic:\n    def __getattr__(self, name): ...\nclass FromDynamic(Dynamic): ...\nclass FromExternal(os.PathLike): ...\nclass Loop(LoopB): ...\nclass LoopB(Loop): ...\n",
            ),
            ("pkg.util", "pkg/util.py", "__all__ = ['helper']\ndef helper(x): ...\ndef hidden(): ...\nfrom .cycle import *\n"),
            ("pkg.cycle", "pkg/cycle.py", "from .util import *\nfrom .cycle import *\n"),
            ("pkg.sub", "pkg/sub/__init__.py", "from pkg import Model\nfrom json import loads\nfrom unknown_lib import *\n"),
            ("pkg.lazy", "pkg/lazy.py", "def __getattr__(name): ...\n"),
        ])
    }

    #[test]
    fn names_follow_imports_reexports_and_star_imports() {
        let source = workspace();
        let model = Symbol::Class {
            module: "pkg.models".into(),
            qualname: "Model".into(),
        };
        assert_eq!(resolve_name(&source, "pkg", "Model"), Some(model.clone()));
        assert_eq!(
            resolve_name(&source, "pkg", "PublicBase"),
            Some(Symbol::Class {
                module: "pkg.models".into(),
                qualname: "Base".into()
            })
        );
        assert_eq!(
            resolve_name(&source, "pkg.sub", "Model"),
            Some(model.clone())
        );
        assert_eq!(
            resolve_name(&source, "pkg", "helper"),
            Some(Symbol::Function {
                module: "pkg.util".into(),
                qualname: "helper".into()
            })
        );
        // `__all__` of pkg.util hides `hidden` from the star import.
        assert_eq!(resolve_name(&source, "pkg", "hidden"), None);
        assert_eq!(
            resolve_name(&source, "pkg", "sub"),
            Some(Symbol::Module("pkg.sub".into()))
        );
        assert_eq!(
            resolve_name(&source, "pkg.models", "Alias"),
            Some(model.clone())
        );
        assert_eq!(
            resolve_name(&source, "pkg.models", "os"),
            Some(Symbol::External("os".into()))
        );
        assert_eq!(
            resolve_name(&source, "pkg.sub", "loads"),
            Some(Symbol::External("json.loads".into()))
        );
        // A star import from outside the index makes every other name unknowable.
        assert_eq!(
            resolve_name(&source, "pkg.sub", "anything"),
            Some(Symbol::Unknown)
        );
        assert_eq!(
            resolve_name(&source, "pkg.lazy", "anything"),
            Some(Symbol::Unknown)
        );
        assert_eq!(resolve_name(&source, "pkg.models", "missing"), None);
        // Star-import cycles terminate.
        assert_eq!(resolve_name(&source, "pkg.cycle", "nothing"), None);
        assert_eq!(
            resolve_dotted(&source, "pkg.sub", "Model.Meta"),
            Some(Symbol::Class {
                module: "pkg.models".into(),
                qualname: "Model.Meta".into()
            })
        );
        assert_eq!(
            resolve_dotted(&source, "pkg", "sub.Model.save"),
            Some(Symbol::Function {
                module: "pkg.models".into(),
                qualname: "Base.save".into()
            })
        );
        assert_eq!(resolve_dotted(&source, "pkg", "Model.nope"), None);
    }

    #[test]
    fn members_walk_bases_and_give_up_on_the_unknowable() {
        let source = workspace();
        let members = class_members(&source, "pkg.models", "Model").expect("all bases are known");
        for name in ["__init__", "name", "slot", "Meta", "save", "saved", "kind"] {
            assert!(members.contains(name), "{name} is a member of Model");
        }
        assert_eq!(
            members.get("save").map(|m| m.owner_class.as_str()),
            Some("Base")
        );
        assert!(!members.contains("missing"));
        assert_eq!(members.classes.len(), 2);
        assert!(class_members(&source, "pkg.models", "Dynamic").is_none());
        assert!(class_members(&source, "pkg.models", "FromDynamic").is_none());
        assert!(class_members(&source, "pkg.models", "FromExternal").is_none());
        // An inheritance cycle terminates (and says what it found).
        assert!(class_members(&source, "pkg.models", "Loop").is_some());
        assert!(class_info(&source, "pkg.models", "Model.Meta").is_some());
        assert!(class_members(&source, "pkg.models", "Nope").is_none());
    }
}
