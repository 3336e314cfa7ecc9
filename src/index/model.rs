//! The index's data model: what spackle knows about one Python module, in plain data.
//!
//! Extraction (`index::extract`) fills these from a tree-sitter tree; the context builder and the
//! checks read them. Lines are 0-based. Annotations, defaults and bases are kept as source text.

use serde::{Deserialize, Serialize};

/// How a parameter may be passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParamKind {
    /// Before a `/`.
    PositionalOnly,
    PositionalOrKeyword,
    /// `*args`.
    VarPositional,
    /// After `*` or `*args`.
    KeywordOnly,
    /// `**kwargs`.
    VarKeyword,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub annotation: Option<String>,
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FunctionKind {
    Function,
    Method,
    StaticMethod,
    ClassMethod,
    Property,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionInfo {
    pub name: String,
    pub kind: FunctionKind,
    pub params: Vec<Param>,
    pub returns: Option<String>,
    pub is_async: bool,
    /// Decorators as written, without the `@`.
    pub decorators: Vec<String>,
    /// The first paragraph of the docstring.
    pub docstring: Option<String>,
    pub line: u32,
}

/// A module-level variable, a class-level attribute or an attribute assigned through `self.x`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableInfo {
    pub name: String,
    pub annotation: Option<String>,
    /// The assigned value's source text, shortened (for stubs and for constructor types).
    pub value: Option<String>,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassInfo {
    pub name: String,
    /// Bases and keywords as written (`Base`, `Generic[T]`, `metaclass=ABCMeta`).
    pub bases: Vec<String>,
    pub decorators: Vec<String>,
    pub docstring: Option<String>,
    /// Class-level assignments and annotations.
    pub attributes: Vec<VariableInfo>,
    /// Attributes assigned as `self.name = ...` in methods.
    pub instance_attributes: Vec<VariableInfo>,
    pub methods: Vec<FunctionInfo>,
    pub classes: Vec<ClassInfo>,
    /// Names listed in `__slots__`, when the class declares it.
    pub slots: Option<Vec<String>>,
    /// Something makes the members of this class unknowable statically (`__getattr__`,
    /// `__getattribute__`, a dynamic `setattr` on `self`).
    pub dynamic_members: bool,
    pub line: u32,
}

/// One name bound by an import statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInfo {
    /// The absolute dotted module the import reads from (relative imports resolved).
    pub module: String,
    /// `from module import name`: the imported name; `None` for `import module`.
    pub name: Option<String>,
    /// The name bound in this module (the alias, the name, or the first part of the module).
    pub bound: String,
    /// `from module import *`.
    pub star: bool,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// The dotted module name (`pkg.sub.mod`; `pkg` for `pkg/__init__.py`).
    pub name: String,
    /// The path relative to the root it was found under.
    pub path: String,
    pub is_package: bool,
    pub docstring: Option<String>,
    pub imports: Vec<ImportInfo>,
    pub classes: Vec<ClassInfo>,
    pub functions: Vec<FunctionInfo>,
    pub variables: Vec<VariableInfo>,
    /// `__all__`, when it is a literal list or tuple of strings.
    pub all: Option<Vec<String>>,
    /// A module-level `__getattr__` makes every attribute of the module possible.
    pub has_getattr: bool,
    /// The file did not parse cleanly; what was extracted is a best effort.
    pub has_errors: bool,
    /// Names given attributes by computed name anywhere in the module (`setattr(codes, title,
    /// value)`): the objects they name have members no definition shows.
    #[serde(default)]
    pub dynamic_objects: Vec<String>,
    /// The member names the module reads (`x.name` other than as an assignment's target,
    /// `getattr(x, "name")`), sorted: a member stored on an object the module does not declare
    /// it on is the program's own protocol when some module reads it.
    #[serde(default)]
    pub member_reads: Vec<String>,
    /// Members the module gives objects from outside their class (`form_set.extra = 1`,
    /// `setattr(obj, "name", v)`, the namespace of `type(name, bases, namespace)`), sorted: such
    /// a member may exist on instances whose class definition does not show it.
    #[serde(default)]
    pub assigned_members: Vec<String>,
    /// The hashes of every identifier the text spells, in code, strings or comments (see
    /// `vocabulary::identifier_hashes`), sorted.
    #[serde(default)]
    pub identifiers: Vec<u64>,
    /// FNV-1a of the source text the entry was extracted from, so a caller holding the same text
    /// can reuse the entry instead of extracting again.
    #[serde(default)]
    pub source_hash: u64,
}
