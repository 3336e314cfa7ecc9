//! What the workspace's code says about members that no class definition shows: classes that get
//! their members at run time, subclasses that supply what a mixin uses, objects filled by
//! `setattr`. The typed checks ask before calling a member unknown.

use std::collections::HashSet;

use super::model::{ClassInfo, ModuleInfo};
use super::resolve::Symbol;
use super::Index;

/// The largest implementation file read beside a stub.
const MAX_IMPLEMENTATION_BYTES: usize = 4 << 20;

impl Index {
    /// The family of the workspace class named `class`, for the questions of what its instances
    /// may have at run time. At run time such an instance belongs to some subclass, whose other
    /// bases are mixed in too (a mixin's `self` reaches what its siblings define), so the family
    /// is the class, its subclasses, and every base of those.
    ///
    /// Classes are told apart by module: `module`, when given, is where `class` is defined, and a
    /// base is the class its name resolves to through the imports of the module that writes it
    /// (every class of that name when it does not resolve).
    pub fn class_family(&self, module: Option<&str>, class: &str) -> ClassFamily<'_> {
        let graph = ClassGraph::new(self);
        let named = graph.named(module, class);
        // What a type checker sees of the class: it and its bases.
        let mut ancestry: HashSet<usize> = HashSet::new();
        let mut pending = named.clone();
        while let Some(at) = pending.pop() {
            if ancestry.insert(at) {
                pending.extend(graph.bases(at));
            }
        }
        let mut members: HashSet<usize> = HashSet::new();
        let mut pending = named.clone();
        while let Some(at) = pending.pop() {
            if members.insert(at) {
                pending.extend(graph.subclasses(at));
            }
        }
        let mut pending: Vec<usize> = members.iter().copied().collect();
        while let Some(at) = pending.pop() {
            for base in graph.bases(at) {
                if members.insert(base) {
                    pending.push(base);
                }
            }
        }
        ClassFamily {
            graph,
            named,
            ancestry,
            members,
        }
    }

    /// Whether some module of the workspace gives the object named `name` attributes by computed
    /// name (`setattr(name, title, value)`).
    pub fn is_dynamic_object(&self, name: &str) -> bool {
        self.workspace_modules()
            .any(|module| module.dynamic_objects.iter().any(|object| object == name))
    }

    /// Whether the workspace defines a class named `class` (at any nesting).
    pub fn has_class(&self, class: &str) -> bool {
        let mut classes: Vec<&ClassInfo> = Vec::new();
        for module in self.workspace_modules() {
            collect(&module.classes, &mut classes);
        }
        classes.iter().any(|candidate| candidate.name == class)
    }

    /// Whether the implementation (`.py`) beside a stub (`.pyi`) of the workspace defines
    /// `member` in a class named `class`. The index, like a type checker, reads the stub; a
    /// stub may leave out what the code has (private helpers the package itself calls).
    pub fn implementation_defines(&self, class: &str, member: &str) -> bool {
        self.workspace_modules()
            .filter(|module| module.path.ends_with(".pyi"))
            .filter(|module| {
                let mut classes = Vec::new();
                collect(&module.classes, &mut classes);
                classes.iter().any(|candidate| candidate.name == class)
            })
            .any(|module| {
                let relative = &module.path[..module.path.len() - 1];
                let Ok(text) = std::fs::read_to_string(self.root().join(relative)) else {
                    return false;
                };
                if text.len() > MAX_IMPLEMENTATION_BYTES {
                    return false;
                }
                let Some(tree) = crate::store::parse_python(&text, None) else {
                    return false;
                };
                let implementation =
                    super::extract::extract_module(&module.name, relative, &text, &tree);
                let mut classes = Vec::new();
                collect(&implementation.classes, &mut classes);
                classes.iter().any(|candidate| {
                    candidate.name == class
                        && (candidate.dynamic_members || defines(candidate, member))
                })
            })
    }

    /// Whether some class of the workspace defines a member named `member`.
    pub fn some_class_defines(&self, member: &str) -> bool {
        let mut classes: Vec<&ClassInfo> = Vec::new();
        for module in self.workspace_modules() {
            collect(&module.classes, &mut classes);
        }
        classes.iter().any(|class| defines(class, member))
    }

    /// Whether some module of the workspace gives objects the member `name` from outside their
    /// class (`obj.name = ...`, `setattr(obj, "name", ...)`, a `type()` namespace).
    pub fn member_is_assigned(&self, name: &str) -> bool {
        self.workspace_modules().any(|module| {
            module
                .assigned_members
                .binary_search_by(|assigned| assigned.as_str().cmp(name))
                .is_ok()
        })
    }

    /// Whether some module of the workspace spells the identifier `name` (in code, a string or a
    /// comment).
    pub fn mentions(&self, name: &str) -> bool {
        let hash = super::vocabulary::identifier_hash(name);
        self.workspace_modules()
            .any(|module| module.identifiers.binary_search(&hash).is_ok())
    }

    /// Whether some module of the workspace reads the member `name` of something (`x.name`,
    /// `getattr(x, "name")`).
    pub fn member_is_read(&self, name: &str) -> bool {
        self.workspace_modules().any(|module| {
            module
                .member_reads
                .binary_search_by(|read| read.as_str().cmp(name))
                .is_ok()
        })
    }
}

/// A workspace class's family (see [`Index::class_family`]).
pub struct ClassFamily<'a> {
    graph: ClassGraph<'a>,
    /// The classes the family was asked for.
    named: Vec<usize>,
    /// Those and their bases: what a type checker sees of them.
    ancestry: HashSet<usize>,
    /// Those, their subclasses, and every base of these.
    members: HashSet<usize>,
}

impl ClassFamily<'_> {
    fn classes(&self) -> impl Iterator<Item = &ClassInfo> + '_ {
        self.members.iter().map(|&at| self.graph.classes[at].1)
    }

    /// Whether an instance may have `member` although no definition the checker sees shows it:
    /// a class of the family defines it, answers any member (`__getattr__`), has a metaclass
    /// other than `ABCMeta` (which can add anything when the class is created, as ORMs do), or
    /// is a descriptor (`__get__`: what a class attribute holding one gives is whatever
    /// `__get__` returns).
    pub fn may_have(&self, member: &str) -> bool {
        self.classes().any(|candidate| {
            answers_any_member(candidate)
                || has_custom_metaclass(candidate)
                || defines(candidate, "__get__")
                || defines(candidate, member)
        })
    }

    /// Whether some class of the family gives its instances members whose names it computes
    /// (`setattr(self, key, value)` over a mapping or keyword arguments): names that come from
    /// elsewhere in the program.
    pub fn sets_computed_members(&self) -> bool {
        self.classes()
            .any(|candidate| candidate.dynamic_members && !answers_any_member(candidate))
    }

    /// Whether some class of the family beyond what the checker sees has a base outside the
    /// workspace (a builtin, the standard library's, an installed package's): an instance that
    /// is one of those may get members from that base.
    pub fn reaches_outside(&self) -> bool {
        self.members
            .iter()
            .any(|at| !self.ancestry.contains(at) && self.graph.has_outside_base(*at))
    }

    /// Whether the class is a mixin for hosts outside the workspace: no workspace class derives
    /// from it, and neither it nor the workspace classes it derives from keep state (no
    /// constructor or `setUp`, no `self.x = ...`, no decorator such as `@dataclass`, no
    /// `__slots__`): a subclass of a class with state is that class's kind of object. The `self`
    /// its methods read belongs to a class the workspace does not show. (With subclasses in the
    /// workspace, [`ClassFamily::may_have`] answers from them instead.)
    pub fn is_stateless(&self) -> bool {
        let keeps_no_state = |candidate: &ClassInfo| {
            candidate.instance_attributes.is_empty()
                && candidate.decorators.is_empty()
                && candidate.slots.is_none()
                && !candidate.methods.iter().any(|method| {
                    matches!(
                        method.name.as_str(),
                        "__init__" | "__new__" | "__post_init__" | "setUp"
                    )
                })
        };
        !self.named.is_empty()
            && self.members.iter().all(|at| self.ancestry.contains(at))
            && self
                .ancestry
                .iter()
                .all(|&at| keeps_no_state(self.graph.classes[at].1))
    }
}

/// The workspace's classes (nested ones too), each with its module, and what their bases name.
struct ClassGraph<'a> {
    index: &'a Index,
    classes: Vec<(&'a ModuleInfo, &'a ClassInfo)>,
}

impl<'a> ClassGraph<'a> {
    fn new(index: &'a Index) -> ClassGraph<'a> {
        let mut classes = Vec::new();
        for module in index.workspace_modules() {
            let mut inside = Vec::new();
            collect(&module.classes, &mut inside);
            classes.extend(inside.into_iter().map(|class| (module.as_ref(), class)));
        }
        ClassGraph { index, classes }
    }

    /// The classes named `class`: those defined in `module` when it defines one, else all.
    fn named(&self, module: Option<&str>, class: &str) -> Vec<usize> {
        let all: Vec<usize> = (0..self.classes.len())
            .filter(|&at| self.classes[at].1.name == class)
            .collect();
        let local: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&at| Some(self.classes[at].0.name.as_str()) == module)
            .collect();
        if local.is_empty() {
            all
        } else {
            local
        }
    }

    /// The classes that `base`, written in `module`, may name: the one it resolves to through the
    /// module's definitions and imports, none for a class outside the workspace, every class of
    /// its name when it does not resolve.
    fn resolve(&self, module: &str, base: &str) -> Vec<usize> {
        let name = base_name(base);
        if name.is_empty() {
            return Vec::new();
        }
        let by_name = || {
            (0..self.classes.len())
                .filter(|&at| self.classes[at].1.name == name)
                .collect()
        };
        match super::resolve::resolve_dotted(self.index, module, base) {
            Some(Symbol::Class {
                module: defined_in,
                qualname,
            }) => {
                let last = qualname.rsplit('.').next().unwrap_or(&qualname);
                let found: Vec<usize> = (0..self.classes.len())
                    .filter(|&at| {
                        self.classes[at].0.name == defined_in && self.classes[at].1.name == last
                    })
                    .collect();
                if found.is_empty() {
                    by_name()
                } else {
                    found
                }
            }
            Some(Symbol::External(_)) => Vec::new(),
            _ => by_name(),
        }
    }

    fn bases(&self, at: usize) -> Vec<usize> {
        let (module, class) = self.classes[at];
        class
            .bases
            .iter()
            .flat_map(|base| self.resolve(&module.name, base))
            .collect()
    }

    /// Whether the class at `at` has a base that is no class of the workspace (a builtin, the
    /// standard library's, an installed package's).
    fn has_outside_base(&self, at: usize) -> bool {
        let (module, class) = self.classes[at];
        class.bases.iter().any(|base| {
            // `object` and the typing markers give instances nothing beyond dunders.
            let name = base_name(base);
            !matches!(name, "" | "object" | "Generic" | "Protocol" | "ABC")
                && self.resolve(&module.name, base).is_empty()
        })
    }

    /// The classes that name the class at `at` among their bases (directly, through a module, or
    /// under an alias of an import).
    fn subclasses(&self, at: usize) -> Vec<usize> {
        let name = self.classes[at].1.name.as_str();
        (0..self.classes.len())
            .filter(|&candidate| {
                let (module, class) = self.classes[candidate];
                class.bases.iter().any(|base| {
                    let written = base_name(base);
                    let may_name = written == name
                        || module.imports.iter().any(|import| {
                            import.bound == written
                                && import.name.as_deref().is_some_and(|imported| {
                                    imported.rsplit('.').next() == Some(name)
                                })
                        });
                    may_name && self.resolve(&module.name, base).contains(&at)
                })
            })
            .collect()
    }
}

/// Whether instances of the class answer any member read (`__getattr__`, `__getattribute__`).
fn answers_any_member(class: &ClassInfo) -> bool {
    defines(class, "__getattr__") || defines(class, "__getattribute__")
}

/// `metaclass=Meta` among the bases, other than `ABCMeta` (which adds no members).
fn has_custom_metaclass(class: &ClassInfo) -> bool {
    class.bases.iter().any(|base| {
        base.strip_prefix("metaclass")
            .and_then(|rest| rest.trim_start().strip_prefix('='))
            .is_some_and(|meta| {
                let meta = meta.trim();
                let name = meta.rsplit('.').next().unwrap_or(meta);
                !matches!(name, "ABCMeta" | "type")
            })
    })
}

fn collect<'a>(classes: &'a [ClassInfo], into: &mut Vec<&'a ClassInfo>) {
    for class in classes {
        into.push(class);
        collect(&class.classes, into);
    }
}

/// `pkg.Base[T]` → `Base`; keywords such as `metaclass=Meta` name no base.
fn base_name(base: &str) -> &str {
    if base.contains('=') {
        return "";
    }
    let without_arguments = base.split('[').next().unwrap_or(base).trim();
    without_arguments
        .rsplit('.')
        .next()
        .unwrap_or(without_arguments)
}

fn defines(class: &ClassInfo, member: &str) -> bool {
    class.methods.iter().any(|method| method.name == member)
        || class
            .attributes
            .iter()
            .any(|attribute| attribute.name == member)
        || class
            .instance_attributes
            .iter()
            .any(|attribute| attribute.name == member)
        || class.classes.iter().any(|nested| nested.name == member)
        || class
            .slots
            .as_ref()
            .is_some_and(|slots| slots.iter().any(|slot| slot == member))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::index::environment::Environment;

    fn index_of(files: &[(&str, &str)]) -> Index {
        index(files)
    }

    fn index(files: &[(&str, &str)]) -> Index {
        let mut index = Index::empty(PathBuf::from("/workspace"), Arc::new(Environment::none()));
        for (path, text) in files {
            index.update_buffer(&PathBuf::from("/workspace").join(path), text);
        }
        index
    }

    #[test]
    fn a_mixin_may_use_what_its_subclasses_define() {
        let index = index(&[
            ("mixins.py", "class RedirectMixin:\n    def rebuild(self):\n        return self.trust_env\n"),
            ("sessions.py", "from mixins import RedirectMixin\n\nclass Session(mixins.RedirectMixin):\n    def __init__(self):\n        self.trust_env = True\n\nclass Other:\n    def go(self):\n        pass\n"),
        ]);
        assert!(index
            .class_family(None, "RedirectMixin")
            .may_have("trust_env"));
        assert!(!index
            .class_family(None, "RedirectMixin")
            .may_have("trust_envv"));
        assert!(
            !index.class_family(None, "Other").may_have("trust_env"),
            "only the family counts"
        );
        let siblings = index_of(&[(
            "views.py",
            "class View:\n    def setup(self):\n        self.request = 1\n\nclass FormMixin:\n    def form(self):\n        return self.request\n\nclass FormView(FormMixin, View):\n    pass\n\nclass Meta(type):\n    pass\n\nclass Model(metaclass=Meta):\n    pass\n\nclass Abstract(metaclass=abc.ABCMeta):\n    pass\n",
        )]);
        assert!(
            siblings.class_family(None, "FormMixin").may_have("request"),
            "a sibling base defines it"
        );
        assert!(!siblings
            .class_family(None, "FormMixin")
            .may_have("requests"));
        assert!(
            siblings.class_family(None, "Model").may_have("_meta"),
            "a metaclass may add it"
        );
        assert!(!siblings.class_family(None, "Abstract").may_have("_meta"));
        assert!(
            !siblings.class_family(None, "FormMixin").is_stateless(),
            "FormView derives from it here"
        );
        let outside = index_of(&[("mixins.py", "class AccessMixin:\n    login_url = None\n\n    def deny(self):\n        return self.request\n")]);
        assert!(outside.class_family(None, "AccessMixin").is_stateless());
        let derived = index_of(&[(
            "signers.py",
            "class Signer:\n    def __init__(self, key):\n        self.key = key\n\n    def sign(self, value):\n        return value\n\nclass TimestampSigner(Signer):\n    def validate(self, value):\n        return self.unsign(value)\n",
        )]);
        assert!(
            !derived
                .class_family(Some("signers"), "TimestampSigner")
                .is_stateless(),
            "its base keeps state: it is a signer, not a mixin"
        );
        assert!(
            !siblings.class_family(None, "View").is_stateless(),
            "setup() assigns self.request"
        );
        assert!(!siblings.class_family(None, "Missing").is_stateless());
    }

    #[test]
    fn classes_of_one_name_in_different_modules_are_different_classes() {
        let index = index(&[
            ("pkg/__init__.py", ""),
            ("pkg/nodes.py", "class Node:\n    def __init__(self, *fields):\n        for name, value in zip(self.fields, fields):\n            setattr(self, name, value)\n\nclass Template(Node):\n    fields = (\"body\",)\n"),
            ("pkg/environment.py", "class Template:\n    def render(self):\n        return self.root_render_func()\n\n    def root_render_func(self):\n        return ''\n"),
            ("pkg/native.py", "from .environment import Template\n\nclass NativeTemplate(Template):\n    def render(self):\n        return self.native_func()\n\n    def native_func(self):\n        return 1\n"),
        ]);
        assert!(
            !index
                .class_family(Some("pkg.environment"), "Template")
                .may_have("new_context"),
            "the nodes' Template is another class"
        );
        assert!(
            index
                .class_family(Some("pkg.environment"), "Template")
                .may_have("native_func"),
            "a subclass in another module, through its import, defines it"
        );
        assert!(!index
            .class_family(Some("pkg.nodes"), "Template")
            .may_have("new_context"));
        assert!(
            index
                .class_family(Some("pkg.nodes"), "Template")
                .sets_computed_members(),
            "its base sets members by computed names"
        );
        assert!(!index
            .class_family(Some("pkg.environment"), "Template")
            .sets_computed_members());
        let aliased = index_of(&[
            ("loaders/__init__.py", ""),
            ("loaders/base.py", "class Loader:\n    def get_template(self, name):\n        return self.get_contents(name)\n"),
            ("loaders/files.py", "from .base import Loader as BaseLoader\n\nclass Loader(BaseLoader):\n    def get_contents(self, name):\n        return name\n"),
            ("cursors.py", "import psycopg as Database\n\nclass CursorMixin:\n    def callproc(self, name):\n        return self.execute(name)\n\nclass Cursor(CursorMixin, Database.Cursor):\n    pass\n"),
        ]);
        assert!(
            aliased
                .class_family(Some("loaders.base"), "Loader")
                .may_have("get_contents"),
            "a subclass names the class under an alias"
        );
        assert!(!aliased
            .class_family(Some("loaders.base"), "Loader")
            .may_have("get_content"));
        assert!(
            aliased
                .class_family(Some("cursors"), "CursorMixin")
                .reaches_outside(),
            "a subclass's base from an installed package may define any member"
        );
        assert!(!aliased
            .class_family(Some("loaders.base"), "Loader")
            .reaches_outside());
        assert!(
            index.class_family(None, "Template").sets_computed_members(),
            "without a module, either class may be meant"
        );
    }

    #[test]
    fn dynamic_classes_and_objects_may_have_any_member() {
        let index = index(&[(
            "status.py",
            "class Lookup(dict):\n    pass\n\nclass Loose:\n    def __getattr__(self, name):\n        return 1\n\nclass Base:\n    pass\n\nclass Dynamic(Base):\n    def __getattr__(self, name):\n        return 1\n\ncodes = Lookup()\nfor title in TITLES:\n    setattr(codes, title, 1)\n",
        )]);
        assert!(index.class_family(None, "Loose").may_have("anything"));
        assert!(
            index.class_family(None, "Base").may_have("anything"),
            "a Base may be a Dynamic"
        );
        assert!(!index.class_family(None, "Lookup").may_have("anything"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        let stub = "class VersionInfo:\n    @property\n    def year(self) -> int: ...\n";
        let code = "class VersionInfo:\n    @classmethod\n    def _from_string(cls, s):\n        return cls()\n";
        std::fs::write(dir.path().join("pkg/version.pyi"), stub).unwrap();
        std::fs::write(dir.path().join("pkg/version.py"), code).unwrap();
        let mut stubbed = Index::empty(dir.path().to_path_buf(), Arc::new(Environment::none()));
        stubbed.update_buffer(&dir.path().join("pkg/version.pyi"), stub);
        assert!(stubbed.implementation_defines("VersionInfo", "_from_string"));
        assert!(!stubbed.implementation_defines("VersionInfo", "_from_strings"));
        let descriptors = index_of(&[(
            "functional.py",
            "class cached_property:\n    def __get__(self, instance, owner=None):\n        return instance.__dict__[self.name]\n",
        )]);
        assert!(
            descriptors
                .class_family(None, "cached_property")
                .may_have("get_lookup"),
            "a descriptor stands for what `__get__` returns"
        );
        assert!(descriptors.has_class("cached_property"));
        assert!(descriptors.some_class_defines("__get__"));
        assert!(!descriptors.some_class_defines("get_lookup"));
        assert!(index.is_dynamic_object("codes"));
        assert!(!index.is_dynamic_object("Lookup"));
    }
}
