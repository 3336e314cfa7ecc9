//! Types of loop targets and unpacked tuples, read from the annotations of what they come from:
//! `for pattern, transport in self._mounts.items()` with `_mounts: dict[URLPattern, Transport]`,
//! `for item in items` with `items: list[Item]`, `*args: Item`, `a, b = f()` with
//! `-> tuple[A, B]`, and `enumerate`, `zip`, `reversed`, `sorted` around those.
//!
//! Only declared types are used (annotations of parameters, variables, attributes and return
//! types), as a type checker would; anything else gives no type, and the checks stay silent.

use tree_sitter::Node;

use super::{split_top_level, Checker, Found, Type, MAX_INFERENCE_DEPTH};
use crate::check::names::{BindingKind, Resolution, ScopeKind};
use crate::index::resolve::{resolve_dotted, Symbol};

/// A type as written: an annotation and the module it is written in, or the elements of a tuple
/// built by `enumerate`, `zip` or `dict.items()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shape {
    Written { module: String, text: String },
    Tuple(Vec<Shape>),
}

/// What a generic annotation's base is, as far as iterating and unpacking go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    /// Iterating gives the first argument: lists, sets, sequences, iterables, iterators.
    Collection,
    /// Iterating gives the keys; `items()` gives pairs.
    Mapping,
    Tuple,
}

/// Containers by their name in `builtins`, `typing`, `typing_extensions`, `collections` or
/// `collections.abc`.
fn container(name: &str) -> Option<Container> {
    Some(match name {
        "list" | "List" | "set" | "Set" | "frozenset" | "FrozenSet" | "Sequence"
        | "MutableSequence" | "Iterable" | "Iterator" | "Collection" | "AbstractSet"
        | "MutableSet" | "deque" | "Deque" | "KeysView" | "ValuesView" | "Generator" => {
            Container::Collection
        }
        "dict" | "Dict" | "Mapping" | "MutableMapping" | "OrderedDict" | "defaultdict"
        | "DefaultDict" => Container::Mapping,
        "tuple" | "Tuple" => Container::Tuple,
        _ => return None,
    })
}

impl Checker<'_, '_> {
    /// The type a loop target or an unpacked name gets, from the binding at `name_start`.
    pub(super) fn target_type(&self, name_start: usize, depth: usize) -> Option<Type> {
        match self.target_shape(name_start, depth)? {
            Shape::Written { module, text } => self.annotation_type(&module, &text),
            Shape::Tuple(_) => None,
        }
    }

    fn target_shape(&self, name_start: usize, depth: usize) -> Option<Shape> {
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        let root = self.spliced.tree.root_node();
        let mut node = root.descendant_for_byte_range(name_start, name_start + 1)?;
        if node.kind() != "identifier" || node.start_byte() != name_start {
            return None;
        }
        // The positions taken on the way up, innermost first.
        let mut path = Vec::new();
        let mut shape = loop {
            let parent = node.parent()?;
            match parent.kind() {
                "pattern_list" | "tuple_pattern" | "list_pattern" | "tuple" | "expression_list"
                | "list" => {
                    let mut cursor = parent.walk();
                    let elements: Vec<Node> = parent
                        .named_children(&mut cursor)
                        .filter(|child| child.kind() != "comment")
                        .collect();
                    if elements
                        .iter()
                        .any(|child| matches!(child.kind(), "list_splat_pattern" | "list_splat"))
                    {
                        return None;
                    }
                    path.push(elements.iter().position(|child| *child == node)?);
                    node = parent;
                }
                "parenthesized_expression" => node = parent,
                "for_statement" | "for_in_clause" => {
                    let is_async = parent.child(0).is_some_and(|first| first.kind() == "async");
                    if is_async || parent.child_by_field_name("left") != Some(node) {
                        return None;
                    }
                    break self.element_shape(parent.child_by_field_name("right")?, depth + 1)?;
                }
                "assignment" => {
                    // Plain names are assignments of their own kind; this is unpacking.
                    if path.is_empty()
                        || parent.child_by_field_name("left") != Some(node)
                        || parent.child_by_field_name("type").is_some()
                    {
                        return None;
                    }
                    break self
                        .expression_shape(parent.child_by_field_name("right")?, depth + 1)?;
                }
                _ => return None,
            }
        };
        for index in path.into_iter().rev() {
            shape = self.unpack(shape, index)?;
        }
        Some(shape)
    }

    /// Element `index` of a tuple.
    fn unpack(&self, shape: Shape, index: usize) -> Option<Shape> {
        match shape {
            Shape::Tuple(mut elements) => {
                (index < elements.len()).then(|| elements.swap_remove(index))
            }
            Shape::Written { module, text } => {
                let (kind, arguments) = self.generic(&module, &text)?;
                if kind != Container::Tuple {
                    return None;
                }
                let element = match arguments.as_slice() {
                    [only, ellipsis] if ellipsis.trim() == "..." => only.clone(),
                    elements => elements.get(index)?.clone(),
                };
                Some(Shape::Written {
                    module,
                    text: element,
                })
            }
        }
    }

    /// What iterating over `iterable` gives.
    fn element_shape(&self, iterable: Node, depth: usize) -> Option<Shape> {
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        if iterable.kind() == "parenthesized_expression" {
            return self.element_shape(iterable.named_child(0)?, depth + 1);
        }
        if iterable.kind() == "call" {
            let function = iterable.child_by_field_name("function")?;
            let arguments = iterable.child_by_field_name("arguments")?;
            let positional: Vec<Node> = {
                let mut cursor = arguments.walk();
                arguments
                    .named_children(&mut cursor)
                    .filter(|argument| argument.kind() != "comment")
                    .collect()
            };
            let plain = positional.iter().all(|argument| {
                !matches!(
                    argument.kind(),
                    "keyword_argument" | "list_splat" | "dictionary_splat"
                )
            });
            if function.kind() == "identifier" && self.is_builtin(function) {
                return match (self.text(function), positional.as_slice()) {
                    ("enumerate", [inner]) if plain => Some(Shape::Tuple(vec![
                        Shape::Written {
                            module: "builtins".into(),
                            text: "int".into(),
                        },
                        self.element_shape(*inner, depth + 1)?,
                    ])),
                    (
                        "reversed" | "sorted" | "list" | "tuple" | "set" | "frozenset" | "iter",
                        [inner],
                    ) if plain => self.element_shape(*inner, depth + 1),
                    ("zip", inners) if plain && !inners.is_empty() => Some(Shape::Tuple(
                        inners
                            .iter()
                            .map(|inner| self.element_shape(*inner, depth + 1))
                            .collect::<Option<Vec<Shape>>>()?,
                    )),
                    _ => None,
                };
            }
            if function.kind() == "attribute" && positional.is_empty() {
                let method = self.text(function.child_by_field_name("attribute")?);
                if matches!(method, "items" | "keys" | "values") {
                    let Shape::Written { module, text } =
                        self.expression_shape(function.child_by_field_name("object")?, depth + 1)?
                    else {
                        return None;
                    };
                    let (kind, mut arguments) = self.generic(&module, &text)?;
                    if kind != Container::Mapping || arguments.len() != 2 {
                        return None;
                    }
                    let value = arguments.pop()?;
                    let key = arguments.pop()?;
                    let written = |text: String| Shape::Written {
                        module: module.clone(),
                        text,
                    };
                    return Some(match method {
                        "items" => Shape::Tuple(vec![written(key), written(value)]),
                        "keys" => written(key),
                        _ => written(value),
                    });
                }
            }
        }
        let Shape::Written { module, text } = self.expression_shape(iterable, depth + 1)? else {
            return None;
        };
        let (kind, arguments) = self.generic(&module, &text)?;
        let element = match (kind, arguments.as_slice()) {
            (Container::Collection | Container::Mapping, [first, ..]) => first.clone(),
            (Container::Tuple, [only, ellipsis]) if ellipsis.trim() == "..." => only.clone(),
            (Container::Tuple, [first, rest @ ..]) if rest.iter().all(|other| other == first) => {
                first.clone()
            }
            _ => return None,
        };
        Some(Shape::Written {
            module,
            text: element,
        })
    }

    /// The declared type of an expression: a name's annotation (or the shape of what it was
    /// assigned or unpacked from), an attribute's annotation, a function's return annotation.
    fn expression_shape(&self, node: Node, depth: usize) -> Option<Shape> {
        if depth > MAX_INFERENCE_DEPTH {
            return None;
        }
        match node.kind() {
            "parenthesized_expression" => self.expression_shape(node.named_child(0)?, depth + 1),
            "identifier" => self.name_shape(node, depth),
            "attribute" => {
                let object = self.infer(node.child_by_field_name("object")?, depth + 1)?;
                let Type::Instance { module, qualname } = object else {
                    return None;
                };
                let attribute = self.text(node.child_by_field_name("attribute")?);
                match self.find_member(&module, &qualname, attribute, 0)? {
                    Found::Variables {
                        module, variables, ..
                    } => {
                        // The declared type: every annotation of the attribute must agree.
                        let mut annotations = variables
                            .iter()
                            .filter_map(|variable| variable.annotation.as_deref());
                        let first = annotations.next()?;
                        if annotations.any(|other| other != first) {
                            return None;
                        }
                        Some(Shape::Written {
                            module,
                            text: first.to_string(),
                        })
                    }
                    Found::Method {
                        module,
                        kind: crate::index::model::FunctionKind::Property,
                        returns,
                        ..
                    } => Some(Shape::Written {
                        module,
                        text: returns?,
                    }),
                    _ => None,
                }
            }
            "call" => {
                let Type::Function {
                    module, qualname, ..
                } = self.infer(node.child_by_field_name("function")?, depth + 1)?
                else {
                    return None;
                };
                let function = self.function_info(&module, &qualname)?;
                if function.is_async
                    || function
                        .decorators
                        .iter()
                        .any(|d| !super::is_transparent_decorator(d))
                {
                    return None;
                }
                Some(Shape::Written {
                    module,
                    text: function.returns?,
                })
            }
            _ => None,
        }
    }

    /// The declared type of a local name: its annotation where it has one (a declared variable
    /// keeps its type whatever is assigned later), else what its one binding gives.
    fn name_shape(&self, node: Node, depth: usize) -> Option<Shape> {
        let name = self.text(node);
        let scope_index = self.scope_of(node);
        let Resolution::Scope(found) = self.scopes.resolve(name, scope_index) else {
            return None;
        };
        let scope = &self.scopes.scopes[found];
        if scope.kind == ScopeKind::Module || scope.nonlocals.contains(name) {
            return None;
        }
        let bindings = scope.bindings.get(name)?;
        let written = |start: usize, end: usize| {
            Some(Shape::Written {
                module: self.module_name.to_string(),
                text: self.spliced.text.get(start..end)?.to_string(),
            })
        };
        let declared = bindings.iter().find_map(|binding| match &binding.kind {
            BindingKind::Parameter {
                annotation: Some(range),
                ..
            }
            | BindingKind::Assignment {
                annotation: Some(range),
                ..
            } => Some((binding, *range)),
            _ => None,
        });
        if let Some((binding, (start, end))) = declared {
            let BindingKind::Parameter { star: true, .. } = binding.kind else {
                return written(start, end);
            };
            let element = self.spliced.text.get(start..end)?;
            let prefix = self.spliced.text.get(..binding.start)?;
            let text = if prefix.ends_with("**") {
                format!("dict[str, {element}]")
            } else {
                format!("tuple[{element}, ...]")
            };
            return Some(Shape::Written {
                module: self.module_name.to_string(),
                text,
            });
        }
        let [binding] = bindings.as_slice() else {
            return None;
        };
        match &binding.kind {
            BindingKind::Assignment {
                value: Some((start, end)),
                annotation: None,
            } => {
                let value = self
                    .spliced
                    .tree
                    .root_node()
                    .descendant_for_byte_range(*start, *end)?;
                if value.start_byte() != *start || value.end_byte() != *end {
                    return None;
                }
                self.expression_shape(value, depth + 1)
            }
            BindingKind::Other => self.target_shape(binding.start, depth + 1),
            _ => None,
        }
    }

    /// Whether a name read at `node` is the builtin of that name.
    fn is_builtin(&self, node: Node) -> bool {
        matches!(
            self.scopes.resolve(self.text(node), self.scope_of(node)),
            Resolution::Builtin
        )
    }

    /// `Base[A, B]` read in `module`: which container `Base` is and the arguments as written.
    fn generic(&self, module: &str, annotation: &str) -> Option<(Container, Vec<String>)> {
        let annotation = annotation
            .trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .trim();
        // `X | None` and `Optional[X]`: iterating assumes the value is there.
        let alternatives: Vec<&str> = split_top_level(annotation, '|')
            .into_iter()
            .map(str::trim)
            .filter(|part| *part != "None")
            .collect();
        let [annotation] = alternatives.as_slice() else {
            return None;
        };
        let (base, rest) = annotation.split_once('[')?;
        let inner = rest.trim_end().strip_suffix(']')?;
        let base = base.trim();
        let name = match resolve_dotted(self.modules, module, base) {
            Some(Symbol::External(dotted)) => {
                let (prefix, name) = dotted.rsplit_once('.')?;
                if !matches!(
                    prefix,
                    "typing" | "typing_extensions" | "collections" | "collections.abc" | "builtins"
                ) {
                    return None;
                }
                name.to_string()
            }
            None if crate::check::names::is_builtin(base) => base.to_string(),
            _ => return None,
        };
        if matches!(name.as_str(), "Optional") {
            return self.generic(module, inner);
        }
        let kind = container(&name)?;
        let arguments: Vec<String> = split_top_level(inner, ',')
            .into_iter()
            .map(|argument| argument.trim().to_string())
            .filter(|argument| !argument.is_empty())
            .collect();
        if arguments.is_empty() {
            return None;
        }
        Some((kind, arguments))
    }
}
