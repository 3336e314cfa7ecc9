//! Unknown members and bad calls, for receivers whose type is known for certain: indexed modules,
//! classes of the index, `self` and `cls` in methods, parameters, locals and module variables
//! annotated with an indexed class, instances built by calling one, results of functions whose
//! return annotation names one, loop targets and unpacked tuples of annotated collections
//! (`members/shapes.rs`), and unions of those (`A | None`, `isinstance` tests on an attribute path).
//! Attributes set from outside a class are checked like reads; a `self.x` that is set and never
//! read while a similar `self.y` that the class reads is set nowhere is reported as misspelt.
//!
//! Everything else (external packages, decorators that may change a signature, `*args` and
//! `**kwargs` at the call, classes with dynamic members or unknown bases) keeps the check silent.

mod shapes;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tree_sitter::Node;

use super::names::{closest_names, Binding, BindingKind, Resolution, ScopeKind, Scopes};
use super::{path_to, CallProblem, Problem, ProblemKind, Spliced};
use crate::index::extract::resolve_relative;
use crate::index::model::{FunctionInfo, FunctionKind, ModuleInfo, Param, ParamKind, VariableInfo};
use crate::index::resolve::{
    class_info, class_members, resolve_attribute, resolve_dotted, resolve_name, Members, Symbol,
};
use crate::index::ModuleSource;

/// How many `x.name = ...` candidates [`assigned_attributes`] confirms with the tree.
const MAX_ASSIGNED_ATTRIBUTE_HITS: usize = 10_000;

/// How many steps of inference (through assignments and attributes) one expression may take.
const MAX_INFERENCE_DEPTH: usize = 8;

/// Builtin types whose members [`external_members`] lists.
const BUILTIN_TYPES: &[&str] = &[
    "str",
    "bytes",
    "bytearray",
    "int",
    "float",
    "bool",
    "complex",
    "list",
    "dict",
    "set",
    "frozenset",
    "tuple",
];

/// The builtin class a `typing` alias stands for (`typing.List` is `list`).
fn typing_alias_of_builtin(name: &str) -> Option<&'static str> {
    Some(match name {
        "List" => "list",
        "Dict" => "dict",
        "Set" => "set",
        "FrozenSet" => "frozenset",
        "Tuple" => "tuple",
        "Text" => "str",
        _ => return None,
    })
}

const STR_MEMBERS: &[&str] = &[
    "capitalize",
    "casefold",
    "center",
    "count",
    "encode",
    "endswith",
    "expandtabs",
    "find",
    "format",
    "format_map",
    "index",
    "isalnum",
    "isalpha",
    "isascii",
    "isdecimal",
    "isdigit",
    "isidentifier",
    "islower",
    "isnumeric",
    "isprintable",
    "isspace",
    "istitle",
    "isupper",
    "join",
    "ljust",
    "lower",
    "lstrip",
    "maketrans",
    "partition",
    "removeprefix",
    "removesuffix",
    "replace",
    "rfind",
    "rindex",
    "rjust",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "splitlines",
    "startswith",
    "strip",
    "swapcase",
    "title",
    "translate",
    "upper",
    "zfill",
];
const BYTES_MEMBERS: &[&str] = &[
    "capitalize",
    "center",
    "count",
    "decode",
    "endswith",
    "expandtabs",
    "find",
    "fromhex",
    "hex",
    "index",
    "isalnum",
    "isalpha",
    "isascii",
    "isdigit",
    "islower",
    "isspace",
    "istitle",
    "isupper",
    "join",
    "ljust",
    "lower",
    "lstrip",
    "maketrans",
    "partition",
    "removeprefix",
    "removesuffix",
    "replace",
    "rfind",
    "rindex",
    "rjust",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "splitlines",
    "startswith",
    "strip",
    "swapcase",
    "title",
    "translate",
    "upper",
    "zfill",
];
const BYTEARRAY_MEMBERS: &[&str] = &[
    "append",
    "capitalize",
    "center",
    "clear",
    "copy",
    "count",
    "decode",
    "endswith",
    "expandtabs",
    "extend",
    "find",
    "fromhex",
    "hex",
    "index",
    "insert",
    "isalnum",
    "isalpha",
    "isascii",
    "isdigit",
    "islower",
    "isspace",
    "istitle",
    "isupper",
    "join",
    "ljust",
    "lower",
    "lstrip",
    "maketrans",
    "partition",
    "pop",
    "remove",
    "removeprefix",
    "removesuffix",
    "replace",
    "reverse",
    "rfind",
    "rindex",
    "rjust",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "splitlines",
    "startswith",
    "strip",
    "swapcase",
    "title",
    "translate",
    "upper",
    "zfill",
];
const INT_MEMBERS: &[&str] = &[
    "as_integer_ratio",
    "bit_count",
    "bit_length",
    "conjugate",
    "denominator",
    "from_bytes",
    "imag",
    "is_integer",
    "numerator",
    "real",
    "to_bytes",
];
const FLOAT_MEMBERS: &[&str] = &[
    "as_integer_ratio",
    "conjugate",
    "fromhex",
    "hex",
    "imag",
    "is_integer",
    "real",
];
const COMPLEX_MEMBERS: &[&str] = &["conjugate", "imag", "real"];
const LIST_MEMBERS: &[&str] = &[
    "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse",
    "sort",
];
const DICT_MEMBERS: &[&str] = &[
    "clear",
    "copy",
    "fromkeys",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
];
const SET_MEMBERS: &[&str] = &[
    "add",
    "clear",
    "copy",
    "difference",
    "difference_update",
    "discard",
    "intersection",
    "intersection_update",
    "isdisjoint",
    "issubset",
    "issuperset",
    "pop",
    "remove",
    "symmetric_difference",
    "symmetric_difference_update",
    "union",
    "update",
];
const FROZENSET_MEMBERS: &[&str] = &[
    "copy",
    "difference",
    "intersection",
    "isdisjoint",
    "issubset",
    "issuperset",
    "symmetric_difference",
    "union",
];
const TUPLE_MEMBERS: &[&str] = &["count", "index"];
const NAMED_TUPLE_MEMBERS: &[&str] = &[
    "count",
    "index",
    "_make",
    "_asdict",
    "_replace",
    "_fields",
    "_field_defaults",
];
const SEQUENCE_MEMBERS: &[&str] = &["count", "index"];
const MUTABLE_SEQUENCE_MEMBERS: &[&str] = &[
    "append", "clear", "count", "extend", "index", "insert", "pop", "remove", "reverse",
];
const MAPPING_MEMBERS: &[&str] = &["get", "items", "keys", "values"];
const MUTABLE_MAPPING_MEMBERS: &[&str] = &[
    "clear",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
];
const SET_ABC_MEMBERS: &[&str] = &["isdisjoint", "_from_iterable", "_hash"];
const MUTABLE_SET_MEMBERS: &[&str] = &[
    "add",
    "clear",
    "discard",
    "isdisjoint",
    "pop",
    "remove",
    "_from_iterable",
    "_hash",
];
const GENERATOR_MEMBERS: &[&str] = &["close", "send", "throw"];
const ASYNC_GENERATOR_MEMBERS: &[&str] = &["aclose", "asend", "athrow"];
const EXCEPTION_MEMBERS: &[&str] = &["add_note", "args", "with_traceback"];
/// Enum members: the public ones and a marker that lets every `_sunder_` name pass.
const ENUM_MEMBERS: &[&str] = &["name", "value", SUNDER_MARKER];
const INT_ENUM_MEMBERS: &[&str] = &[
    "name",
    "value",
    SUNDER_MARKER,
    "as_integer_ratio",
    "bit_count",
    "bit_length",
    "conjugate",
    "denominator",
    "from_bytes",
    "imag",
    "is_integer",
    "numerator",
    "real",
    "to_bytes",
];
const SUNDER_MARKER: &str = "<sunder>";

/// The public members of a class outside the index that is fixed by the language: builtin types,
/// the abstract base classes of `typing` and `collections.abc`, `NamedTuple`, exceptions, enums.
/// `None` for any other external class.
fn external_members(dotted: &str) -> Option<&'static [&'static str]> {
    let (prefix, name) = dotted.rsplit_once('.').unwrap_or(("builtins", dotted));
    let members: &'static [&'static str] = match (prefix, name) {
        ("builtins", "str") => STR_MEMBERS,
        ("builtins", "bytes") => BYTES_MEMBERS,
        ("builtins", "bytearray") => BYTEARRAY_MEMBERS,
        ("builtins", "int" | "bool") => INT_MEMBERS,
        ("builtins", "float") => FLOAT_MEMBERS,
        ("builtins", "complex") => COMPLEX_MEMBERS,
        ("builtins", "list") => LIST_MEMBERS,
        ("builtins", "dict") => DICT_MEMBERS,
        ("builtins", "set") => SET_MEMBERS,
        ("builtins", "frozenset") => FROZENSET_MEMBERS,
        ("builtins", "tuple") => TUPLE_MEMBERS,
        ("builtins", "object") => &[],
        (
            "builtins",
            "BaseException"
            | "Exception"
            | "ValueError"
            | "TypeError"
            | "RuntimeError"
            | "KeyError"
            | "IndexError"
            | "LookupError"
            | "NotImplementedError"
            | "AssertionError"
            | "ArithmeticError",
        ) => EXCEPTION_MEMBERS,
        ("typing" | "typing_extensions", "NamedTuple") => NAMED_TUPLE_MEMBERS,
        ("typing" | "typing_extensions", "Generic" | "Protocol") => &[],
        ("abc", "ABC") => &[],
        ("typing" | "typing_extensions" | "collections.abc", abc) => match abc {
            "Iterable" | "Iterator" | "Collection" | "Container" | "Sized" | "Hashable"
            | "Reversible" | "AsyncIterable" | "AsyncIterator" | "Awaitable" => &[],
            "Sequence" => SEQUENCE_MEMBERS,
            "MutableSequence" => MUTABLE_SEQUENCE_MEMBERS,
            "Mapping" => MAPPING_MEMBERS,
            "MutableMapping" => MUTABLE_MAPPING_MEMBERS,
            "Set" | "AbstractSet" => SET_ABC_MEMBERS,
            "MutableSet" => MUTABLE_SET_MEMBERS,
            "Generator" | "Coroutine" => GENERATOR_MEMBERS,
            "AsyncGenerator" => ASYNC_GENERATOR_MEMBERS,
            _ => return None,
        },
        ("enum", "Enum" | "Flag") => ENUM_MEMBERS,
        ("enum", "IntEnum" | "IntFlag") => INT_ENUM_MEMBERS,
        _ => return None,
    };
    Some(members)
}

/// Builtin classes that `None` is not an instance of.
const NONE_REJECTING_BUILTINS: &[&str] = &[
    "str",
    "int",
    "float",
    "bool",
    "bytes",
    "bytearray",
    "list",
    "dict",
    "set",
    "frozenset",
    "tuple",
    "complex",
    "type",
    "memoryview",
    "range",
];

/// Generic aliases of `typing` and `collections.abc` that `None` is not an instance of.
const NONE_REJECTING_ALIASES: &[&str] = &[
    "List",
    "Dict",
    "Set",
    "FrozenSet",
    "Tuple",
    "Type",
    "Callable",
    "Iterable",
    "Iterator",
    "Sequence",
    "MutableSequence",
    "Mapping",
    "MutableMapping",
    "Generator",
    "AsyncIterator",
    "AsyncIterable",
    "AsyncGenerator",
    "Awaitable",
    "Coroutine",
    "Collection",
    "Container",
    "AbstractSet",
    "MutableSet",
    "Pattern",
    "Match",
    "IO",
    "TextIO",
    "BinaryIO",
];

/// A member found on a class or one of its bases.
#[derive(Debug, Clone)]
enum Found {
    Method {
        module: String,
        qualname: String,
        kind: FunctionKind,
        returns: Option<String>,
    },
    Nested {
        module: String,
        qualname: String,
    },
    /// Class-level and `self.x` assignments of an attribute, in the class that owns them.
    Variables {
        module: String,
        owner_class: String,
        variables: Vec<VariableInfo>,
    },
}

/// A type known for certain.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Type {
    /// An indexed module.
    Module(String),
    /// A class object.
    Class { module: String, qualname: String },
    /// An instance of a class.
    Instance { module: String, qualname: String },
    /// One of several instances (`A | B`, `Optional[A]`: `None` has no members to speak of, so an
    /// attribute missing from every alternative is certainly wrong).
    Union(Vec<Type>),
    /// A function or method; `bound` when its first parameter is already taken (`self.method`).
    Function {
        module: String,
        qualname: String,
        bound: bool,
    },
}

/// Decorators that change neither a function's signature, nor what it returns, nor a class's
/// members: `functools.cache` and `lru_cache` wrap the function in a cache that takes the same
/// arguments and returns the same values.
fn is_transparent_decorator(decorator: &str) -> bool {
    matches!(
        decorator_name(decorator),
        "staticmethod"
            | "classmethod"
            | "abstractmethod"
            | "override"
            | "final"
            | "overload"
            | "runtime_checkable"
            | "cache"
            | "lru_cache"
    )
}

/// Decorators that keep the arguments a function takes but change what calling it gives.
fn keeps_signature(decorator: &str) -> bool {
    is_transparent_decorator(decorator)
        || matches!(
            decorator_name(decorator),
            "contextmanager" | "asynccontextmanager"
        )
}

/// `lru_cache` for `functools.lru_cache(maxsize=None)`.
fn decorator_name(decorator: &str) -> &str {
    let callee = decorator.split('(').next().unwrap_or(decorator).trim();
    callee.rsplit('.').next().unwrap_or(callee)
}

/// Checks the attributes and calls inside the candidate.
pub fn check_members_and_calls(
    spliced: &Spliced,
    scopes: &Scopes,
    module_name: &str,
    modules: &dyn ModuleSource,
) -> Vec<Problem> {
    if !scopes.complete {
        return Vec::new();
    }
    // Too many attribute assignments to confirm: stay silent rather than guess.
    let Some(Assigned {
        counts: assigned_counts,
        outside: assigned_outside,
    }) = assigned_attributes(spliced)
    else {
        return Vec::new();
    };
    let this_module = modules.module(module_name);
    let read_scopes: HashMap<usize, usize> = scopes
        .reads
        .iter()
        .map(|read| (read.start, read.scope))
        .collect();
    let mut checker = Checker {
        spliced,
        scopes,
        module_name,
        modules,
        this_module,
        read_scopes,
        assigned_outside,
        assigned_counts,
        problems: Vec::new(),
        reported: HashSet::new(),
        variable_types: RefCell::new(HashMap::new()),
    };
    let root = spliced.tree.root_node();
    // Each node comes with whether it is written rather than read (an assignment target).
    let mut stack = vec![(root, false)];
    while let Some((node, target)) = stack.pop() {
        if node.end_byte() < spliced.start || node.start_byte() > spliced.end || node.is_error() {
            continue;
        }
        let inside = node.start_byte() >= spliced.start && node.end_byte() <= spliced.end;
        if inside {
            match node.kind() {
                "attribute" if !target => checker.check_attribute(node),
                "attribute" => checker.check_write(node),
                "call" => checker.check_call(node),
                _ => {}
            }
        }
        let left = match node.kind() {
            "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
                node.child_by_field_name("left")
            }
            _ => None,
        };
        let passes_target = target
            && matches!(
                node.kind(),
                "pattern_list"
                    | "tuple_pattern"
                    | "list_pattern"
                    | "expression_list"
                    | "tuple"
                    | "list"
                    | "parenthesized_expression"
                    | "list_splat_pattern"
            );
        let deletes = node.kind() == "delete_statement";
        let mut cursor = node.walk();
        // Children are pushed in reverse so that problems come out in document order.
        let children: Vec<Node> = node.children(&mut cursor).collect();
        stack.extend(
            children
                .into_iter()
                .rev()
                .map(|child| (child, passes_target || deletes || Some(child) == left)),
        );
        if stack.len() > 100_000 {
            break;
        }
    }
    checker.problems
}

/// Names `x` of every `something.x = ...` (or `+=`, annotated) in the document: attributes that
/// code sets from outside the class, which the index does not see.
struct Assigned {
    /// How many times each name is set in the whole document.
    counts: HashMap<String, usize>,
    /// The names set outside the candidate.
    outside: HashSet<String>,
}

fn assigned_attributes(spliced: &Spliced) -> Option<Assigned> {
    let text = &spliced.text;
    let bytes = text.as_bytes();
    let mut outside = HashSet::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut index = 0;
    let mut checked = 0;
    while let Some(found) = text[index..].find('.') {
        let dot = index + found;
        index = dot + 1;
        let name_end = dot
            + 1
            + bytes[dot + 1..]
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
                .count();
        if name_end == dot + 1 {
            continue;
        }
        let rest = text[name_end..].trim_start_matches([' ', '\t']);
        let assigns = (rest.starts_with('=') && !rest.starts_with("=="))
            || rest.starts_with(':')
            || [
                "+=", "-=", "*=", "/=", "|=", "&=", "^=", "%=", "//=", "**=", "<<=", ">>=", "@=",
            ]
            .iter()
            .any(|op| rest.starts_with(op));
        if !assigns {
            continue;
        }
        checked += 1;
        if checked > MAX_ASSIGNED_ATTRIBUTE_HITS {
            return None;
        }
        // Confirm with the tree: the attribute is the target of an assignment (not `if x.a:`).
        let root = spliced.tree.root_node();
        let Some(attribute) = root
            .descendant_for_byte_range(dot + 1, name_end)
            .and_then(|identifier| identifier.parent())
            .filter(|parent| parent.kind() == "attribute")
        else {
            continue;
        };
        let is_target = attribute.parent().is_some_and(|parent| {
            matches!(parent.kind(), "assignment" | "augmented_assignment")
                && parent.child_by_field_name("left") == Some(attribute)
        });
        if is_target {
            if let Some(name) = text.get(dot + 1..name_end) {
                *counts.entry(name.to_string()).or_default() += 1;
                if !(spliced.start..spliced.end).contains(&dot) {
                    outside.insert(name.to_string());
                }
            }
        }
    }
    Some(Assigned { counts, outside })
}

/// A class attribute: its module, class, name and line.
type VariableKey = (String, String, String, u32);

struct Checker<'s, 'a> {
    spliced: &'s Spliced<'s>,
    scopes: &'s Scopes<'a>,
    module_name: &'s str,
    modules: &'s dyn ModuleSource,
    this_module: Option<Arc<ModuleInfo>>,
    read_scopes: HashMap<usize, usize>,
    /// How many times each name is set from outside a class in the whole document.
    assigned_counts: HashMap<String, usize>,
    /// The names set from outside a class outside the candidate.
    assigned_outside: HashSet<String>,
    problems: Vec<Problem>,
    reported: HashSet<(usize, usize)>,
    /// Types of class attributes already worked out in this check.
    variable_types: RefCell<HashMap<VariableKey, Option<Type>>>,
}

impl Checker<'_, '_> {
    fn text(&self, node: Node) -> &str {
        self.spliced
            .text
            .get(node.start_byte()..node.end_byte())
            .unwrap_or("")
    }

    fn scope_of(&self, node: Node) -> usize {
        self.read_scopes
            .get(&node.start_byte())
            .copied()
            .unwrap_or_else(|| self.scopes.scope_at(node.start_byte()))
    }

    // Inference.

    fn infer(&self, node: Node, depth: usize) -> Option<Type> {
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        match node.kind() {
            "identifier" => self.infer_name(node, depth),
            "attribute" => {
                let object = self.infer(node.child_by_field_name("object")?, depth + 1)?;
                let attribute = self.text(node.child_by_field_name("attribute")?);
                self.member_type(&object, attribute)
            }
            "call" => match self.infer(node.child_by_field_name("function")?, depth + 1)? {
                Type::Class { module, qualname } => {
                    self.constructor(&module, &qualname)?;
                    Some(Type::Instance { module, qualname })
                }
                Type::Function {
                    module, qualname, ..
                } => self.return_type(&module, &qualname, false),
                _ => None,
            },
            "await" => {
                let call = node.named_child(0).filter(|child| child.kind() == "call")?;
                match self.infer(call.child_by_field_name("function")?, depth + 1)? {
                    Type::Function {
                        module, qualname, ..
                    } => self.return_type(&module, &qualname, true),
                    _ => None,
                }
            }
            "parenthesized_expression" => self.infer(node.named_child(0)?, depth + 1),
            // `a if condition else b` and `a or b` are one of their operands.
            "conditional_expression" => {
                let mut cursor = node.walk();
                let operands: Vec<Node> = node.named_children(&mut cursor).collect();
                let [first, _, last] = operands.as_slice() else {
                    return None;
                };
                self.either(*first, *last, depth)
            }
            "boolean_operator"
                if node
                    .child_by_field_name("operator")
                    .is_some_and(|operator| operator.kind() == "or") =>
            {
                let left = node.child_by_field_name("left")?;
                let right = node.child_by_field_name("right")?;
                self.either(left, right, depth)
            }
            _ => None,
        }
    }

    /// The type of a value that is `left` or `right`: their union, when both are instances.
    fn either(&self, left: Node, right: Node, depth: usize) -> Option<Type> {
        let mut alternatives = Vec::new();
        for side in [left, right] {
            match self.infer(side, depth + 1)? {
                Type::Union(types) => alternatives.extend(types),
                instance @ Type::Instance { .. } => alternatives.push(instance),
                other if left == side && self.infer(right, depth + 1) == Some(other.clone()) => {
                    return Some(other);
                }
                _ => return None,
            }
        }
        let mut unique: Vec<Type> = Vec::new();
        for alternative in alternatives {
            if !unique.contains(&alternative) {
                unique.push(alternative);
            }
        }
        match unique.len() {
            1 => unique.pop(),
            _ => Some(Type::Union(unique)),
        }
    }

    fn infer_name(&self, node: Node, depth: usize) -> Option<Type> {
        let name = self.text(node);
        let scope_index = self.scope_of(node);
        let Resolution::Scope(found_scope) = self.scopes.resolve(name, scope_index) else {
            return None;
        };
        let scope = &self.scopes.scopes[found_scope];
        let bindings = scope.bindings.get(name)?;
        if bindings.is_empty() || scope.nonlocals.contains(name) {
            return None;
        }
        if bindings.len() > 1 {
            let all_functions = bindings
                .iter()
                .all(|binding| matches!(binding.kind, BindingKind::Function { .. }));
            if scope.kind == ScopeKind::Module && all_functions {
                // Overloads (or conditional definitions) of one function: the index decides.
                self.this_module.as_ref()?;
                return self
                    .symbol_type(resolve_name(self.modules, self.module_name, name)?, false);
            }
            if scope.kind == ScopeKind::Module {
                // The same import made twice (again under `if __name__ == "__main__":`).
                let mut imported: Option<Type> = None;
                for binding in bindings {
                    if !matches!(binding.kind, BindingKind::Import { .. }) {
                        return None;
                    }
                    let ty = self.binding_type(name, found_scope, binding, depth)?;
                    if imported.as_ref().is_some_and(|previous| previous != &ty) {
                        return None;
                    }
                    imported = Some(ty);
                }
                return imported;
            }
            if bindings.len() > 8 {
                return None;
            }
            // Every binding that can reach the read must give the same type: those before it, and
            // those after it inside a loop around it (a read from a nested scope sees them all).
            let loops = if found_scope == scope_index {
                self.enclosing_loops(node, scope)
            } else {
                Vec::new()
            };
            let reaching: Vec<&Binding> = bindings
                .iter()
                .filter(|binding| {
                    // `url = url.copy_with(...)`: the assignment does not reach its own value.
                    let in_own_value = matches!(
                        binding.kind,
                        BindingKind::Assignment { value: Some((start, end)), .. }
                            if start <= node.start_byte() && node.end_byte() <= end
                    );
                    !in_own_value
                        && (found_scope != scope_index
                            || binding.start < node.start_byte()
                            || loops
                                .iter()
                                .any(|&(start, end)| start <= binding.start && binding.start < end))
                })
                .collect();
            // The last assignment before the read in a block around it certainly ran: the
            // bindings before it no longer reach (`url = URL(url)` replaces the parameter).
            let dominating = (found_scope == scope_index)
                .then(|| {
                    reaching
                        .iter()
                        .filter(|binding| binding.start < node.start_byte())
                        .filter(|binding| self.dominates(binding.start, node))
                        .map(|binding| binding.start)
                        .max()
                })
                .flatten();
            let reaching = reaching
                .into_iter()
                .filter(|binding| dominating.is_none_or(|start| binding.start >= start));
            let mut found: Option<Type> = None;
            for binding in reaching {
                let ty = self.binding_type(name, found_scope, binding, depth)?;
                if found.as_ref().is_some_and(|previous| previous != &ty) {
                    return None;
                }
                found = Some(ty);
            }
            return found;
        }
        if scope.kind == ScopeKind::Module {
            self.this_module.as_ref()?;
            return self.symbol_type(resolve_name(self.modules, self.module_name, name)?, false);
        }
        self.binding_type(name, found_scope, &bindings[0], depth)
    }

    /// Whether the statement that binds a name at `binding_start` runs before `read` whenever
    /// `read` runs: it ends before the read, in a block that holds the read.
    fn dominates(&self, binding_start: usize, read: Node) -> bool {
        let root = self.spliced.tree.root_node();
        let Some(mut statement) = root.descendant_for_byte_range(binding_start, binding_start)
        else {
            return false;
        };
        while let Some(parent) = statement.parent() {
            if matches!(parent.kind(), "block" | "module") {
                return statement.end_byte() <= read.start_byte()
                    && parent.start_byte() <= read.start_byte()
                    && read.end_byte() <= parent.end_byte();
            }
            statement = parent;
        }
        false
    }

    /// The byte ranges of the `for` and `while` statements around `node` inside `scope`.
    fn enclosing_loops(&self, node: Node, scope: &super::names::Scope) -> Vec<(usize, usize)> {
        path_to(
            self.spliced.tree.root_node(),
            node.start_byte(),
            node.end_byte(),
        )
        .into_iter()
        .filter(|ancestor| ancestor.start_byte() > scope.start)
        .filter(|ancestor| matches!(ancestor.kind(), "for_statement" | "while_statement"))
        .map(|ancestor| (ancestor.start_byte(), ancestor.end_byte()))
        .collect()
    }

    /// The type one binding of a local or parameter gives a name.
    fn binding_type(
        &self,
        name: &str,
        scope_index: usize,
        binding: &Binding,
        depth: usize,
    ) -> Option<Type> {
        let scope = &self.scopes.scopes[scope_index];
        let found = scope_index;
        // An `isinstance` test on the name may narrow it to a subclass with more members.
        let scope_text = self
            .spliced
            .text
            .get(scope.start..scope.end.min(self.spliced.text.len()))
            .unwrap_or("");
        if scope_text.contains(&format!("isinstance({name},")) {
            return None;
        }
        match &binding.kind {
            BindingKind::Parameter {
                index,
                annotation,
                star,
            } => {
                if *star {
                    return None;
                }
                if *index == 0 && scope.kind == ScopeKind::Function {
                    if let Some(receiver) = self.receiver_type(found) {
                        return receiver;
                    }
                }
                let (start, end) = (*annotation)?;
                self.annotation_type(self.module_name, self.spliced.text.get(start..end)?)
            }
            BindingKind::Assignment { value, annotation } => {
                if let Some((start, end)) = annotation {
                    return self
                        .annotation_type(self.module_name, self.spliced.text.get(*start..*end)?);
                }
                let (start, end) = (*value)?;
                let value = self
                    .spliced
                    .tree
                    .root_node()
                    .descendant_for_byte_range(start, end)?;
                if value.start_byte() != start || value.end_byte() != end {
                    return None;
                }
                // A call of a class or a function, or an alias of a module, class or function.
                self.infer(value, depth + 1)
            }
            BindingKind::ExceptAs {
                class: (start, end),
            } => {
                let class = self
                    .spliced
                    .tree
                    .root_node()
                    .descendant_for_byte_range(*start, *end)?;
                match self.infer(class, depth + 1)? {
                    Type::Class { module, qualname } => Some(Type::Instance { module, qualname }),
                    _ => None,
                }
            }
            BindingKind::Import { module, name } => {
                let absolute = self.absolute_module(module)?;
                match name {
                    Some(name) => {
                        self.symbol_type(resolve_name(self.modules, &absolute, name)?, false)
                    }
                    None => {
                        let top = absolute.split('.').next().unwrap_or(&absolute).to_string();
                        self.modules.module(&top).map(|_| Type::Module(top))
                    }
                }
            }
            BindingKind::Other => self.target_type(binding.start, depth + 1),
            BindingKind::Function { .. } | BindingKind::Class { .. } => None,
        }
    }

    /// The type of the first parameter of a method: the instance (or the class for a
    /// classmethod). `Some(None)` when the function is a method but its receiver is unknowable.
    fn receiver_type(&self, function_scope: usize) -> Option<Option<Type>> {
        let function = &self.scopes.scopes[function_scope];
        let class_scope = function.parent?;
        if self.scopes.scopes[class_scope].kind != ScopeKind::Class {
            return None;
        }
        let decorators = &function.decorators;
        if decorators.iter().any(|d| d.ends_with("staticmethod")) {
            return None;
        }
        // Other decorators change what the method is from outside, not what `self` is inside it.
        let Some(qualname) = self.class_qualname(class_scope) else {
            return Some(None);
        };
        let module = self.module_name.to_string();
        self.this_module.as_ref()?;
        Some(Some(
            if decorators.iter().any(|d| d.ends_with("classmethod")) {
                Type::Class { module, qualname }
            } else {
                Type::Instance { module, qualname }
            },
        ))
    }

    /// `Outer.Inner` for a class scope nested only in classes and the module.
    fn class_qualname(&self, class_scope: usize) -> Option<String> {
        let mut parts = Vec::new();
        let mut current = Some(class_scope);
        while let Some(index) = current {
            let scope = &self.scopes.scopes[index];
            match scope.kind {
                ScopeKind::Class => parts.push(scope.name),
                ScopeKind::Module => break,
                _ => return None,
            }
            current = scope.parent;
        }
        parts.reverse();
        Some(parts.join("."))
    }

    fn absolute_module(&self, written: &str) -> Option<String> {
        let level = written.chars().take_while(|&c| c == '.').count();
        if level == 0 {
            return Some(written.to_string());
        }
        let is_package = self
            .this_module
            .as_ref()
            .is_some_and(|module| module.is_package);
        resolve_relative(self.module_name, is_package, level, &written[level..])
    }

    fn symbol_type(&self, symbol: Symbol, bound: bool) -> Option<Type> {
        match symbol {
            Symbol::Module(module) => self.modules.module(&module).map(|_| Type::Module(module)),
            Symbol::Class { module, qualname } => Some(Type::Class { module, qualname }),
            Symbol::Function { module, qualname } => Some(Type::Function {
                module,
                qualname,
                bound,
            }),
            Symbol::Variable { module, name } if !name.contains('.') => {
                // A module-level variable declared with an annotation has that type.
                let info = self.modules.module(&module)?;
                let mut declared = info
                    .variables
                    .iter()
                    .filter(|variable| variable.name == name);
                let variable = declared.next()?;
                if declared.next().is_some() {
                    return None;
                }
                let declared = self.annotation_type(&module, variable.annotation.as_deref()?)?;
                // The declaration is trusted, as type checkers trust it, unless the value is
                // certainly something else: a call of another class known for certain. A proxy
                // that forwards attributes (`request: Request = LocalProxy(...)`) is not known
                // for certain, so the declaration says what the name stands for.
                let agrees = match variable.value.as_deref().map(str::trim) {
                    None | Some("None") => true,
                    Some(value) => value
                        .strip_suffix(')')
                        .and_then(|value| value.split_once('('))
                        .and_then(|(callee, _)| self.callee_result(&module, "", callee.trim()))
                        .is_none_or(|from_value| from_value == declared),
                };
                agrees.then_some(declared)
            }
            Symbol::Variable { .. } | Symbol::External(_) | Symbol::Unknown => None,
        }
    }

    /// An annotation that names indexed classes (possibly in `Optional[...]`, `Union[...]` or
    /// `A | B | None`) means an instance of one of them.
    fn annotation_type(&self, module: &str, annotation: &str) -> Option<Type> {
        let mut alternatives = Vec::new();
        self.annotation_alternatives(module, annotation, &mut alternatives, 0)?;
        alternatives.dedup();
        match alternatives.len() {
            0 => None,
            1 => alternatives.pop(),
            _ => Some(Type::Union(alternatives)),
        }
    }

    fn annotation_alternatives(
        &self,
        module: &str,
        annotation: &str,
        found: &mut Vec<Type>,
        depth: usize,
    ) -> Option<()> {
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        let annotation = annotation
            .trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .trim();
        for part in split_top_level(annotation, '|') {
            let part = part.trim();
            if part == "None" {
                continue;
            }
            let (base, inner) = match part.split_once('[') {
                Some((base, rest)) => (base.trim(), Some(rest.strip_suffix(']')?)),
                None => (part, None),
            };
            let resolved = match resolve_dotted(self.modules, module, base) {
                Some(symbol) => symbol,
                None if BUILTIN_TYPES.contains(&base) => {
                    found.push(Type::Instance {
                        module: "builtins".to_string(),
                        qualname: base.to_string(),
                    });
                    continue;
                }
                None => return None,
            };
            match resolved {
                Symbol::Class { module, qualname } => {
                    found.push(Type::Instance { module, qualname })
                }
                Symbol::External(dotted) => {
                    let (prefix, name) = dotted.rsplit_once('.').unwrap_or(("", &dotted));
                    if matches!(prefix, "typing" | "typing_extensions") {
                        if let Some(builtin) = typing_alias_of_builtin(name) {
                            found.push(Type::Instance {
                                module: "builtins".to_string(),
                                qualname: builtin.to_string(),
                            });
                            continue;
                        }
                    }
                    let inner = inner?;
                    match dotted.as_str() {
                        "typing.Optional" | "typing_extensions.Optional" => {
                            self.annotation_alternatives(module, inner, found, depth + 1)?
                        }
                        "typing.Union" | "typing_extensions.Union" => {
                            for alternative in split_top_level(inner, ',') {
                                self.annotation_alternatives(
                                    module,
                                    alternative,
                                    found,
                                    depth + 1,
                                )?;
                            }
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
        Some(())
    }

    /// The type of one attribute variable as the index recorded it, from its annotation or from a
    /// value that calls a class, a function or a method of the owner class (`self.make()`) whose
    /// return annotation names an indexed class.
    fn variable_type(
        &self,
        module: &str,
        owner_class: &str,
        variable: &VariableInfo,
    ) -> Option<Type> {
        let key = (
            module.to_string(),
            owner_class.to_string(),
            variable.name.clone(),
            variable.line,
        );
        if let Some(known) = self.variable_types.borrow().get(&key) {
            return known.clone();
        }
        let ty = self.variable_type_uncached(module, owner_class, variable);
        self.variable_types.borrow_mut().insert(key, ty.clone());
        ty
    }

    fn variable_type_uncached(
        &self,
        module: &str,
        owner_class: &str,
        variable: &VariableInfo,
    ) -> Option<Type> {
        if let Some(annotation) = &variable.annotation {
            return self.annotation_type(module, annotation);
        }
        let value = variable.value.as_deref()?.trim();
        // The index shortens long values with `...`: a call cut there is still the whole value
        // when its bracket has not closed yet.
        if let Some(shortened) = value.strip_suffix("...") {
            let open = shortened.find('(')?;
            let mut depth = 0usize;
            let mut quote: Option<char> = None;
            for character in shortened[open..].chars() {
                if let Some(open_quote) = quote {
                    if character == open_quote {
                        quote = None;
                    }
                    continue;
                }
                match character {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return None;
                        }
                    }
                    '"' | '\'' => quote = Some(character),
                    _ => {}
                }
            }
            return self.callee_result(module, owner_class, shortened[..open].trim());
        }
        // A whole value: parse it as an expression.
        let tree = crate::store::parse_python(value, None)?;
        let root = tree.root_node();
        if root.has_error() || root.named_child_count() != 1 {
            return None;
        }
        let statement = root
            .named_child(0)
            .filter(|node| node.kind() == "expression_statement")?;
        let expression = statement.named_child(0)?;
        let assigning_method = class_info(self.modules, module, owner_class)?
            .methods
            .iter()
            .filter(|method| method.line <= variable.line)
            .max_by_key(|method| method.line)
            .cloned();
        let mut alternatives = Vec::new();
        self.value_alternatives(
            module,
            owner_class,
            assigning_method.as_ref(),
            value,
            expression,
            &mut alternatives,
            0,
        )?;
        alternatives.dedup();
        match alternatives.len() {
            0 => None,
            1 => alternatives.pop(),
            _ => Some(Type::Union(alternatives)),
        }
    }

    /// The types an attribute's value expression may have (`None` dropped): calls of classes and
    /// functions, parameters of the method that assigns it, and `a if c else b` / `a or b` of those.
    #[allow(clippy::too_many_arguments)]
    fn value_alternatives(
        &self,
        module: &str,
        owner_class: &str,
        method: Option<&FunctionInfo>,
        source: &str,
        node: Node,
        found: &mut Vec<Type>,
        depth: usize,
    ) -> Option<()> {
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        let text = source.get(node.start_byte()..node.end_byte())?;
        match node.kind() {
            "none" => Some(()),
            "conditional_expression" => {
                // `a if condition else b`: the first and the last operand.
                let operands: Vec<Node> = {
                    let mut cursor = node.walk();
                    node.named_children(&mut cursor).collect()
                };
                if operands.len() != 3 {
                    return None;
                }
                self.value_alternatives(
                    module,
                    owner_class,
                    method,
                    source,
                    operands[0],
                    found,
                    depth + 1,
                )?;
                self.value_alternatives(
                    module,
                    owner_class,
                    method,
                    source,
                    operands[2],
                    found,
                    depth + 1,
                )
            }
            "boolean_operator"
                if node
                    .child_by_field_name("operator")
                    .is_some_and(|op| op.kind() == "or") =>
            {
                self.value_alternatives(
                    module,
                    owner_class,
                    method,
                    source,
                    node.child_by_field_name("left")?,
                    found,
                    depth + 1,
                )?;
                self.value_alternatives(
                    module,
                    owner_class,
                    method,
                    source,
                    node.child_by_field_name("right")?,
                    found,
                    depth + 1,
                )
            }
            "parenthesized_expression" => self.value_alternatives(
                module,
                owner_class,
                method,
                source,
                node.named_child(0)?,
                found,
                depth + 1,
            ),
            "identifier" => {
                let parameter = method?.params.iter().find(|param| param.name == text)?;
                if matches!(
                    parameter.kind,
                    ParamKind::VarPositional | ParamKind::VarKeyword
                ) {
                    return None;
                }
                self.annotation_alternatives(module, parameter.annotation.as_deref()?, found, 0)
            }
            "call" => {
                let callee = node.child_by_field_name("function")?;
                if !matches!(callee.kind(), "identifier" | "attribute") {
                    return None;
                }
                let callee_text = source.get(callee.start_byte()..callee.end_byte())?;
                found.push(self.callee_result(module, owner_class, callee_text)?);
                Some(())
            }
            _ => None,
        }
    }

    /// What calling `callee` (a dotted name as written in `module`, or `self.method`) gives.
    fn callee_result(&self, module: &str, owner_class: &str, callee: &str) -> Option<Type> {
        let symbol = match callee.strip_prefix("self.") {
            Some(method) if !method.contains('.') => {
                match self.find_member(module, owner_class, method, 0)? {
                    Found::Method {
                        module, qualname, ..
                    } => Symbol::Function { module, qualname },
                    _ => return None,
                }
            }
            Some(_) => return None,
            None => resolve_dotted(self.modules, module, callee)?,
        };
        match symbol {
            Symbol::Class { module, qualname } => {
                self.constructor(&module, &qualname)?;
                Some(Type::Instance { module, qualname })
            }
            Symbol::Function { module, qualname } => self.return_type(&module, &qualname, false),
            _ => None,
        }
    }

    /// Finds one member of a class: in the class itself, then in its indexed bases, left to right
    /// and depth first. `None` when it is not found before an unknowable base, or the class has a
    /// decorator that may replace it.
    fn find_member(&self, module: &str, qualname: &str, name: &str, depth: usize) -> Option<Found> {
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        let class = class_info(self.modules, module, qualname)?;
        if class
            .decorators
            .iter()
            .any(|d| !self.class_decorator_is_transparent(module, d))
        {
            return None;
        }
        if let Some(method) = class.methods.iter().find(|method| method.name == name) {
            return Some(Found::Method {
                module: module.to_string(),
                qualname: format!("{qualname}.{name}"),
                kind: method.kind,
                returns: method.returns.clone(),
            });
        }
        if class.classes.iter().any(|nested| nested.name == name) {
            return Some(Found::Nested {
                module: module.to_string(),
                qualname: format!("{qualname}.{name}"),
            });
        }
        let variables: Vec<VariableInfo> = class
            .attributes
            .iter()
            .chain(&class.instance_attributes)
            .filter(|v| v.name == name)
            .cloned()
            .collect();
        if !variables.is_empty() {
            return Some(Found::Variables {
                module: module.to_string(),
                owner_class: qualname.to_string(),
                variables,
            });
        }
        if class.dynamic_members {
            return None;
        }
        for base in &class.bases {
            if base.contains('=') {
                continue;
            }
            match resolve_dotted(self.modules, module, base)? {
                Symbol::Class {
                    module: base_module,
                    qualname: base_qualname,
                } => {
                    if let Some(found) =
                        self.find_member(&base_module, &base_qualname, name, depth + 1)
                    {
                        return Some(found);
                    }
                    // Not found there: the base's members were all known only if it resolved fully.
                    self.member_names(&base_module, &base_qualname, depth + 1)?;
                }
                _ => return None,
            }
        }
        None
    }

    fn member_type(&self, object: &Type, attribute: &str) -> Option<Type> {
        let (module, qualname, instance) = match object {
            Type::Module(module) => {
                return self.symbol_type(
                    resolve_attribute(self.modules, &Symbol::Module(module.clone()), attribute)?,
                    false,
                )
            }
            Type::Class { module, qualname } => (module, qualname, false),
            Type::Instance { module, qualname } => (module, qualname, true),
            Type::Union(alternatives) => {
                // The same type whichever alternative it is.
                let mut found: Option<Type> = None;
                for alternative in alternatives {
                    let ty = self.member_type(alternative, attribute)?;
                    if found.as_ref().is_some_and(|previous| previous != &ty) {
                        return None;
                    }
                    found = Some(ty);
                }
                return found;
            }
            Type::Function { .. } => return None,
        };
        match self.find_member(module, qualname, attribute, 0)? {
            Found::Method {
                module,
                qualname,
                kind,
                returns,
            } => match kind {
                FunctionKind::Property if instance => {
                    self.annotation_type(&module, returns.as_deref()?)
                }
                FunctionKind::Property => None,
                kind => Some(Type::Function {
                    module,
                    qualname,
                    bound: match kind {
                        FunctionKind::StaticMethod => false,
                        FunctionKind::ClassMethod => true,
                        _ => instance,
                    },
                }),
            },
            Found::Nested { module, qualname } => Some(Type::Class { module, qualname }),
            Found::Variables {
                module,
                owner_class,
                variables,
            } => {
                if !instance {
                    return None;
                }
                // Every assignment of the attribute in the class that owns it must agree.
                let mut found: Option<Type> = None;
                for variable in &variables {
                    let ty = self.variable_type(&module, &owner_class, variable)?;
                    if found.as_ref().is_some_and(|previous| previous != &ty) {
                        return None;
                    }
                    found = Some(ty);
                }
                // A descriptor (a class with `__get__`) gives what its `__get__` returns.
                if let Some(Type::Instance { module, qualname }) = &found {
                    let descriptor = self
                        .member_names(module, qualname, 0)
                        .is_none_or(|members| members.contains("__get__"));
                    if descriptor {
                        return None;
                    }
                }
                found
            }
        }
    }

    /// Whether a class decorator returns the class it is given: the standard ones that add only
    /// dunders, or a function of the index whose every definition is annotated to return a class
    /// type (`-> Type[T]`), as typed decorators are.
    fn class_decorator_is_transparent(&self, module: &str, decorator: &str) -> bool {
        let callee = decorator.split('(').next().unwrap_or(decorator).trim();
        let last = callee.rsplit('.').next().unwrap_or(callee);
        if matches!(
            last,
            "dataclass" | "total_ordering" | "final" | "runtime_checkable" | "unique"
        ) {
            return true;
        }
        let Some(Symbol::Function { module, qualname }) =
            resolve_dotted(self.modules, module, callee)
        else {
            return false;
        };
        let Some(info) = self.modules.module(&module) else {
            return false;
        };
        let mut definitions = info
            .functions
            .iter()
            .filter(|function| function.name == qualname)
            .peekable();
        definitions.peek().is_some()
            && definitions.all(|function| {
                function
                    .returns
                    .as_deref()
                    .is_some_and(|returns| returns.contains("Type[") || returns.contains("type["))
            })
    }

    /// The members of a class when every class on its way is plain (no decorator that may add
    /// members).
    fn plain_members(&self, module: &str, qualname: &str) -> Option<Members> {
        let members = class_members(self.modules, module, qualname)?;
        for (class_module, class_qualname) in &members.classes {
            let class = class_info(self.modules, class_module, class_qualname)?;
            if class
                .decorators
                .iter()
                .any(|d| !self.class_decorator_is_transparent(class_module, d))
            {
                return None;
            }
        }
        Some(members)
    }

    /// The names of every member of a class, also for classes built on `typing.NamedTuple`
    /// (whose members the index cannot list: the tuple's and the named tuple's methods).
    fn member_names(&self, module: &str, qualname: &str, depth: usize) -> Option<HashSet<String>> {
        if module == "builtins" {
            return Some(
                external_members(&format!("builtins.{qualname}"))?
                    .iter()
                    .map(|name| name.to_string())
                    .collect(),
            );
        }
        if let Some(members) = self.plain_members(module, qualname) {
            return Some(members.by_name.keys().cloned().collect());
        }
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        let class = class_info(self.modules, module, qualname)?;
        if class.dynamic_members
            || class
                .decorators
                .iter()
                .any(|d| !self.class_decorator_is_transparent(module, d))
        {
            return None;
        }
        let mut names: HashSet<String> = HashSet::new();
        names.extend(class.methods.iter().map(|method| method.name.clone()));
        names.extend(
            class
                .attributes
                .iter()
                .map(|attribute| attribute.name.clone()),
        );
        names.extend(
            class
                .instance_attributes
                .iter()
                .map(|attribute| attribute.name.clone()),
        );
        names.extend(class.classes.iter().map(|nested| nested.name.clone()));
        names.extend(class.slots.iter().flatten().cloned());
        for base in &class.bases {
            let base = base.trim();
            let table = match resolve_dotted(self.modules, module, base) {
                Some(Symbol::Class {
                    module: base_module,
                    qualname: base_qualname,
                }) => {
                    names.extend(self.member_names(&base_module, &base_qualname, depth + 1)?);
                    continue;
                }
                Some(Symbol::External(dotted)) => external_members(&dotted)?,
                None => external_members(&format!(
                    "builtins.{}",
                    base.split('[').next().unwrap_or(base)
                ))?,
                _ => return None,
            };
            names.extend(table.iter().map(|name| name.to_string()));
        }
        Some(names)
    }

    /// The `__init__` of a class whose construction is plain: no `__new__` and no metaclass of its
    /// own in the indexed classes on its way (external bases construct instances of the class).
    /// `None` when calling the class may give something else than an instance of it;
    /// `Some(None)` when it gives an instance but the signature is not known (`__init__` comes
    /// from an external base, or a decorator such as `dataclass` writes one).
    fn constructor(
        &self,
        module: &str,
        qualname: &str,
    ) -> Option<Option<(FunctionInfo, String, String)>> {
        let decorated = self.plain_construction(module, qualname, 0)?;
        if decorated {
            return Some(None);
        }
        let Some(Found::Method {
            module, qualname, ..
        }) = self.find_member(module, qualname, "__init__", 0)
        else {
            return Some(None);
        };
        let owner_class = qualname
            .rsplit_once('.')
            .map_or(String::new(), |(owner, _)| owner.to_string());
        Some(
            self.function_info(&module, &qualname)
                .map(|info| (info, module, owner_class)),
        )
    }

    /// Whether calling the class certainly builds an instance of it; `Some(true)` when some class
    /// on its way has a decorator (which may write the constructor).
    fn plain_construction(&self, module: &str, qualname: &str, depth: usize) -> Option<bool> {
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        let class = class_info(self.modules, module, qualname)?;
        if class.methods.iter().any(|method| method.name == "__new__")
            || class
                .decorators
                .iter()
                .any(|d| !self.class_decorator_is_transparent(module, d))
        {
            return None;
        }
        let mut decorated = !class.decorators.is_empty();
        for base in &class.bases {
            if let Some((keyword, _)) = base.split_once('=') {
                if keyword.trim() == "metaclass" {
                    return None;
                }
                continue;
            }
            match resolve_dotted(self.modules, module, base) {
                Some(Symbol::Class {
                    module: base_module,
                    qualname: base_qualname,
                }) => {
                    decorated |=
                        self.plain_construction(&base_module, &base_qualname, depth + 1)?;
                }
                Some(Symbol::External(_)) => {}
                None if base.trim() == "object" || super::names::is_builtin(base.trim()) => {}
                _ => return None,
            }
        }
        Some(decorated)
    }

    /// What calling a function gives, from its return annotation when that names an indexed class.
    fn return_type(&self, module: &str, qualname: &str, awaited: bool) -> Option<Type> {
        if let Some(function) = self.function_info(module, qualname) {
            if function
                .decorators
                .iter()
                .any(|d| !is_transparent_decorator(d))
                || function.is_async != awaited
            {
                return None;
            }
            return self.annotation_type(module, function.returns.as_deref()?);
        }
        // Overloads: whichever is chosen, the result is one of their return types.
        let definitions = self.definitions(module, qualname)?;
        let overloads: Vec<&FunctionInfo> = definitions
            .iter()
            .filter(|function| function.decorators.iter().any(|d| d.ends_with("overload")))
            .collect();
        if overloads.is_empty() || definitions.len() - overloads.len() > 1 {
            return None;
        }
        let mut alternatives = Vec::new();
        for function in overloads {
            if function.is_async != awaited {
                return None;
            }
            self.annotation_alternatives(
                module,
                function.returns.as_deref()?,
                &mut alternatives,
                0,
            )?;
        }
        alternatives.dedup();
        match alternatives.len() {
            0 => None,
            1 => alternatives.pop(),
            _ => Some(Type::Union(alternatives)),
        }
    }

    /// Every definition of a module function or a method (`Class.method`).
    fn definitions(&self, module: &str, qualname: &str) -> Option<Vec<FunctionInfo>> {
        match qualname.rsplit_once('.') {
            Some((class, name)) => {
                let class = class_info(self.modules, module, class)?;
                Some(
                    class
                        .methods
                        .iter()
                        .filter(|method| method.name == name)
                        .cloned()
                        .collect(),
                )
            }
            None => {
                let info = self.modules.module(module)?;
                Some(
                    info.functions
                        .iter()
                        .filter(|function| function.name == qualname)
                        .cloned()
                        .collect(),
                )
            }
        }
    }

    // The checks.

    fn check_attribute(&mut self, node: Node) {
        let (Some(object), Some(attribute)) = (
            node.child_by_field_name("object"),
            node.child_by_field_name("attribute"),
        ) else {
            return;
        };
        let name = self.text(attribute).to_string();
        if name.starts_with("__") && name.ends_with("__") {
            return;
        }
        // A mixin's methods read what the classes it is mixed into provide (pylint's
        // `ignore-mixin-members`, with its default pattern: a class named `...Mixin`).
        if let Some(class_scope) = self.receiver_class(object) {
            if self.scopes.scopes[class_scope]
                .name
                .to_ascii_lowercase()
                .ends_with("mixin")
            {
                return;
            }
        }
        // The function around the read (or the module), where guards and narrowing are looked for.
        let scope = super::path_to(
            self.spliced.tree.root_node(),
            node.start_byte(),
            node.end_byte(),
        )
        .into_iter()
        .rev()
        .find(|ancestor| ancestor.kind() == "function_definition")
        .unwrap_or_else(|| self.spliced.tree.root_node());
        // `hasattr(x, "name")` there: the author knows `name` may be missing.
        let object_text = self.text(object).to_string();
        let scope_text = self.text(scope);
        if [
            format!("hasattr({object_text}, \"{name}\")"),
            format!("hasattr({object_text}, '{name}')"),
        ]
        .iter()
        .any(|guard| scope_text.contains(guard.as_str()))
        {
            return;
        }
        // An `isinstance` test on an attribute path (`isinstance(self.kind, Sub)`) may narrow it
        // to a subclass with more members, as one on a plain name does: the member must then be
        // missing from the declared type and from every class tested.
        let mut narrowed = Vec::new();
        if object.kind() == "attribute" {
            match self.narrowing_classes(scope, &object_text) {
                Some(classes) => narrowed = classes,
                None => return,
            }
        }
        let Some(mut object_type) = self.infer(object, 0) else {
            return;
        };
        if !narrowed.is_empty() {
            let mut alternatives = match object_type {
                Type::Union(alternatives) => alternatives,
                other => vec![other],
            };
            for class in narrowed {
                if !alternatives.contains(&class) {
                    alternatives.push(class);
                }
            }
            object_type = Type::Union(alternatives);
        }
        let (exists, owner, available): (bool, String, Vec<String>) = match &object_type {
            Type::Module(module) => {
                let Some(info) = self.modules.module(module) else {
                    return;
                };
                if info.has_errors || info.has_getattr {
                    return;
                }
                let exists =
                    resolve_attribute(self.modules, &Symbol::Module(module.clone()), &name)
                        .is_some();
                (exists, format!("module `{module}`"), module_names(&info))
            }
            Type::Class { module, qualname } | Type::Instance { module, qualname } => {
                let Some(members) = self.member_names(module, qualname, 0) else {
                    return;
                };
                if self.assigned_counts.contains_key(&name) {
                    return;
                }
                let class_object_extra = matches!(object_type, Type::Class { .. })
                    && matches!(name.as_str(), "mro" | "register");
                let sunder = name.len() > 2 && name.starts_with('_') && name.ends_with('_');
                let exists = members.contains(&name)
                    || class_object_extra
                    || (sunder && members.contains(SUNDER_MARKER));
                let what = if matches!(object_type, Type::Class { .. }) {
                    "class"
                } else {
                    "instance of"
                };
                (
                    exists,
                    format!("{what} `{qualname}`"),
                    members.into_iter().collect(),
                )
            }
            Type::Union(alternatives) => {
                if self.assigned_counts.contains_key(&name) {
                    return;
                }
                let mut exists = false;
                let mut available = Vec::new();
                let mut owners = Vec::new();
                for alternative in alternatives {
                    let Type::Instance { module, qualname } = alternative else {
                        return;
                    };
                    let Some(members) = self.member_names(module, qualname, 0) else {
                        return;
                    };
                    exists |= members.contains(&name);
                    available.extend(members.into_iter().filter(|member| member != SUNDER_MARKER));
                    owners.push(qualname.clone());
                }
                (
                    exists,
                    format!("none of `{}`", owners.join("` | `")),
                    available,
                )
            }
            Type::Function { .. } => return,
        };
        if exists
            || self.line_ignores_type_errors(attribute.start_byte())
            || !self
                .reported
                .insert((attribute.start_byte(), attribute.end_byte()))
        {
            return;
        }
        let line = self.spliced.line_of(attribute.start_byte());
        let message = match owner.strip_prefix("none of ") {
            Some(owners) => format!("{}: none of {owners} has an attribute `{name}`", line + 1),
            None => format!("{}: {owner} has no attribute `{name}`", line + 1),
        };
        self.push_member(message, name, &available, attribute);
    }

    /// Reports an unknown member at `attribute`, with the closest of the `available` names.
    fn push_member(
        &mut self,
        mut message: String,
        name: String,
        available: &[String],
        attribute: Node,
    ) {
        let suggestions = closest_names(&name, available.iter().map(String::as_str));
        if !suggestions.is_empty() {
            let listed: Vec<String> = suggestions.iter().map(|name| format!("`{name}`")).collect();
            message.push_str(&format!("; did you mean {}?", listed.join(" or ")));
        }
        let problem = self.spliced.problem(
            ProblemKind::UnknownMember,
            message,
            name,
            attribute.start_byte(),
            attribute.end_byte(),
        );
        self.problems.push(problem);
    }

    /// The instances that `isinstance(path, C)` or `isinstance(path, (C, D))` tests under `scope`
    /// narrow `path` to; `None` when a tested class is not known for certain.
    fn narrowing_classes(&self, scope: Node, path: &str) -> Option<Vec<Type>> {
        let scope_text = self.text(scope);
        if !scope_text.contains(&format!("isinstance({path},")) {
            return Some(Vec::new());
        }
        let mut classes = Vec::new();
        let mut stack = vec![scope];
        while let Some(node) = stack.pop() {
            let mut cursor = node.walk();
            stack.extend(node.named_children(&mut cursor));
            if stack.len() > 100_000 {
                return None;
            }
            if node.kind() != "call" {
                continue;
            }
            let (Some(function), Some(arguments)) = (
                node.child_by_field_name("function"),
                node.child_by_field_name("arguments"),
            ) else {
                continue;
            };
            if self.text(function) != "isinstance" {
                continue;
            }
            let mut cursor = arguments.walk();
            let parts: Vec<Node> = arguments
                .named_children(&mut cursor)
                .filter(|part| part.kind() != "comment")
                .collect();
            let [tested, tested_classes] = parts.as_slice() else {
                continue;
            };
            if self.text(*tested) != path {
                continue;
            }
            let listed: Vec<Node> = if tested_classes.kind() == "tuple" {
                let mut cursor = tested_classes.walk();
                tested_classes.named_children(&mut cursor).collect()
            } else {
                vec![*tested_classes]
            };
            for class in listed {
                match self.infer(class, 0)? {
                    Type::Class { module, qualname } => {
                        classes.push(Type::Instance { module, qualname })
                    }
                    _ => return None,
                }
            }
        }
        Some(classes)
    }

    /// `x.name = value` where `x` is an instance of a class known for certain that has no
    /// `name` and no `__setattr__`: setting a new attribute from outside the class. For `self`,
    /// see [`Checker::check_self_write`].
    fn check_write(&mut self, node: Node) {
        let (Some(object), Some(attribute)) = (
            node.child_by_field_name("object"),
            node.child_by_field_name("attribute"),
        ) else {
            return;
        };
        let name = self.text(attribute).to_string();
        if name.starts_with("__") && name.ends_with("__")
            || self.line_ignores_type_errors(attribute.start_byte())
        {
            return;
        }
        if let Some(class_scope) = self.receiver_class(object) {
            if matches!(self.infer(object, 0), Some(Type::Instance { .. })) {
                self.check_self_write(node, object, attribute, class_scope);
            }
            return;
        }
        // Set from outside elsewhere in the document too: a pattern of this code (for a whole
        // document, another place than this one; for a candidate, outside it).
        let whole_document = self.spliced.start == 0 && self.spliced.end >= self.spliced.text.len();
        let elsewhere = if whole_document {
            self.assigned_counts
                .get(&name)
                .is_some_and(|&count| count > 1)
        } else {
            self.assigned_outside.contains(&name)
        };
        if elsewhere {
            return;
        }
        let alternatives = match self.infer(object, 0) {
            Some(instance @ Type::Instance { .. }) => vec![instance],
            Some(Type::Union(alternatives)) => alternatives,
            _ => return,
        };
        let mut available = Vec::new();
        let mut owners = Vec::new();
        for alternative in &alternatives {
            let Type::Instance { module, qualname } = alternative else {
                return;
            };
            if module == "builtins" {
                return;
            }
            let Some(members) = self.member_names(module, qualname, 0) else {
                return;
            };
            if members.contains(&name) || members.contains("__setattr__") {
                return;
            }
            // Exceptions carry extra attributes by custom (`error.template_debug = ...`), and a
            // class without members of its own is a namespace (`class Empty: pass`).
            let is_exception = members.contains("with_traceback");
            let is_namespace = members
                .iter()
                .all(|member| member.starts_with("__") || member == SUNDER_MARKER);
            if is_exception || is_namespace {
                return;
            }
            available.extend(members.into_iter().filter(|member| member != SUNDER_MARKER));
            owners.push(qualname.clone());
        }
        if !self
            .reported
            .insert((attribute.start_byte(), attribute.end_byte()))
        {
            return;
        }
        let line = self.spliced.line_of(attribute.start_byte()) + 1;
        let owner = match owners.as_slice() {
            [one] => format!("instance of `{one}` has no attribute"),
            many => format!("none of `{}` has an attribute", many.join("` | `")),
        };
        let message = format!("{line}: {owner} `{name}`; setting a new one from outside the class");
        self.push_member(message, name, &available, attribute);
    }

    /// The class scope whose instance `object` is, when `object` is the first parameter of one of
    /// its methods (`self`).
    fn receiver_class(&self, object: Node) -> Option<usize> {
        if object.kind() != "identifier" {
            return None;
        }
        let name = self.text(object);
        // Also from a comprehension or lambda inside the method.
        let Resolution::Scope(function_scope) = self.scopes.resolve(name, self.scope_of(object))
        else {
            return None;
        };
        let scope = &self.scopes.scopes[function_scope];
        if scope.kind != ScopeKind::Function {
            return None;
        }
        let binding = scope.bindings.get(name)?;
        let [Binding {
            kind: BindingKind::Parameter { index: 0, .. },
            ..
        }] = binding.as_slice()
        else {
            return None;
        };
        let Some(Some(Type::Instance { .. } | Type::Class { .. })) =
            self.receiver_type(function_scope)
        else {
            return None;
        };
        scope.parent
    }

    /// `self.name = value` in a method, where no member `name` exists and nothing reads it, while
    /// a similar `self.other` that the class reads is set nowhere: a misspelt attribute (the
    /// candidate sets `self.scheme_all` and the class reads `self.scheme`).
    fn check_self_write(&mut self, node: Node, object: Node, attribute: Node, class_scope: usize) {
        let name = self.text(attribute).to_string();
        let Some(qualname) = self.class_qualname(class_scope) else {
            return;
        };
        let Some(members) = self.member_names(self.module_name, &qualname, 0) else {
            return;
        };
        if members.contains(&name) || members.contains("__setattr__") {
            return;
        }
        let receiver = self.text(object).to_string();
        let class = &self.scopes.scopes[class_scope];
        let Some(class_node) = self
            .spliced
            .tree
            .root_node()
            .descendant_for_byte_range(class.start, class.end)
        else {
            return;
        };
        // Every read of `<anything>.name` in the document, and the `self.other` reads of the class.
        let mut reads_name = false;
        let mut unset: Vec<(String, u32)> = Vec::new();
        let mut stack = vec![self.spliced.tree.root_node()];
        while let Some(current) = stack.pop() {
            if current.kind() == "attribute" && current != node {
                let (Some(read_object), Some(read_attribute)) = (
                    current.child_by_field_name("object"),
                    current.child_by_field_name("attribute"),
                ) else {
                    continue;
                };
                let read = self.text(read_attribute);
                let is_target = current.parent().is_some_and(|parent| {
                    matches!(parent.kind(), "assignment" | "augmented_assignment")
                        && parent.child_by_field_name("left") == Some(current)
                });
                if read == name && !is_target {
                    reads_name = true;
                    break;
                }
                let in_class = current.start_byte() >= class_node.start_byte()
                    && current.end_byte() <= class_node.end_byte();
                if in_class
                    && !is_target
                    && !self
                        .spliced
                        .touches_candidate(current.start_byte(), current.end_byte())
                    && self.text(read_object) == receiver
                    && !members.contains(read)
                    && !self.assigned_counts.contains_key(read)
                    && !(read.starts_with("__") && read.ends_with("__"))
                {
                    unset.push((
                        read.to_string(),
                        self.spliced.line_of(read_attribute.start_byte()) + 1,
                    ));
                }
            }
            let mut cursor = current.walk();
            stack.extend(current.children(&mut cursor));
            if stack.len() > 100_000 {
                return;
            }
        }
        if reads_name {
            return;
        }
        let similar = |other: &str| {
            (name.starts_with(other) || other.starts_with(name.as_str()))
                || !closest_names(&name, [other]).is_empty()
        };
        let Some((other, line_read)) = unset
            .into_iter()
            .filter(|(other, _)| similar(other))
            .min_by_key(|(other, line)| (strsim::damerau_levenshtein(&name, other), *line))
        else {
            return;
        };
        if !self
            .reported
            .insert((attribute.start_byte(), attribute.end_byte()))
        {
            return;
        }
        let line = self.spliced.line_of(attribute.start_byte()) + 1;
        let message = format!(
            "{line}: `{receiver}.{name}` is set here but never read, while `{receiver}.{other}`, read on line {line_read}, is set nowhere; did you mean `{other}`?"
        );
        self.push_member(message, name, &[], attribute);
    }

    fn check_call(&mut self, node: Node) {
        let (Some(function), Some(arguments)) = (
            node.child_by_field_name("function"),
            node.child_by_field_name("arguments"),
        ) else {
            return;
        };
        if let Some(definitions) = self.conditional_definitions(function) {
            // One of several definitions is called, whichever the condition chose: the call is
            // wrong only when it fits none of them.
            let display = self.text(function).to_string();
            let mut first_problem = None;
            for (info, module) in &definitions {
                match self.signature_problem(info, false, &display, module, node, arguments) {
                    Some(problem) => {
                        first_problem.get_or_insert(problem);
                    }
                    None => return,
                }
            }
            if let Some((kind, message, name, at)) = first_problem {
                self.push_call(kind, message, name, at);
            }
            return;
        }
        let targets: Vec<Type> = match self.infer(function, 0) {
            Some(callee @ (Type::Function { .. } | Type::Class { .. })) => vec![callee],
            Some(_) => return,
            None => {
                // A method of a union: the call must fail for every alternative that has it.
                let Some(Type::Union(alternatives)) = function
                    .child_by_field_name("object")
                    .filter(|_| function.kind() == "attribute")
                    .and_then(|object| self.infer(object, 0))
                else {
                    return;
                };
                let Some(attribute) = function.child_by_field_name("attribute") else {
                    return;
                };
                let attribute = self.text(attribute).to_string();
                alternatives
                    .iter()
                    .filter_map(|alternative| self.member_type(alternative, &attribute))
                    .filter(|ty| matches!(ty, Type::Function { .. }))
                    .collect()
            }
        };
        let mut first_problem = None;
        for target in targets.iter() {
            match self.call_problem(target, node, arguments) {
                Some(problem) => {
                    first_problem.get_or_insert(problem);
                }
                None => return,
            }
        }
        if let Some((kind, message, name, at)) = first_problem {
            self.push_call(kind, message, name, at);
        }
    }

    /// The definitions of a module-level function defined more than once without `@overload`
    /// (`if WIN: from ._win import f` / `else: def f(...)`), with their modules; `None` unless
    /// every binding of the name is a `def` or a `from ... import` of a function of the index.
    fn conditional_definitions(&self, function: Node) -> Option<Vec<(FunctionInfo, String)>> {
        if function.kind() != "identifier" {
            return None;
        }
        let name = self.text(function);
        let Resolution::Scope(found) = self.scopes.resolve(name, self.scope_of(function)) else {
            return None;
        };
        let scope = &self.scopes.scopes[found];
        let bindings = scope.bindings.get(name)?;
        if scope.kind != ScopeKind::Module || bindings.len() < 2 {
            return None;
        }
        let this_module = self.this_module.as_ref()?;
        let defined: Vec<FunctionInfo> = this_module
            .functions
            .iter()
            .filter(|function| function.name == name)
            .cloned()
            .collect();
        if defined
            .iter()
            .any(|function| function.decorators.iter().any(|d| d.ends_with("overload")))
        {
            return None;
        }
        let mut definitions: Vec<(FunctionInfo, String)> = Vec::new();
        let mut defs = 0;
        for binding in bindings {
            match &binding.kind {
                BindingKind::Function { .. } => defs += 1,
                BindingKind::Import {
                    module,
                    name: Some(imported),
                } => {
                    let absolute = self.absolute_module(module)?;
                    let Symbol::Function { module, qualname } =
                        resolve_name(self.modules, &absolute, imported)?
                    else {
                        return None;
                    };
                    let info = self.function_info(&module, &qualname)?;
                    definitions.push((info, module));
                }
                _ => return None,
            }
        }
        if defs != defined.len() {
            return None;
        }
        definitions.extend(
            defined
                .into_iter()
                .map(|function| (function, self.module_name.to_string())),
        );
        Some(definitions)
    }

    /// What is wrong with calling `callee` with the call's arguments; `None` when it fits or the
    /// signature is not known for certain.
    fn call_problem<'t>(
        &self,
        callee: &Type,
        node: Node<'t>,
        arguments: Node<'t>,
    ) -> Option<(CallProblem, String, String, Node<'t>)> {
        let (info, bound, display, callee_module) = match callee {
            Type::Function {
                module,
                qualname,
                bound,
            } => {
                let display = qualname.rsplit('.').next().unwrap_or(qualname).to_string();
                let Some(info) = self.function_info(module, qualname) else {
                    // Overloads: the call is wrong only when it fits none of them.
                    let definitions = self.definitions(module, qualname)?;
                    let overloads: Vec<&FunctionInfo> = definitions
                        .iter()
                        .filter(|function| {
                            function.decorators.iter().any(|d| d.ends_with("overload"))
                        })
                        .collect();
                    if overloads.is_empty() || definitions.len() - overloads.len() > 1 {
                        return None;
                    }
                    let mut first = None;
                    for overload in overloads {
                        let bound = *bound && overload.kind != FunctionKind::StaticMethod;
                        let problem = self.signature_problem(
                            overload, bound, &display, module, node, arguments,
                        )?;
                        first.get_or_insert(problem);
                    }
                    return first;
                };
                let bound = *bound && info.kind != FunctionKind::StaticMethod;
                (info, bound, display, module.clone())
            }
            Type::Class { module, qualname } => {
                let (init, owner_module, owner_class) = self.constructor(module, qualname)??;
                self.function_info(&owner_module, &format!("{owner_class}.__init__"))?;
                let display = qualname.rsplit('.').next().unwrap_or(qualname).to_string();
                (init, true, display, owner_module)
            }
            _ => return None,
        };
        self.signature_problem(&info, bound, &display, &callee_module, node, arguments)
    }

    /// What is wrong with calling a function of this signature with the call's arguments.
    fn signature_problem<'t>(
        &self,
        info: &FunctionInfo,
        bound: bool,
        display: &str,
        callee_module: &str,
        node: Node<'t>,
        arguments: Node<'t>,
    ) -> Option<(CallProblem, String, String, Node<'t>)> {
        let display = display.to_string();
        if info.decorators.iter().any(|d| !keeps_signature(d))
            || info.kind == FunctionKind::Property
        {
            return None;
        }
        let skip_first = bound || info.kind == FunctionKind::ClassMethod;
        let params: Vec<&Param> = info.params.iter().skip(usize::from(skip_first)).collect();
        if skip_first
            && info.params.first().is_none_or(|p| {
                !matches!(
                    p.kind,
                    ParamKind::PositionalOnly | ParamKind::PositionalOrKeyword
                )
            })
        {
            return None;
        }
        // The call's arguments.
        let mut positional = 0;
        let mut keywords: Vec<(String, Node)> = Vec::new();
        let mut positional_nodes: Vec<Node> = Vec::new();
        let mut star = false;
        let mut double_star = false;
        if arguments.kind() == "generator_expression" {
            positional = 1;
        } else {
            let mut cursor = arguments.walk();
            for argument in arguments.named_children(&mut cursor) {
                match argument.kind() {
                    "keyword_argument" => {
                        if let Some(name) = argument.child_by_field_name("name") {
                            keywords.push((self.text(name).to_string(), name));
                        }
                    }
                    "list_splat" => star = true,
                    "dictionary_splat" => double_star = true,
                    "comment" => {}
                    _ => {
                        if !star {
                            positional_nodes.push(argument);
                        }
                        positional += 1;
                    }
                }
            }
        }
        let has_var_positional = params.iter().any(|p| p.kind == ParamKind::VarPositional);
        let has_var_keyword = params.iter().any(|p| p.kind == ParamKind::VarKeyword);
        let positional_params: Vec<&Param> = params
            .iter()
            .copied()
            .filter(|p| {
                matches!(
                    p.kind,
                    ParamKind::PositionalOnly | ParamKind::PositionalOrKeyword
                )
            })
            .collect();
        let line = self.spliced.line_of(node.start_byte()) + 1;
        let signature = signature(&display, &params);
        if !star && !has_var_positional && positional > positional_params.len() {
            let message = format!(
                "{line}: `{display}()` takes {} positional argument{} but {positional} were given; signature: {signature}",
                positional_params.len(),
                if positional_params.len() == 1 { "" } else { "s" },
            );
            return Some((CallProblem::TooManyPositional, message, display, arguments));
        }
        if !has_var_keyword {
            let names: Vec<&str> = params
                .iter()
                .filter(|p| {
                    matches!(
                        p.kind,
                        ParamKind::PositionalOrKeyword | ParamKind::KeywordOnly
                    )
                })
                .map(|p| p.name.as_str())
                .collect();
            for (keyword, keyword_node) in &keywords {
                if !names.contains(&keyword.as_str()) {
                    let mut message = format!(
                        "{line}: `{display}()` got an unexpected keyword argument `{keyword}`"
                    );
                    let suggestions = closest_names(keyword, names.iter().copied());
                    if !suggestions.is_empty() {
                        let listed: Vec<String> =
                            suggestions.iter().map(|name| format!("`{name}`")).collect();
                        message.push_str(&format!("; did you mean {}?", listed.join(" or ")));
                    }
                    message.push_str(&format!("; signature: {signature}"));
                    return Some((
                        CallProblem::UnknownKeyword,
                        message,
                        keyword.clone(),
                        *keyword_node,
                    ));
                }
            }
        }
        if let Some(problem) = self.none_argument(
            callee_module,
            &display,
            &signature,
            &params,
            &positional_nodes,
            arguments,
            line,
        ) {
            return Some(problem);
        }
        if star || double_star {
            return None;
        }
        for (index, param) in params.iter().enumerate() {
            if param.default.is_some()
                || matches!(param.kind, ParamKind::VarPositional | ParamKind::VarKeyword)
            {
                continue;
            }
            let by_position = matches!(
                param.kind,
                ParamKind::PositionalOnly | ParamKind::PositionalOrKeyword
            ) && index < positional;
            let by_keyword = param.kind != ParamKind::PositionalOnly
                && keywords.iter().any(|(name, _)| name == &param.name);
            if !by_position && !by_keyword {
                let message = format!(
                    "{line}: `{display}()` is missing the required argument `{}`; signature: {signature}",
                    param.name
                );
                return Some((CallProblem::MissingArgument, message, display, arguments));
            }
        }
        None
    }

    /// A literal `None` passed for a parameter whose annotation certainly does not accept it.
    #[allow(clippy::too_many_arguments)]
    fn none_argument<'t>(
        &self,
        function_module: &str,
        display: &str,
        signature: &str,
        params: &[&Param],
        positional: &[Node<'t>],
        arguments: Node<'t>,
        line: u32,
    ) -> Option<(CallProblem, String, String, Node<'t>)> {
        let positional_params: Vec<&Param> = params
            .iter()
            .copied()
            .filter(|p| {
                matches!(
                    p.kind,
                    ParamKind::PositionalOnly | ParamKind::PositionalOrKeyword
                )
            })
            .collect();
        let var_positional = params
            .iter()
            .copied()
            .find(|p| p.kind == ParamKind::VarPositional);
        let mut pairs: Vec<(&Param, Node)> = Vec::new();
        for (index, argument) in positional.iter().enumerate() {
            if let Some(param) = positional_params.get(index).copied().or(var_positional) {
                pairs.push((param, *argument));
            }
        }
        let mut cursor = arguments.walk();
        for argument in arguments
            .named_children(&mut cursor)
            .filter(|a| a.kind() == "keyword_argument")
        {
            let (Some(name), Some(value)) = (
                argument.child_by_field_name("name"),
                argument.child_by_field_name("value"),
            ) else {
                continue;
            };
            let name = self.text(name);
            if let Some(param) = params
                .iter()
                .copied()
                .find(|p| p.name == name && p.kind != ParamKind::PositionalOnly)
            {
                pairs.push((param, value));
            }
        }
        for (param, value) in pairs {
            if value.kind() != "none" || param.default.as_deref() == Some("None") {
                continue;
            }
            let Some(annotation) = param.annotation.as_deref() else {
                continue;
            };
            if !self.annotation_rejects_none(function_module, annotation) {
                continue;
            }
            let message = format!(
                "{line}: `{display}()` does not accept `None` for `{}: {annotation}`; signature: {signature}",
                param.name
            );
            return Some((
                CallProblem::NoneArgument,
                message,
                display.to_string(),
                value,
            ));
        }
        None
    }

    /// Whether an annotation, read in `module`, names only types that `None` is not an instance
    /// of: builtin classes, the generic aliases of `typing` and `collections.abc`, classes of the
    /// index. Anything else (`Optional`, `Any`, `object`, type variables, aliases, unknown names,
    /// protocols) accepts `None` as far as this check knows.
    fn annotation_rejects_none(&self, module: &str, annotation: &str) -> bool {
        let annotation = annotation.trim().trim_matches(|c| c == '"' || c == '\'');
        let mut parts = Vec::new();
        let mut depth = 0usize;
        let mut start = 0;
        for (index, character) in annotation.char_indices() {
            match character {
                '[' | '(' => depth += 1,
                ']' | ')' => depth = depth.saturating_sub(1),
                '|' if depth == 0 => {
                    parts.push(&annotation[start..index]);
                    start = index + 1;
                }
                _ => {}
            }
        }
        parts.push(&annotation[start..]);
        parts.into_iter().all(|part| {
            let part = part.trim();
            let base = part.split('[').next().unwrap_or(part).trim();
            if base.is_empty()
                || base.contains(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            {
                return false;
            }
            match resolve_dotted(self.modules, module, base) {
                Some(Symbol::External(dotted))
                    if matches!(dotted.as_str(), "typing.Union" | "typing_extensions.Union") =>
                {
                    let inner = part
                        .split_once('[')
                        .and_then(|(_, rest)| rest.strip_suffix(']'));
                    inner.is_some_and(|inner| {
                        split_top_level(inner, ',')
                            .into_iter()
                            .all(|alternative| self.annotation_rejects_none(module, alternative))
                    })
                }
                Some(Symbol::External(dotted))
                    if matches!(
                        dotted.as_str(),
                        "typing.Literal" | "typing_extensions.Literal"
                    ) =>
                {
                    let inner = part
                        .split_once('[')
                        .and_then(|(_, rest)| rest.strip_suffix(']'));
                    inner.is_some_and(|inner| {
                        split_top_level(inner, ',')
                            .into_iter()
                            .all(|value| value.trim() != "None")
                    })
                }
                Some(Symbol::Class { module, qualname }) => {
                    // A protocol may be satisfied by `None`.
                    class_info(self.modules, &module, &qualname)
                        .is_some_and(|class| !class.bases.iter().any(|b| b.contains("Protocol")))
                }
                Some(Symbol::External(dotted)) => {
                    let (prefix, name) = dotted.rsplit_once('.').unwrap_or(("", &dotted));
                    matches!(prefix, "typing" | "typing_extensions" | "collections.abc")
                        && NONE_REJECTING_ALIASES.contains(&name)
                }
                None => NONE_REJECTING_BUILTINS.contains(&base),
                _ => false,
            }
        })
    }

    /// Whether the line of `offset` carries a `# type: ignore` or `# pyright: ignore` comment:
    /// the author silenced type errors there, so member and call problems are not reported.
    fn line_ignores_type_errors(&self, offset: usize) -> bool {
        let text = &self.spliced.text;
        let offset = offset.min(text.len());
        let start = text.as_bytes()[..offset]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let end = text.as_bytes()[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| offset + i);
        let line = text.get(start..end).unwrap_or("");
        line.contains("# type: ignore") || line.contains("# pyright: ignore")
    }

    fn push_call(&mut self, kind: CallProblem, message: String, name: String, node: Node) {
        if self.line_ignores_type_errors(node.start_byte()) {
            return;
        }
        if !self.reported.insert((node.start_byte(), node.end_byte())) {
            return;
        }
        let problem = self.spliced.problem(
            ProblemKind::Call(kind),
            message,
            name,
            node.start_byte(),
            node.end_byte(),
        );
        self.problems.push(problem);
    }

    /// The one definition of a module function or a method (`Class.method`); `None` when there are
    /// several (overloads, conditional definitions).
    fn function_info(&self, module: &str, qualname: &str) -> Option<FunctionInfo> {
        match qualname.rsplit_once('.') {
            Some((class, name)) => {
                let class = class_info(self.modules, module, class)?;
                let mut found = class.methods.iter().filter(|method| method.name == name);
                let first = found.next()?.clone();
                found.next().is_none().then_some(first)
            }
            None => {
                let info = self.modules.module(module)?;
                let mut found = info
                    .functions
                    .iter()
                    .filter(|function| function.name == qualname);
                let first = found.next()?.clone();
                let unique = found.next().is_none()
                    && !info
                        .variables
                        .iter()
                        .any(|variable| variable.name == qualname)
                    && !info.imports.iter().any(|import| import.bound == qualname);
                unique.then_some(first)
            }
        }
    }
}

/// `text` split at `separator` outside brackets.
fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, character) in text.char_indices() {
        match character {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            c if c == separator && depth == 0 => {
                parts.push(&text[start..index]);
                start = index + separator.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The names a module binds at its top level.
fn module_names(info: &ModuleInfo) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    names.extend(info.classes.iter().map(|class| class.name.clone()));
    names.extend(info.functions.iter().map(|function| function.name.clone()));
    names.extend(info.variables.iter().map(|variable| variable.name.clone()));
    names.extend(
        info.imports
            .iter()
            .filter(|import| !import.star)
            .map(|import| import.bound.clone()),
    );
    names
}

/// `name(a: int, b=..., *args, **kwargs) -> R` for messages.
fn signature(name: &str, params: &[&crate::index::model::Param]) -> String {
    let mut parts = Vec::new();
    let mut saw_keyword_only_marker = false;
    let mut saw_positional_only = false;
    for param in params {
        if saw_positional_only && param.kind != ParamKind::PositionalOnly {
            parts.push("/".to_string());
            saw_positional_only = false;
        }
        let mut text = match param.kind {
            ParamKind::VarPositional => {
                saw_keyword_only_marker = true;
                format!("*{}", param.name)
            }
            ParamKind::VarKeyword => format!("**{}", param.name),
            ParamKind::KeywordOnly if !saw_keyword_only_marker => {
                saw_keyword_only_marker = true;
                parts.push("*".to_string());
                param.name.clone()
            }
            ParamKind::PositionalOnly => {
                saw_positional_only = true;
                param.name.clone()
            }
            _ => param.name.clone(),
        };
        if let Some(annotation) = &param.annotation {
            text.push_str(&format!(": {annotation}"));
        }
        if let Some(default) = &param.default {
            text.push_str(&format!(" = {default}"));
        }
        parts.push(text);
    }
    if saw_positional_only {
        parts.push("/".to_string());
    }
    format!("{name}({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use crate::check::{check_candidate, test_support::cursor, ProblemKind};
    use crate::index::resolve::MapSource;

    const MODELS: &str = r#"
import json
import typing

class Base:
    def close(self) -> None:
        pass

class Response(Base):
    status: int

    def __init__(self, status: int, text: str = "") -> None:
        self.status = status
        self._text = text

    @property
    def text(self) -> str:
        return self._text

    def json(self, strict: bool = False) -> dict:
        return {}

    def headers(self) -> "Headers":
        return Headers()

    @classmethod
    def empty(cls) -> "Response":
        return cls(200)

class Headers(typing.MutableMapping[str, str]):
    def update_all(self, other: dict) -> None:
        pass

class Decoder(json.JSONDecoder):
    def extra(self, value: str) -> None:
        pass

class Dynamic:
    def __getattr__(self, name):
        return name

class Flexible:
    def call(self, *args, **kwargs):
        pass

def make(status: int, *, reason: str = "") -> Response:
    return Response(status)

def helper(value: str, encoding: str = "utf-8") -> str:
    return value
"#;

    /// The problems a candidate gets at the cursor of `fixture` (module `app.main`), with
    /// `app.models` as above.
    fn problems(fixture: &str, candidate: &str) -> Vec<(ProblemKind, String)> {
        checked(fixture, candidate)
            .into_iter()
            .map(|problem| (problem.kind, problem.name))
            .collect()
    }

    /// Every problem of the candidate at the cursor of `fixture`, whole.
    fn checked(fixture: &str, candidate: &str) -> Vec<crate::check::Problem> {
        let (document, offset) = cursor(fixture);
        let source = MapSource::from_sources(&[
            ("app", "app/__init__.py", ""),
            ("app.models", "app/models.py", MODELS),
            ("app.main", "app/main.py", &document),
        ]);
        check_candidate(&document, offset, candidate, "app.main", &source)
    }

    fn names(fixture: &str, candidate: &str) -> Vec<String> {
        problems(fixture, candidate)
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    }

    const MAIN: &str = "from app import models\nfrom app.models import Response, make, helper, Dynamic, Flexible\n\ndef run(response: Response, other, flexible: Flexible):\n    <CURSOR>\n";

    #[test]
    fn members_of_annotated_parameters_are_checked() {
        assert!(names(
            MAIN,
            "return response.text, response.status, response.json(), response.close()"
        )
        .is_empty());
        let found = problems(MAIN, "return response.texts");
        assert_eq!(
            found,
            vec![(ProblemKind::UnknownMember, "texts".to_string())]
        );
        // Attributes of unknown receivers say nothing.
        assert!(names(MAIN, "return other.anything, flexible.call(1, 2, x=3)").is_empty());
    }

    #[test]
    fn members_of_modules_classes_and_instances_built_here() {
        assert_eq!(names(MAIN, "return models.Respons"), vec!["Respons"]);
        assert_eq!(names(MAIN, "return Response.empti()"), vec!["empti"]);
        assert_eq!(
            names(MAIN, "r = Response(200)\n    return r.stat"),
            vec!["stat"]
        );
        assert_eq!(names(MAIN, "return make(1).jsn()"), vec!["jsn"]);
        assert!(names(
            MAIN,
            "r = make(1)\n    return r.json(strict=True), Response.empty().status"
        )
        .is_empty());
    }

    #[test]
    fn dynamic_classes_and_narrowed_names_stay_silent() {
        assert!(names(MAIN, "d = Dynamic()\n    return d.whatever").is_empty());
        assert!(names(
            MAIN,
            "if isinstance(response, object):\n        return response.special\n    return None"
        )
        .is_empty());
        // A class with an external base: its own methods are known, its missing members are not.
        let fixture =
            "from app.models import Decoder\n\ndef run(decoder: Decoder):\n    <CURSOR>\n";
        assert!(names(fixture, "return decoder.anything").is_empty());
        assert_eq!(
            problems(fixture, "decoder.extra('a', 1)"),
            vec![(
                ProblemKind::Call(crate::check::CallProblem::TooManyPositional),
                "extra".to_string()
            )]
        );
        // A base from `typing` has known members.
        assert_eq!(
            names(
                MAIN,
                "h = response.headers()\n    h.update({})\n    return h.anything"
            ),
            vec!["anything"]
        );
    }

    #[test]
    fn unions_builtins_and_overloads() {
        let fixture = "import typing\nfrom app.models import Response, Headers\n\ndef run(a: typing.Optional[Response], b: Response | Headers | None, text: str, items: typing.List[int]):\n    <CURSOR>\n";
        assert!(names(
            fixture,
            "return a.json(), b.get, b.close(), text.upper(), items.append(1)"
        )
        .is_empty());
        assert_eq!(names(fixture, "return a.jsn"), vec!["jsn"]);
        assert_eq!(names(fixture, "return b.nothing"), vec!["nothing"]);
        assert_eq!(names(fixture, "return text.uper()"), vec!["uper"]);
        assert_eq!(names(fixture, "return items.push(1)"), vec!["push"]);
        let overloads = "import typing\nfrom app.models import Response\n\n@typing.overload\ndef load(x: int) -> Response: ...\n@typing.overload\ndef load(x: str) -> typing.Optional[Response]: ...\ndef load(x):\n    return None\n\ndef run():\n    <CURSOR>\n";
        assert_eq!(names(overloads, "return load(1).statuss"), vec!["statuss"]);
        assert!(names(overloads, "return load(1).status").is_empty());
    }

    #[test]
    fn attribute_types_from_conditional_values_and_parameters() {
        let fixture = "import typing\nfrom app.models import Response, make\n\nclass Live:\n    def __init__(self, response: typing.Optional[Response] = None):\n        self.response = response if response is not None else make(200)\n        self.other = response or Response(1)\n\n    def run(self):\n        <CURSOR>\n";
        assert!(names(fixture, "return self.response.json(), self.other.status").is_empty());
        assert_eq!(names(fixture, "return self.response.jsn()"), vec!["jsn"]);
        assert_eq!(names(fixture, "return self.other.stat"), vec!["stat"]);
    }

    #[test]
    fn function_level_relative_imports() {
        let fixture =
            "class Pattern:\n    def __init__(self, pattern: str) -> None:\n        <CURSOR>\n";
        let candidate = "from .models import Response\n\n        response = Response(1)\n        self.status = response.statu";
        assert_eq!(names(fixture, candidate), vec!["statu"]);
        // Setting a new attribute on another class's instance is reported too (as type checkers
        // do); setting a known one is not.
        assert_eq!(names(fixture, "from .models import Response\n\n        response = Response(1)\n        response.extra = 1"), vec!["extra"]);
        assert!(names(fixture, "from .models import Response\n\n        response = Response(1)\n        response.status = 1").is_empty());
    }

    #[test]
    fn annotated_module_variables() {
        let fixture = "from app.models import Response, Headers\nfrom werkzeug.local import LocalProxy\n\ncurrent: Response = Response(1)\nproxy: Response = LocalProxy(lambda: current)\nother: Response = Headers()\n\ndef run():\n    <CURSOR>\n";
        assert!(names(fixture, "return current.status").is_empty());
        assert_eq!(names(fixture, "return current.stat"), vec!["stat"]);
        // A declaration over a value of unknown type (a proxy) says what the name stands for.
        assert_eq!(names(fixture, "return proxy.stat"), vec!["stat"]);
        // A declaration over a value certainly of another class is not trusted.
        assert!(names(fixture, "return other.stat").is_empty());
        // The author silenced the type checker on this line.
        assert!(names(fixture, "return current.stat  # type: ignore[attr-defined]").is_empty());
    }

    #[test]
    fn caught_exceptions() {
        let fixture = "from app.models import Response\n\nclass Failure(Exception):\n    def __init__(self, response: Response):\n        self.response = response\n\ndef run():\n    <CURSOR>\n";
        assert!(names(
            fixture,
            "try:\n        pass\n    except Failure as e:\n        return e.response, e.args"
        )
        .is_empty());
        assert_eq!(
            names(
                fixture,
                "try:\n        pass\n    except Failure as e:\n        return e.respons"
            ),
            vec!["respons"]
        );
        assert!(names(
            fixture,
            "try:\n        pass\n    except (Failure, ValueError) as e:\n        return e.anything"
        )
        .is_empty());
    }

    #[test]
    fn self_attributes_in_methods() {
        let fixture = "from app.models import Response\n\nclass Client:\n    def __init__(self):\n        self.last = Response(200)\n\n    def send(self):\n        <CURSOR>\n";
        assert!(names(
            fixture,
            "self.extra = 1\n        return self.last.status, self.extra, self.send"
        )
        .is_empty());
        assert_eq!(names(fixture, "return self.sned()"), vec!["sned"]);
        assert_eq!(names(fixture, "return self.last.stauts"), vec!["stauts"]);
    }

    #[test]
    fn call_arity_keywords_and_missing_arguments() {
        use crate::check::CallProblem::*;
        let kinds = |candidate: &str| -> Vec<ProblemKind> {
            problems(MAIN, candidate)
                .into_iter()
                .map(|(kind, _)| kind)
                .collect()
        };
        assert!(kinds(
            "return make(1, reason='x'), helper('a', 'b'), Response(1, 'x'), response.json(True)"
        )
        .is_empty());
        assert_eq!(
            kinds("return make(1, 2)"),
            vec![ProblemKind::Call(TooManyPositional)]
        );
        assert_eq!(
            kinds("return make(1, reasn='x')"),
            vec![ProblemKind::Call(UnknownKeyword)]
        );
        assert_eq!(
            kinds("return make()"),
            vec![ProblemKind::Call(MissingArgument)]
        );
        assert_eq!(
            kinds("return Response()"),
            vec![ProblemKind::Call(MissingArgument)]
        );
        assert_eq!(
            kinds("return response.json(True, 1)"),
            vec![ProblemKind::Call(TooManyPositional)]
        );
        assert_eq!(
            kinds("return helper('a', None)"),
            vec![ProblemKind::Call(NoneArgument)]
        );
        // Splats make the count unknowable.
        assert!(kinds("args = [1, 2]\n    return make(*args), helper(**{})").is_empty());
    }

    #[test]
    fn messages_name_what_exists() {
        let (document, offset) = cursor(MAIN);
        let source = MapSource::from_sources(&[
            ("app.models", "app/models.py", MODELS),
            ("app.main", "app/main.py", &document),
        ]);
        let found = check_candidate(&document, offset, "return make(1, 2)", "app.main", &source);
        assert_eq!(
            found[0].message,
            "5: `make()` takes 1 positional argument but 2 were given; signature: make(status: int, *, reason: str = \"\")"
        );
        let found = check_candidate(
            &document,
            offset,
            "return response.jsn()",
            "app.main",
            &source,
        );
        assert_eq!(
            found[0].message,
            "5: instance of `Response` has no attribute `jsn`; did you mean `json`?"
        );
    }

    #[test]
    fn loop_targets_and_unpacked_names_take_declared_element_types() {
        let fixture = "import typing\nfrom app.models import Response\n\ndef pair() -> typing.Tuple[Response, int]:\n    return Response(1), 1\n\ndef run(items: list[Response], table: dict[str, Response], other, *more: Response):\n    <CURSOR>\n";
        // Known element types: the members are checked.
        assert_eq!(
            names(fixture, "for item in items:\n        item.texts"),
            vec!["texts"]
        );
        assert_eq!(
            names(
                fixture,
                "for key, value in table.items():\n        value.texts"
            ),
            vec!["texts"]
        );
        assert_eq!(
            names(fixture, "for value in table.values():\n        value.texts"),
            vec!["texts"]
        );
        assert_eq!(
            names(
                fixture,
                "for index, item in enumerate(reversed(items)):\n        item.texts"
            ),
            vec!["texts"]
        );
        assert_eq!(
            names(fixture, "return [m.texts for m in more]"),
            vec!["texts"]
        );
        assert_eq!(
            names(fixture, "first, count = pair()\n    return first.texts"),
            vec!["texts"]
        );
        assert_eq!(
            names(
                fixture,
                "for a, b in zip(items, more):\n        b.json(1, 2)"
            ),
            vec!["json"]
        );
        // Right members, starred unpacking and unknown iterables: silent.
        assert!(names(
            fixture,
            "for key, value in table.items():\n        key.upper()\n        value.text"
        )
        .is_empty());
        assert!(names(fixture, "first, *rest = pair()\n    return first.texts").is_empty());
        assert!(names(fixture, "for x in other(items):\n        x.texts").is_empty());
        assert!(names(
            fixture,
            "async def f():\n        async for x in items:\n            x.texts"
        )
        .is_empty());
    }

    #[test]
    fn cached_functions_and_conditional_definitions_keep_their_signatures() {
        let fixture = "import functools\nimport sys\n\n@functools.lru_cache(maxsize=None)\ndef split(name: str) -> list:\n    return name.split()\n\nif sys.platform == 'win32':\n    from app.models import helper as stream\nelse:\n    def stream(value, encoding=None):\n        return None\n\ndef run():\n    <CURSOR>\n";
        let kinds = |candidate: &str| -> Vec<ProblemKind> {
            problems(fixture, candidate)
                .into_iter()
                .map(|(kind, _)| kind)
                .collect()
        };
        use crate::check::CallProblem::*;
        assert_eq!(
            kinds("return split('a.b', None)"),
            vec![ProblemKind::Call(TooManyPositional)]
        );
        assert!(kinds("return split('a.b')").is_empty());
        // Two definitions of `stream`, both taking at most two arguments.
        assert_eq!(
            kinds("return stream('a', 'utf-8', 1)"),
            vec![ProblemKind::Call(TooManyPositional)]
        );
        assert!(kinds("return stream('a', 'utf-8')").is_empty());
    }

    #[test]
    fn attributes_set_from_outside_and_misspelt_self_attributes() {
        let fixture = "from app.models import Response, make\n\nclass Holder:\n    def __init__(self, code: int):\n        <CURSOR>\n\n    def show(self):\n        return self.code\n";
        // A new attribute set on an instance of another class.
        assert_eq!(
            names(
                fixture,
                "response = make(1)\n        response.texts = 'x'\n        self.code = code"
            ),
            vec!["texts"]
        );
        assert!(names(
            fixture,
            "response = make(1)\n        response.status = 2\n        self.code = code"
        )
        .is_empty());
        // `self.codes` is set and never read while `self.code`, read in `show`, is set nowhere.
        assert_eq!(
            check_candidate_messages(fixture, "response = make(1)\n        response.texts = 'x'\n        self.code = code"),
            vec!["6: instance of `Response` has no attribute `texts`; setting a new one from outside the class; did you mean `text`?".to_string()]
        );
        let found = check_candidate_messages(fixture, "self.codes = code");
        assert_eq!(found, vec!["5: `self.codes` is set here but never read, while `self.code`, read on line 8, is set nowhere; did you mean `code`?".to_string()]);
        // A new attribute that something reads, or with no similar unset one, is fine.
        assert!(names(fixture, "self.code = code\n        self.extra = 1").is_empty());
        assert!(names(fixture, "self.code = code\n        self.codes = [code]").is_empty());
    }

    #[test]
    fn the_last_assignment_in_a_block_around_the_read_decides_its_type() {
        let fixture = "from app.models import Response, make\n\ndef run(value: Response | str, flag: bool):\n    <CURSOR>\n";
        assert_eq!(
            names(fixture, "value = make(1)\n    return value.texts"),
            vec!["texts"]
        );
        assert_eq!(names(fixture, "value = make(1)\n    if flag:\n        value = value.headers()\n    return value.texts"), Vec::<String>::new());
        assert_eq!(
            names(
                fixture,
                "value = make(1)\n    if flag:\n        value = make(2)\n    return value.texts"
            ),
            vec!["texts"]
        );
        // Assigned only in a branch: the parameter may still reach.
        assert!(names(
            fixture,
            "if flag:\n        value = make(1)\n    return value.texts"
        )
        .is_empty());
    }

    fn check_candidate_messages(fixture: &str, candidate: &str) -> Vec<String> {
        checked(fixture, candidate)
            .into_iter()
            .map(|problem| problem.message)
            .collect()
    }

    #[test]
    fn isinstance_on_an_attribute_path_adds_the_tested_classes() {
        let fixture = "from app.models import Response, Headers\n\nclass Holder:\n    def __init__(self, value: Response):\n        self.value = value\n\n    def show(self):\n        <CURSOR>\n";
        // Missing from the declared type and from the class tested: reported.
        assert_eq!(names(fixture, "if not isinstance(self.value, Headers):\n            raise TypeError()\n        return self.value.texts"), vec!["texts"]);
        // Present on the class tested: silent.
        assert!(names(fixture, "if isinstance(self.value, Headers):\n            return self.value.update_all({})\n        return None").is_empty());
        // A tested class that is not known for certain: silent.
        assert!(names(fixture, "if isinstance(self.value, SomethingElse):\n            return self.value.texts\n        return None").iter().all(|name| name != "texts"));
    }

    #[test]
    fn the_same_import_twice_at_module_level_is_one_binding() {
        let fixture = "from app.models import Response\n\ndef run():\n    <CURSOR>\n\nif __name__ == '__main__':\n    from app.models import Response\n";
        assert_eq!(names(fixture, "return Response.emptyy()"), vec!["emptyy"]);
    }

    #[test]
    fn a_conditional_value_is_either_operand() {
        let fixture = "from app.models import Response, Headers, make\n\ndef run(flag: bool, given: Response | None):\n    <CURSOR>\n";
        assert_eq!(
            names(
                fixture,
                "value = make(1) if flag else Response(2)\n    return value.texts"
            ),
            vec!["texts"]
        );
        assert_eq!(
            names(fixture, "value = given or make(1)\n    return value.texts"),
            vec!["texts"]
        );
        // A member of one operand's class is fine; an operand of unknown type makes it unknown.
        assert!(names(
            fixture,
            "value = make(1) if flag else Headers()\n    return value.text"
        )
        .is_empty());
        assert!(names(
            fixture,
            "value = make(1) if flag else unknown_call()\n    return value.texts"
        )
        .iter()
        .all(|name| name != "texts"));
    }

    #[test]
    fn mixins_hasattr_descriptors_exceptions_and_namespaces_stay_silent() {
        let fixture = "from app.models import Response, make\n\nclass Described:\n    def __get__(self, instance, owner):\n        return 1\n\nclass Failure(Exception):\n    pass\n\nclass Empty:\n    pass\n\nclass Holder:\n    value = Described()\n\nclass RenderMixin:\n    def render(self):\n        <CURSOR>\n";
        // A mixin reads what the class it is mixed into provides.
        assert!(names(fixture, "return self.template_name").is_empty());
        // Guarded by hasattr.
        assert!(names(fixture, "response = make(1)\n        if hasattr(response, 'extra'):\n            return response.extra").is_empty());
        assert_eq!(
            names(fixture, "response = make(1)\n        return response.extra"),
            vec!["extra"]
        );
        // A class attribute holding a descriptor is whatever `__get__` returns.
        assert!(names(fixture, "return Holder().value.anything").is_empty());
        // Exceptions and member-less classes take new attributes by custom.
        assert!(names(fixture, "error = Failure()\n        error.detail = 1\n        empty = Empty()\n        empty.x = 1").is_empty());
    }

    #[test]
    fn a_whole_document_reports_a_new_attribute_set_from_outside_in_one_place_only() {
        let body = |writes: &str| {
            format!("from app.models import Response, make\n\ndef run():\n    response = make(1)\n{writes}")
        };
        let check = |text: String| -> Vec<String> {
            let source = MapSource::from_sources(&[
                ("app", "app/__init__.py", ""),
                ("app.models", "app/models.py", MODELS),
                ("app.main", "app/main.py", &text),
            ]);
            crate::check::check_document(&text, "app.main", &source)
                .into_iter()
                .map(|problem| problem.name)
                .collect()
        };
        assert_eq!(check(body("    response.extra = 1\n")), vec!["extra"]);
        // Set in two places: a pattern of this code, not a slip.
        assert!(check(body("    response.extra = 1\n    response.extra = 2\n")).is_empty());
    }
}
