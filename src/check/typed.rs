//! The typed checks: unknown members, bad calls and unresolved imports, as the semantic layer
//! (ty's inference) finds them, turned into the checks' problems.
//!
//! They run after the fast syntax and name checks pass, on the document with the candidate in
//! place, and report only what the candidate introduced (`Semantic::introduced`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tree_sitter::Tree;

use super::{CallProblem, Problem, ProblemKind, Spliced};
use crate::index::Index;
use crate::index::ModuleSource as _;
use crate::semantic::{Finding, Semantic, INVALID_SYNTAX, UNKNOWN_RECEIVER, UNREAD_STORE};
use crate::store::parse_python;

/// A document the semantic layer can analyse: its workspace's layer, the file's path, and the
/// workspace's index when there is one (it knows which classes get members at run time).
#[derive(Debug, Clone)]
pub struct TypedFile {
    pub semantic: Arc<Semantic>,
    pub path: PathBuf,
    pub index: Option<Index>,
}

impl TypedFile {
    pub fn new(semantic: Arc<Semantic>, path: &Path) -> TypedFile {
        TypedFile {
            semantic,
            path: path.to_path_buf(),
            index: None,
        }
    }

    pub fn with_index(mut self, index: Index) -> TypedFile {
        self.index = Some(index);
        self
    }
}

/// The problems the candidate of `spliced` introduces, by ty's rules.
pub fn introduced_problems(spliced: &Spliced, typed: &TypedFile) -> Vec<Problem> {
    let findings = typed.semantic.introduced(
        &typed.path,
        &spliced.before.text,
        &spliced.text,
        spliced.start,
        spliced.end,
    );
    let judge = Judge {
        text: &spliced.text,
        tree: &spliced.tree,
        typed,
        before: Some(&spliced.before.text),
    };
    findings
        .iter()
        .filter(|finding| judge.keep(finding))
        .map(|finding| problem(&spliced.text, finding))
        .collect()
}

/// The problems of a whole document by ty's rules. Syntax errors and unresolved names are left to
/// the fast checks, which report them already.
pub fn document_problems(text: &str, typed: &TypedFile) -> Vec<Problem> {
    let findings: Vec<Finding> = typed
        .semantic
        .findings(&typed.path, text)
        .into_iter()
        .filter(|finding| finding.rule != INVALID_SYNTAX && finding.rule != "unresolved-reference")
        .collect();
    if findings.is_empty() {
        return Vec::new();
    }
    let Some(tree) = parse_python(text, None) else {
        return Vec::new();
    };
    let judge = Judge {
        text,
        tree: &tree,
        typed,
        before: None,
    };
    findings
        .iter()
        .filter(|finding| judge.keep(finding))
        .map(|finding| problem(text, finding))
        .collect()
}

/// The names the document binds through imports that do not resolve, each with the import's
/// module, for the document `before` as the user wrote it. Nothing checks how these names are
/// used (ty sees their type as unknown), so a candidate that uses them cannot be called verified.
pub fn unresolved_import_names(before: &super::Before, typed: &TypedFile) -> Vec<(String, String)> {
    let mut names = Vec::new();
    for finding in typed.semantic.findings(&typed.path, &before.text) {
        if finding.rule != "unresolved-import" {
            continue;
        }
        let module = first_quoted(&finding.message).unwrap_or("").to_string();
        let Some(node) = before
            .tree
            .root_node()
            .descendant_for_byte_range(finding.start, finding.end)
        else {
            continue;
        };
        let mut statement = Some(node);
        while let Some(current) = statement {
            if matches!(
                current.kind(),
                "import_statement" | "import_from_statement" | "future_import_statement"
            ) {
                break;
            }
            statement = current.parent();
        }
        let Some(statement) = statement else {
            continue;
        };
        let from = statement.kind() == "import_from_statement";
        let module_node = statement.child_by_field_name("module_name");
        let mut cursor = statement.walk();
        for child in statement.children_by_field_name("name", &mut cursor) {
            let bound = match child.kind() {
                "aliased_import" => child.child_by_field_name("alias"),
                _ => Some(child),
            };
            let Some(bound) = bound else { continue };
            let text = before.text.get(bound.byte_range()).unwrap_or("");
            // `import a.b` binds `a`; `from m import a` binds `a`.
            let name = if from || child.kind() == "aliased_import" {
                text
            } else {
                text.split('.').next().unwrap_or(text)
            };
            if module_node.is_some_and(|m| m.id() == child.id()) || name.is_empty() {
                continue;
            }
            names.push((name.trim().to_string(), module.clone()));
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Decides which of ty's findings are problems for spackle: those that are certain mistakes
/// whatever the code does at run time, as a model's invented member or argument is.
struct Judge<'a> {
    text: &'a str,
    tree: &'a Tree,
    typed: &'a TypedFile,
    /// The document without the candidate, when a candidate is judged.
    before: Option<&'a str>,
}

impl Judge<'_> {
    fn keep(&self, finding: &Finding) -> bool {
        let keep = !suppressed(self.text, finding.start, finding.end)
            && match finding.rule {
                "unresolved-attribute" | "possibly-missing-attribute" => {
                    self.member_is_unknown(finding)
                }
                UNKNOWN_RECEIVER => self.nothing_names(finding),
                UNREAD_STORE => self.store_is_misnamed(finding),
                "unresolved-import" => self.import_is_of_the_workspace(finding),
                // Of the argument types, only `None` where the parameter's declared type does not
                // take it: a certain crash, while other mismatches often reflect imprecise types.
                "invalid-argument-type" => finding.message.ends_with("found `None`"),
                rule if rule.contains("argument") => !calls_the_object_constructor(finding),
                _ => true,
            };
        if !keep {
            tracing::debug!(rule = finding.rule, message = %finding.message, "not a problem for spackle");
        }
        keep
    }

    /// A member counts as unknown when no type the receiver may have at run time has it.
    ///
    /// - An attribute store (ty: "Unresolved attribute `x` on type `T`") gives an object a new
    ///   attribute, which is legal Python and how some programs attach state to objects of
    ///   other classes (`response.connection = adapter`). It counts only on a class of the
    ///   workspace when no module of the workspace reads that member: then nothing can be
    ///   using what the store makes.
    /// - Dunder members (`__name__` of a callable) often exist at run time beyond what the
    ///   types declare, and models do not invent them.
    /// - In a union (ty: "Attribute `x` is not defined on `A`, `B` in union `U`"), the member
    ///   must be missing from every element and some element must be other than `None`:
    ///   `Cart | None` before narrowing names a real member, and the question is one of
    ///   narrowing, not what these checks are for.
    /// - A union with `Unknown` in it (ty's type for an attribute assigned without a
    ///   declaration is `Unknown | T`; ty words some of those findings "Attribute `x` may be
    ///   missing on object of type `U`") counts when every other element is a class of the
    ///   workspace whose family lacks the member and no class of the workspace defines a member
    ///   of that name: then the `Unknown` part is not some workspace object that has it.
    /// - A class of the workspace whose family gets members at run time (`__getattr__`,
    ///   `setattr`), or whose subclass defines the member (a mixin's `self`), may have it; so may
    ///   an object that the workspace fills with `setattr(name, computed, value)`, and any object
    ///   when the workspace gives some object that member from outside its class.
    fn member_is_unknown(&self, finding: &Finding) -> bool {
        let message = finding.message.as_str();
        let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
        let store = message.starts_with("Unresolved attribute");
        let possibly = message.contains("` may be missing on ");
        // Whether the index knows every one of these classes whole (so that the `Unknown` beside
        // them in a union is only ty's caution about undeclared attributes).
        let of_the_workspace = |elements: &[&str]| {
            self.typed.index.as_ref().is_some_and(|index| {
                elements.iter().all(|element| {
                    let name = class_name(element);
                    name.starts_with("Self@") || name.starts_with("Self'") || index.has_class(name)
                })
            })
        };
        // What `Unknown` may be: when some class of the workspace defines the member, the
        // unknown part may well be an instance of it.
        let unknown_may_have = |member: &str| {
            self.typed
                .index
                .as_ref()
                .is_none_or(|index| index.some_class_defines(member))
        };
        let (member, receivers): (&str, Vec<&str>) = if possibly && quoted.len() >= 2 {
            let known: Vec<&str> = union_elements(quoted[1])
                .into_iter()
                .filter(|element| !is_gradual(element) && *element != "None")
                .collect();
            if known.is_empty() || !of_the_workspace(&known) || unknown_may_have(quoted[0]) {
                return false;
            }
            (quoted[0], known)
        } else if message.starts_with("Attribute `") && quoted.len() >= 3 {
            let union = quoted[quoted.len() - 1];
            let missing: Vec<&str> = quoted[1..quoted.len() - 1]
                .iter()
                .copied()
                .filter(|element| *element != "None")
                .collect();
            let elements = union_elements(union);
            let has_it = elements.iter().any(|element| {
                !is_gradual(element) && *element != "None" && !missing.contains(element)
            });
            let gradual = elements.iter().any(|element| is_gradual(element));
            if has_it
                || missing.is_empty()
                || (gradual && (!of_the_workspace(&missing) || unknown_may_have(quoted[0])))
            {
                return false;
            }
            (quoted[0], missing)
        } else {
            match (quoted.first(), quoted.get(1)) {
                (Some(member), Some(receiver)) if store => (*member, union_elements(receiver)),
                (Some(receiver), Some(member)) if quoted.len() >= 2 => {
                    let member = quoted.last().copied().unwrap_or(member);
                    (member, union_elements(receiver))
                }
                _ => return false,
            }
        };
        // A store on an object of another library's class (a stdlib loader, a function) may be
        // for that library to read; one on the workspace's own class is read by the workspace
        // if by anyone.
        if store
            && (!of_the_workspace(&receivers)
                || self
                    .typed
                    .index
                    .as_ref()
                    .is_none_or(|index| index.member_is_read(member)))
        {
            return false;
        }
        if member.starts_with("__") && member.ends_with("__") {
            return false;
        }
        // A value typed `object` is untyped code's "anything" (a `getattr` default, an element
        // of an untyped container), not a claim that it has no members.
        if receivers
            .iter()
            .any(|receiver| class_name(receiver) == "object")
        {
            return false;
        }
        let Some(index) = &self.typed.index else {
            return true;
        };
        let source = self.text.get(finding.start..finding.end).unwrap_or("");
        let receiver_text = source
            .rsplit_once('.')
            .map_or("", |(receiver, _)| receiver.trim());
        let is_dotted_name = !receiver_text.is_empty()
            && receiver_text
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
        if is_dotted_name {
            let last = receiver_text.rsplit('.').next().unwrap_or(receiver_text);
            if index.is_dynamic_object(last) {
                return false;
            }
        }
        // The workspace gives objects this member from outside their class (a factory's
        // `type(name, bases, namespace)`, `form_set.extra = 1`, a middleware's
        // `request.user = ...`): the types cannot say which objects have it.
        if !store && index.member_is_assigned(member) {
            return false;
        }
        !receivers.iter().any(|receiver| {
            let name = class_name(receiver);
            let own = name.starts_with("Self@") || name.starts_with("Self'");
            let class = if own {
                self.enclosing_class(finding.start)
            } else {
                Some(name)
            };
            // A mixin for hosts outside the workspace (no subclass here, no state of its own)
            // reads its `self` state from classes the workspace does not show; those hosts are
            // somewhere in the program's world, which names the members they give.
            let module = own
                .then(|| index.module_name_of(&self.typed.path))
                .flatten();
            class.is_some_and(|class| {
                let family = index.class_family(module.as_deref(), class);
                family.may_have(member)
                    || ((family.reaches_outside() || family.sets_computed_members())
                        && !self.world_never_names(member))
                    || (own && family.is_stateless() && !self.world_never_names(member))
                    || index.implementation_defines(class, member)
            })
        })
    }

    /// A member read on a value ty types as `Unknown` counts when nothing in the program's world
    /// spells its name: no code, string or comment of the workspace or the document, of the
    /// installed packages, or of the standard library's stubs. Whatever the value is at run
    /// time, its class is defined somewhere in that world, and a member it has is named there
    /// (or computed, which strings and `setattr` show). The world must be known whole: without
    /// an index, while it is being built or when the workspace passes its file limit, or with
    /// more installed packages than the vocabulary reads, nothing counts.
    fn nothing_names(&self, finding: &Finding) -> bool {
        self.world_never_names(member_read(self.text, finding))
    }

    /// A candidate's store to `self.name` while its class reads a member of `self` that nothing
    /// assigns counts when that read is a certain unknown member (`member_is_unknown`) and nothing
    /// in the program's world but the candidate names the stored member: no code can read what the
    /// store makes, and the class still lacks what it reads, so the store most likely misnames it.
    fn store_is_misnamed(&self, finding: &Finding) -> bool {
        let Some(read) = &finding.cause else {
            return false;
        };
        self.member_is_unknown(read) && self.world_never_names(member_read(self.text, finding))
    }

    /// Whether nothing in the program's world spells `member`: no code, string or comment of the
    /// workspace or of the document before the candidate, of the installed packages, or of the
    /// standard library's stubs. `false` when that world is not known whole (see `nothing_names`).
    fn world_never_names(&self, member: &str) -> bool {
        let (Some(index), Some(before)) = (&self.typed.index, self.before) else {
            return false;
        };
        if !index.is_whole() {
            return false;
        }
        if member.is_empty() || (member.starts_with("__") && member.ends_with("__")) {
            return false;
        }
        let installed = index.environment().vocabulary();
        let named = index.mentions(member)
            || crate::index::vocabulary::spells(before, member)
            || !installed.is_complete()
            || installed.contains(member)
            || crate::semantic::stdlib_vocabulary().contains(member);
        !named
    }

    /// The name of the class whose body holds `offset`.
    fn enclosing_class(&self, offset: usize) -> Option<&str> {
        let path = super::path_to(self.tree.root_node(), offset, offset);
        let class = path
            .iter()
            .rev()
            .find(|node| node.kind() == "class_definition")?;
        let name = class.child_by_field_name("name")?;
        self.text.get(name.byte_range())
    }

    /// Unresolved imports count only for the workspace's own modules (a relative import, or a
    /// top-level name the workspace has): an installed package may simply be missing here.
    fn import_is_of_the_workspace(&self, finding: &Finding) -> bool {
        let Some(module) = first_quoted(&finding.message) else {
            return false;
        };
        // A module importing a name it defines from itself (a demo under `if __name__ ==
        // "__main__":`) gets a second copy of itself at run time, with that name in it.
        let member = finding.message.split('`').nth(3);
        let defines_it = self.typed.index.as_ref().is_some_and(|index| {
            index.module_name_of(&self.typed.path).as_deref() == Some(module)
                && member.is_some_and(|member| {
                    index.module(module).is_some_and(|info| {
                        info.classes.iter().any(|class| class.name == member)
                            || info
                                .functions
                                .iter()
                                .any(|function| function.name == member)
                            || info
                                .variables
                                .iter()
                                .any(|variable| variable.name == member)
                    })
                })
        });
        if defines_it {
            return false;
        }
        if module.starts_with('.') {
            return true;
        }
        let top = module.split('.').next().unwrap_or(module);
        let root = self.typed.semantic.root();
        !top.is_empty() && (root.join(top).is_dir() || root.join(format!("{top}.py")).is_file())
    }
}

/// A call that ty checked against `object.__init__` or `object.__new__`: the class defines no
/// constructor, so the real one most likely comes from a decorator or metaclass that the types
/// do not show (attrs' `@attr.s`, ORMs).
fn calls_the_object_constructor(finding: &Finding) -> bool {
    finding.message.contains("`object.__init__`") || finding.message.contains("`object.__new__`")
}

/// `Unknown` and `Any` have every member, and so does an intersection with one of them.
fn is_gradual(element: &str) -> bool {
    matches!(element, "Unknown" | "Any")
        || element.starts_with("Unknown & ")
        || element.starts_with("Any & ")
}

/// The top-level elements of a displayed union type: `A | list[B | C]` → `A`, `list[B | C]`.
fn union_elements(union: &str) -> Vec<&str> {
    let mut elements = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (at, byte) in union.bytes().enumerate() {
        match byte {
            b'[' | b'(' => depth += 1,
            b']' | b')' => depth = depth.saturating_sub(1),
            b'|' if depth == 0 => {
                elements.push(union[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    elements.push(union[start..].trim());
    elements
}

/// The class a displayed type names: `type[pkg.Cart]`, `Cart[int]` or `Cart & ~AlwaysFalsy` →
/// `Cart`.
fn class_name(displayed: &str) -> &str {
    // `<super: <class 'Mixin'>, Self@m>`: at run time `super()` reaches the classes after
    // `Mixin` in the instance's MRO, which the index answers for `Mixin` (its subclasses' bases).
    if let Some(rest) = displayed.strip_prefix("<super: <class '") {
        return rest.split('\'').next().unwrap_or(rest);
    }
    // A class object: `<class 'Table'>`.
    if let Some(rest) = displayed.strip_prefix("<class '") {
        let name = rest.split('\'').next().unwrap_or(rest);
        return name.rsplit('.').next().unwrap_or(name);
    }
    let mut name = displayed.split(" & ").next().unwrap_or(displayed).trim();
    if let Some(inner) = name
        .strip_prefix("type[")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        name = inner;
    }
    let name = name.split('[').next().unwrap_or(name);
    name.rsplit('.').next().unwrap_or(name)
}

/// Whether a `# type: ignore[...]`, `# pyright: ignore[...]` or `# ty: ignore[...]` comment, with
/// any codes, sits on a line of `start..end`. ty honours only its own codes; a line the user
/// marked for another checker is one they know to be beyond static types.
pub(crate) fn suppressed(text: &str, start: usize, end: usize) -> bool {
    let first = text[..start.min(text.len())]
        .rfind('\n')
        .map_or(0, |at| at + 1);
    let last = text[end.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |at| end.min(text.len()) + at);
    text[first..last].lines().any(|line| {
        line.match_indices('#').any(|(at, _)| {
            let comment = line[at + 1..].trim_start();
            ["type:", "pyright:", "ty:"].iter().any(|prefix| {
                comment
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.trim_start().starts_with("ignore"))
            })
        })
    })
}

fn problem(text: &str, finding: &Finding) -> Problem {
    let source = text.get(finding.start..finding.end).unwrap_or("");
    let (kind, name) = match finding.rule {
        "unresolved-attribute" | "possibly-missing-attribute" | UNKNOWN_RECEIVER | UNREAD_STORE => {
            (
                ProblemKind::UnknownMember,
                member_read(text, finding).to_string(),
            )
        }
        "unresolved-reference" => (ProblemKind::UnresolvedName, source.to_string()),
        "unresolved-import" => (
            ProblemKind::UnresolvedImport,
            first_quoted(&finding.message).unwrap_or(source).to_string(),
        ),
        "too-many-positional-arguments" => (
            ProblemKind::Call(CallProblem::TooManyPositional),
            callee(finding, source),
        ),
        "unknown-argument" => (
            ProblemKind::Call(CallProblem::UnknownKeyword),
            callee(finding, source),
        ),
        "missing-argument" => (
            ProblemKind::Call(CallProblem::MissingArgument),
            callee(finding, source),
        ),
        "invalid-argument-type" => {
            let function = first_quoted(&finding.message).unwrap_or(source);
            (
                ProblemKind::Call(CallProblem::NoneArgument),
                function.rsplit('.').next().unwrap_or(function).to_string(),
            )
        }
        "parameter-already-assigned" => (
            ProblemKind::Call(CallProblem::AlreadyAssigned),
            callee(finding, source),
        ),
        _ => (ProblemKind::Syntax, source.to_string()),
    };
    // ty locates a missing member at the whole `receiver.member`; the member's name is the mistake.
    let start = if kind == ProblemKind::UnknownMember
        && !name.is_empty()
        && source.ends_with(name.as_str())
    {
        finding.end - name.len()
    } else {
        finding.start
    };
    Problem {
        kind,
        message: super::bounded_message(without_string_literals(&finding.message)),
        name,
        start,
        end: finding.end,
        line: line_of(text, start),
    }
}

/// The called function's name as the message gives it (its last dotted part), else the text.
fn callee(finding: &Finding, source: &str) -> String {
    let quoted = finding.message.split('`').skip(1).step_by(2).last();
    match quoted {
        Some(name) => name
            .rsplit('.')
            .next()
            .unwrap_or(name)
            .trim_end_matches("()")
            .to_string(),
        None => source.to_string(),
    }
}

/// The message with the text of string literal types left out (`Literal["sk-..."]` becomes
/// `Literal["..."]`): ty infers the literal value of a constant, which may be a secret, and
/// problems go back to the model.
fn without_string_literals(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("Literal[") {
        let (before, literal) = rest.split_at(at + "Literal[".len());
        out.push_str(before);
        let mut chars = literal.char_indices().peekable();
        let mut end = literal.len();
        let mut quote = None;
        while let Some((index, c)) = chars.next() {
            match (quote, c) {
                (None, ']') => {
                    end = index;
                    break;
                }
                (None, '"' | '\'') => {
                    quote = Some(c);
                    out.push(c);
                    out.push_str("...");
                }
                (None, _) => out.push(c),
                (Some(_), '\\') => {
                    chars.next();
                }
                (Some(open), _) if c == open => {
                    quote = None;
                    out.push(c);
                }
                (Some(_), _) => {}
            }
        }
        rest = &literal[end..];
    }
    out.push_str(rest);
    out
}

/// The member a finding on `receiver.member` is about.
fn member_read<'t>(text: &'t str, finding: &Finding) -> &'t str {
    let source = text.get(finding.start..finding.end).unwrap_or("");
    source.rsplit('.').next().unwrap_or(source).trim()
}

fn first_quoted(message: &str) -> Option<&str> {
    message.split('`').nth(1)
}

fn line_of(text: &str, offset: usize) -> u32 {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count() as u32
}

#[cfg(test)]
mod tests {

    #[test]
    fn string_literal_types_lose_their_text() {
        assert_eq!(
            super::without_string_literals(
                "Object of type `Literal[\"sk-live\", 'x]y']` has no attribute `foo`; `Literal[1]`"
            ),
            "Object of type `Literal[\"...\", '...']` has no attribute `foo`; `Literal[1]`"
        );
    }

    use super::super::{check_candidate, check_document, ProblemKind};
    use crate::check::test_support::cursor;
    use crate::semantic::test_support::Workspace;

    const BASE: &str = "class Base:\n    def save(self, force: bool = False) -> None:\n        pass\n\n    def total(self) -> float:\n        return 0.0\n";
    const MODELS: &str = "from .base import Base\n\n\nclass Cart(Base):\n    def __init__(self) -> None:\n        self.items: list[int] = []\n        self.owner = None\n\n    def add(self, item: int, *, quantity: int = 1) -> None:\n        self.items.append(item)\n\n    @property\n    def count(self) -> int:\n        return len(self.items)\n\n    def __repr__(self) -> str:\n        return \"Cart\"\n\n\nclass Loose:\n    def __getattr__(self, name: str) -> int:\n        return 0\n";

    fn workspace() -> Workspace {
        Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/base.py", BASE),
            ("shop/models.py", MODELS),
            ("shop/checkout.py", ""),
        ])
    }

    /// The names of the problems `candidate` introduces at `<CURSOR>` in `fixture`, as
    /// `shop/checkout.py`.
    fn problems(
        workspace: &Workspace,
        fixture: &str,
        candidate: &str,
    ) -> Vec<(ProblemKind, String)> {
        let (document, offset) = cursor(fixture);
        let typed = workspace.typed("shop/checkout.py");
        check_candidate(&document, offset, candidate, Some(&typed))
            .into_iter()
            .map(|problem| (problem.kind, problem.name))
            .collect()
    }

    fn member(name: &str) -> (ProblemKind, String) {
        (ProblemKind::UnknownMember, name.to_string())
    }

    const TAKES_CART: &str =
        "from shop.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    <CURSOR>\n";

    #[test]
    fn members_inherited_from_a_base_in_another_module_are_known() {
        let workspace = workspace();
        assert_eq!(
            problems(&workspace, TAKES_CART, "return cart.total()"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, TAKES_CART, "return cart.totl()"),
            vec![member("totl")]
        );
        assert_eq!(
            problems(&workspace, TAKES_CART, "return cart.count.bit_length()"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, TAKES_CART, "return cart.count.price"),
            vec![member("price")]
        );
    }

    #[test]
    fn attributes_of_self_and_super_are_known_inside_a_subclass() {
        let workspace = workspace();
        let fixture = "from shop.models import Cart\n\n\nclass Special(Cart):\n    def save(self, force: bool = False) -> None:\n        <CURSOR>\n";
        assert_eq!(
            problems(&workspace, fixture, "self.items.append(1)"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, fixture, "self.itemz.append(1)"),
            vec![member("itemz")]
        );
        assert_eq!(problems(&workspace, fixture, "super().save(force)"), vec![]);
        assert_eq!(
            problems(&workspace, fixture, "super().store(force)"),
            vec![member("store")]
        );
    }

    #[test]
    fn string_annotations_and_type_checking_imports_give_types() {
        let workspace = workspace();
        let fixture = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from shop.models import Cart\n\n\ndef pay(cart: \"Cart\") -> float:\n    <CURSOR>\n";
        assert_eq!(problems(&workspace, fixture, "return cart.total()"), vec![]);
        assert_eq!(
            problems(&workspace, fixture, "return cart.grand_total()"),
            vec![member("grand_total")]
        );
    }

    #[test]
    fn optional_values_are_judged_after_narrowing() {
        let workspace = workspace();
        let fixture = "from shop.models import Cart\n\n\ndef pay(cart: Cart | None) -> float:\n    if cart is None:\n        return 0.0\n    <CURSOR>\n";
        assert_eq!(problems(&workspace, fixture, "return cart.total()"), vec![]);
        assert_eq!(
            problems(&workspace, fixture, "return cart.totl()"),
            vec![member("totl")]
        );
    }

    #[test]
    fn calls_are_checked_against_signatures_from_other_modules() {
        let workspace = workspace();
        let call = |kind| ProblemKind::Call(kind);
        use super::CallProblem::*;
        assert_eq!(
            problems(
                &workspace,
                TAKES_CART,
                "cart.add(1, quantity=2)\n    return 0.0"
            ),
            vec![]
        );
        assert_eq!(
            problems(&workspace, TAKES_CART, "cart.add(1, 2)\n    return 0.0"),
            vec![(call(TooManyPositional), "add".to_string())]
        );
        assert_eq!(
            problems(&workspace, TAKES_CART, "cart.add(1, qty=2)\n    return 0.0"),
            vec![(call(UnknownKeyword), "add".to_string())]
        );
        assert_eq!(
            problems(&workspace, TAKES_CART, "cart.add()\n    return 0.0"),
            vec![(call(MissingArgument), "add".to_string())]
        );
        assert_eq!(
            problems(
                &workspace,
                TAKES_CART,
                "cart.add(1, item=1)\n    return 0.0"
            ),
            vec![(call(AlreadyAssigned), "add".to_string())]
        );
    }

    #[test]
    fn dynamic_objects_stay_silent() {
        let workspace = workspace();
        let fixture = "from shop.models import Cart, Loose\n\n\ndef pay(cart: Cart, loose: Loose, name: str, anything) -> float:\n    <CURSOR>\n";
        assert_eq!(
            problems(&workspace, fixture, "return loose.whatever"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, fixture, "return getattr(cart, name).whatever"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, fixture, "return anything.whatever(1, 2, 3)"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, fixture, "return cart.owner.whatever"),
            vec![],
            "an attribute only ever None stays unknown"
        );
    }

    #[test]
    fn only_imports_of_the_workspace_must_resolve() {
        let workspace = workspace();
        let fixture = "<CURSOR>\n";
        assert_eq!(
            problems(&workspace, fixture, "from shop.models import Cart"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, fixture, "from shop.modelz import Cart"),
            vec![(ProblemKind::UnresolvedImport, "shop.modelz".to_string())]
        );
        assert_eq!(
            problems(
                &workspace,
                fixture,
                "import some_package_not_installed_here"
            ),
            vec![]
        );
        let own = "def pay() -> None:\n    pass\n\n\nif __name__ == \"__main__\":\n    <CURSOR>\n";
        let workspace_with_pay = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/checkout.py", &own.replace("<CURSOR>", "pass")),
        ]);
        assert_eq!(
            problems(
                &workspace_with_pay,
                own,
                "from shop.checkout import pay as run"
            ),
            vec![],
            "a module may import what it defines from itself"
        );
        assert_eq!(
            problems(&workspace_with_pay, own, "from shop.checkout import payy"),
            vec![(ProblemKind::UnresolvedImport, "shop.checkout".to_string())]
        );
        let relative = problems(&workspace, fixture, "from .modelz import Cart");
        assert_eq!(
            relative,
            vec![(ProblemKind::UnresolvedImport, ".modelz".to_string())]
        );
    }

    #[test]
    fn a_problem_the_document_already_had_is_not_the_candidates() {
        let workspace = workspace();
        let fixture = "from shop.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    <CURSOR>\n\n\ndef other(cart: Cart) -> float:\n    return cart.missing_already\n";
        assert_eq!(problems(&workspace, fixture, "return cart.total()"), vec![]);
        assert_eq!(
            problems(&workspace, fixture, "return cart.totl()"),
            vec![member("totl")]
        );
        assert_eq!(
            problems(&workspace, fixture, "return cart.totl()  # type: ignore"),
            vec![]
        );
    }

    #[test]
    fn a_document_reports_what_its_own_code_gets_wrong() {
        let workspace = workspace();
        let text = "from shop.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    cart.add(1, 2)\n    return cart.totl()\n";
        let typed = workspace.typed("shop/checkout.py");
        let names: Vec<(ProblemKind, String)> = check_document(text, Some(&typed))
            .into_iter()
            .map(|problem| (problem.kind, problem.name))
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    ProblemKind::Call(super::CallProblem::TooManyPositional),
                    "add".to_string()
                ),
                member("totl")
            ]
        );
    }

    #[test]
    fn names_on_lines_marked_for_a_type_checker_are_not_reported() {
        let text = "try:\n    get_ipython  # type: ignore[name-defined]\nexcept NameError:\n    pass\nshell = get_ipython()  # pyright: ignore\nother = undefined_thing\n";
        let names: Vec<String> = check_document(text, None)
            .into_iter()
            .map(|problem| problem.name)
            .collect();
        assert_eq!(names, ["undefined_thing"]);
        // In a candidate the comment is the model's own text: it hides nothing.
        let candidate = check_candidate(
            "def f():\n    \n",
            13,
            "return undefined_thing  # type: ignore",
            None,
        );
        assert_eq!(candidate.len(), 1, "{candidate:?}");
    }

    const OPEN_WORLD: &str = "import functools\n\n\nclass RedirectMixin:\n    def rebuild(self) -> bool:\n        return True\n\n\nclass Session(RedirectMixin):\n    def __init__(self) -> None:\n        self.trust_env = True\n\n\nclass Lookup(dict):\n    pass\n\n\ncodes = Lookup()\nfor title in (\"ok\", \"found\"):\n    setattr(codes, title, 200)\n\n\nclass Live:\n    def stop(self) -> None:\n        pass\n\n\nclass Progress:\n    def __init__(self, live) -> None:\n        self.live = Live() if live else live\n\n\nclass Made:\n    pass\n\n\nclass Undeclared:\n    def __init__(self) -> None:\n        self.live = Live()\n\n\nclass Conditional:\n    if len(\"x\") > 3:\n        maybe = 1\n\n\nclass Pausable:\n    def pause(self) -> None:\n        pass\n\n\ndef attach(live: Live) -> None:\n    live.owner = 1\n\n\ndef owner_of(thing: object) -> object:\n    return getattr(thing, \"owner\", None)\n";

    fn open_world() -> Workspace {
        Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/world.py", OPEN_WORLD),
            ("shop/checkout.py", ""),
        ])
    }

    #[test]
    fn members_the_workspace_supplies_at_run_time_are_not_unknown() {
        // The mixin's own module, as the index has it from the open buffer.
        let mixin = "class SessionMixin:\n    def rebuild(self) -> bool:\n        <CURSOR>\n";
        let session = "from shop.checkout import SessionMixin\n\n\nclass Transport:\n    def send(self) -> int:\n        return 1\n\n\nclass Session(SessionMixin, Transport):\n    def __init__(self) -> None:\n        self.trust_env = True\n";
        let workspace = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/checkout.py", &mixin.replace("<CURSOR>", "")),
            ("shop/sessions.py", session),
        ]);
        assert_eq!(
            problems(&workspace, mixin, "return self.trust_env"),
            vec![],
            "a subclass defines it"
        );
        assert_eq!(
            problems(&workspace, mixin, "return self.trust_envv"),
            vec![member("trust_envv")]
        );
        // A factory builds the subclasses that give the base's `self` its settings.
        let base = "class BaseFormSet:\n    def __init__(self) -> None:\n        self.forms: list[int] = []\n\n    def total(self) -> int:\n        <CURSOR>\n";
        let factory = "from shop.checkout import BaseFormSet\n\n\ndef formset_factory(extra: int, formset=BaseFormSet):\n    attrs = {\"extra\": extra, \"max_num\": 1000}\n    made = type(\"FormSet\", (formset,), attrs)\n    made.prefix = \"form\"\n    return made\n";
        let workspace = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/checkout.py", &base.replace("<CURSOR>", "")),
            ("shop/factories.py", factory),
        ]);
        assert_eq!(
            problems(
                &workspace,
                base,
                "return self.extra + self.max_num + len(self.prefix)"
            ),
            vec![],
            "the factory gives them"
        );
        assert_eq!(
            problems(&workspace, base, "return self.extras"),
            vec![member("extras")]
        );
        // A mixin for hosts outside the workspace reads what those hosts give, which the world
        // names; what nothing names, no host gives.
        let outside = "class AccessMixin:\n    login_url = None\n\n    def deny(self) -> object:\n        <CURSOR>\n";
        let views = "class View:\n    def setup(self) -> None:\n        self.request = 1\n";
        let workspace = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/checkout.py", &outside.replace("<CURSOR>", "")),
            ("shop/views.py", views),
        ]);
        assert_eq!(problems(&workspace, outside, "return self.request"), vec![]);
        assert_eq!(
            problems(&workspace, outside, "return self.request_all"),
            vec![member("request_all")]
        );
        // Members set by computed names (`setattr(self, key, value)`) come from names the
        // program spells elsewhere (here the keyword at the call).
        let extended = "class Environment:\n    def extend(self, **attributes: object) -> None:\n        for key, value in attributes.items():\n            setattr(self, key, value)\n\n    def render(self) -> object:\n        <CURSOR>\n";
        let workspace = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/checkout.py", &extended.replace("<CURSOR>", "")),
            (
                "shop/ext.py",
                "def install(environment):\n    environment.extend(install_gettext=1)\n",
            ),
        ]);
        assert_eq!(
            problems(&workspace, extended, "return self.install_gettext"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, extended, "return self.install_gettexts"),
            vec![member("install_gettexts")]
        );
        // A subclass of a class with state is not a mixin.
        let derived = "class Signer:\n    def __init__(self, key: str) -> None:\n        self.key = key\n\n\nclass TimestampSigner(Signer):\n    def validate(self, value: str) -> object:\n        <CURSOR>\n";
        let workspace = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/checkout.py", &derived.replace("<CURSOR>", "")),
            (
                "shop/views.py",
                "def setup(request):\n    return request.unsign\n",
            ),
        ]);
        assert_eq!(
            problems(&workspace, derived, "return self.unsign(value)"),
            vec![member("unsign")]
        );
        let workspace = open_world();
        let codes = "from shop.world import codes\n\n\ndef status() -> int:\n    <CURSOR>\n";
        assert_eq!(
            problems(&workspace, codes, "return codes.found"),
            vec![],
            "setattr fills it"
        );
    }

    #[test]
    fn an_undeclared_attribute_has_its_values_type_and_a_type_joined_with_unknown_any_member() {
        let workspace = open_world();
        let fixture = "from shop.world import Conditional, Live, Undeclared\n\n\ndef finish(u: Undeclared, c: Conditional, other, flag: bool) -> object:\n    <CURSOR>\n";
        assert_eq!(
            problems(&workspace, fixture, "return u.live.stop()"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, fixture, "return u.live.stops()"),
            vec![member("stops")]
        );
        assert_eq!(
            problems(&workspace, fixture, "return c.maybe"),
            vec![],
            "defined under a condition"
        );
        assert_eq!(
            problems(
                &workspace,
                fixture,
                "live = Live() if flag else other\n    return live.pause()"
            ),
            vec![],
            "`Live | Unknown`: the unknown part may be a `Pausable`"
        );
        assert_eq!(
            problems(
                &workspace,
                fixture,
                "live = Live() if flag else other\n    return live.stops()"
            ),
            vec![member("stops")],
            "`Live | Unknown`: no class of the workspace has `stops`"
        );
    }

    #[test]
    fn a_member_of_an_untyped_value_counts_when_nothing_in_the_world_names_it() {
        let helpers = "RETRY_HEADER = \"retry_after\"\n\n\nclass Reply:\n    def __init__(self) -> None:\n        self.status_code = 200\n";
        let workspace = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/helpers.py", helpers),
            ("shop/checkout.py", ""),
        ]);
        let untyped = "def fetch(response):\n    <CURSOR>\n";
        for known in [
            "return response.status_code",
            "return response.read()",
            "return response.retry_after",
            "return response.__wrapped__",
            "response.status_codes = 1",
        ] {
            assert_eq!(problems(&workspace, untyped, known), vec![], "{known}");
        }
        assert_eq!(
            problems(&workspace, untyped, "return response.status_codes"),
            vec![member("status_codes")]
        );
        // Narrowing an untyped value by `isinstance` leaves ty's type partly unknown.
        let narrowed = "from shop.helpers import Reply\n\n\ndef fetch(response):\n    if isinstance(response, Reply):\n        <CURSOR>\n";
        assert_eq!(
            problems(&workspace, narrowed, "return response.status_codes"),
            vec![member("status_codes")]
        );
        assert_eq!(
            problems(&workspace, narrowed, "return response.status_code"),
            vec![]
        );
        let mentioned = "# response.status_codes is filled in by the proxy\ndef fetch(response):\n    <CURSOR>\n";
        assert_eq!(
            problems(&workspace, mentioned, "return response.status_codes"),
            vec![],
            "the document names it"
        );
        // A module nobody can read has names nobody knows: a value it may have made is not
        // judged, a value the workspace's callers give still is.
        let holes = "import not_installed_anywhere\nfrom not_installed_anywhere import Client\n\n\nclass Session:\n    def __init__(self, transport, client: Client) -> None:\n        self.transport = transport\n        self.client = client\n        self.pool = not_installed_anywhere.Pool()\n\n    def send(self, response):\n        reply = not_installed_anywhere.get()\n        <CURSOR>";
        for opaque in [
            "return reply.status_codes",
            "return not_installed_anywhere.status_codes",
            "return Client().status_codes",
            "return self.client.status_codes",
            "return self.pool.status_codes",
            "return [item.status_codes for item in reply]",
        ] {
            assert_eq!(problems(&workspace, holes, opaque), vec![], "{opaque}");
        }
        for from_callers in [
            "return response.status_codes",
            "first = response.items[0]\n        return first.status_codes",
            "return self.transport.status_codes",
            "return [item.status_codes for item in response]",
        ] {
            assert_eq!(
                problems(&workspace, holes, from_callers),
                vec![member("status_codes")],
                "{from_callers}"
            );
        }
        // An annotation that names a known type leaves the value the callers'; a string does not
        // say where it comes from.
        let annotated = "import not_installed_anywhere\n\n\ndef total(items: list, other: \"not_installed_anywhere.Client\"):\n    <CURSOR>\n";
        assert_eq!(
            problems(
                &workspace,
                annotated,
                "return [item.status_codes for item in items]"
            ),
            vec![member("status_codes")]
        );
        assert_eq!(
            problems(&workspace, annotated, "return other.status_codes"),
            vec![]
        );
        // A class with a base nobody can read may get any member of `self` from it.
        let adapter = "from not_installed_anywhere import Client\n\n\nclass Adapter(Client):\n    def __init__(self, transport) -> None:\n        self.transport = transport\n\n    def send(self):\n        <CURSOR>\n";
        assert_eq!(
            problems(&workspace, adapter, "return self.transport.status_codes"),
            vec![]
        );
        // The installed packages' names count as the workspace's do.
        let workspace = Workspace::with_installed(
            &[("shop/__init__.py", ""), ("shop/checkout.py", "")],
            &[(
                "transport/__init__.py",
                "class Pool:\n    def status_codes(self): ...\n",
            )],
        );
        assert_eq!(
            problems(&workspace, untyped, "return response.status_codes"),
            vec![]
        );
        assert_eq!(
            problems(&workspace, untyped, "return response.status_code_all"),
            vec![member("status_code_all")]
        );
    }

    #[test]
    fn a_store_nothing_reads_misnames_the_member_its_class_reads_and_nothing_assigns() {
        let workspace = workspace();
        let fixture = "class Pattern:\n    def __init__(self, url: str) -> None:\n        <CURSOR>\n\n    def matches(self, other: str) -> bool:\n        return other.startswith(self.scheme)\n";
        assert_eq!(
            problems(&workspace, fixture, "self.scheme_all = url"),
            vec![member("scheme_all")]
        );
        assert_eq!(
            problems(&workspace, fixture, "self.scheme: str = url"),
            vec![]
        );
        assert_eq!(
            problems(
                &workspace,
                fixture,
                "self.scheme = url\n        self.port = 80"
            ),
            vec![],
            "the class lacks nothing: a new member is legal"
        );
        assert_eq!(
            problems(&workspace, fixture, "self.items = [url]"),
            vec![],
            "the workspace names `items`: something may read it"
        );
        let elsewhere = "class Pattern:\n    def __init__(self, url: str) -> None:\n        self.url = url\n\n    def parse(self) -> None:\n        <CURSOR>\n\n    def matches(self, other: str) -> bool:\n        return other.startswith(self.scheme)\n";
        assert_eq!(
            problems(&workspace, elsewhere, "self.scheme_all = self.url"),
            vec![member("scheme_all")],
            "any method of the class may be the one to assign it"
        );
    }

    #[test]
    fn stores_nobody_reads_are_problems_dunders_suppressed_lines_and_synthesized_constructors_not()
    {
        let workspace = open_world();
        let fixture = "from typing import Callable\n\nfrom shop.world import Live, Made\n\n\ndef use(live: Live, f: Callable[..., int]) -> object:\n    <CURSOR>\n";
        assert_eq!(
            problems(&workspace, fixture, "live.owner = 2\n    return live"),
            vec![],
            "the workspace reads `owner` (through getattr)"
        );
        assert_eq!(
            problems(&workspace, fixture, "f.extra = 1\n    return live"),
            vec![],
            "a function is not the workspace's to know"
        );
        assert_eq!(
            problems(&workspace, fixture, "live.extra = 1\n    return live"),
            vec![member("extra")],
            "nothing reads `extra`"
        );
        assert_eq!(problems(&workspace, fixture, "return f.__name__"), vec![]);
        assert_eq!(
            problems(
                &workspace,
                fixture,
                "return live.stopp()  # type: ignore[attr-defined]"
            ),
            vec![]
        );
        assert_eq!(
            problems(
                &workspace,
                fixture,
                "return live.stopp()  # pyright: ignore"
            ),
            vec![]
        );
        assert_eq!(
            problems(&workspace, fixture, "return live.stopp()  # noqa"),
            vec![member("stopp")]
        );
        assert_eq!(problems(&workspace, fixture, "return Made(1, 2)"), vec![]);
    }

    #[test]
    fn displayed_types_name_their_class_and_unions_split_at_the_top() {
        assert_eq!(super::class_name("type[pkg.Cart]"), "Cart");
        assert_eq!(super::class_name("Flask & ~AlwaysFalsy"), "Flask");
        assert_eq!(super::class_name("Box[int]"), "Box");
        assert_eq!(super::class_name("<class 'Table'>"), "Table");
        assert_eq!(
            super::class_name("<super: <class 'Mixin'>, Self@save>"),
            "Mixin"
        );
        assert_eq!(
            super::union_elements("A | list[B | C] | None"),
            ["A", "list[B | C]", "None"]
        );
    }
}
