//! What the workspace's code says about members that no class definition shows: classes that get
//! their members at run time, subclasses that supply what a mixin uses, objects filled by
//! `setattr`. The typed checks ask before calling a member unknown.

use std::collections::{HashMap, HashSet};

use super::model::ClassInfo;
use super::Index;

/// The largest implementation file read beside a stub.
const MAX_IMPLEMENTATION_BYTES: usize = 4 << 20;

impl Index {
    /// Whether instances of the workspace class named `class` may have `member` although its
    /// definition does not show it. At run time such an instance belongs to some subclass, whose
    /// other bases are mixed in too (a mixin's `self` reaches what its siblings define), so the
    /// classes that count are the class, its subclasses, and every base of those. The member may
    /// exist when one of them defines it, gets members at run time (`__getattr__`,
    /// `setattr(self, computed, ...)`), has a metaclass other than `ABCMeta` (which can add
    /// anything when the class is created, as ORMs do), or is a descriptor (`__get__`: what a
    /// class attribute holding one gives is whatever `__get__` returns).
    pub fn member_may_exist(&self, class: &str, member: &str) -> bool {
        let mut classes: Vec<&ClassInfo> = Vec::new();
        for module in self.workspace_modules() {
            collect(&module.classes, &mut classes);
        }
        let mut by_name: HashMap<&str, Vec<&ClassInfo>> = HashMap::new();
        let mut subclasses: HashMap<&str, Vec<&str>> = HashMap::new();
        for candidate in &classes {
            by_name
                .entry(candidate.name.as_str())
                .or_default()
                .push(candidate);
            for base in &candidate.bases {
                subclasses
                    .entry(base_name(base))
                    .or_default()
                    .push(candidate.name.as_str());
            }
        }
        // The class and its subclasses, by base name.
        let mut family: HashSet<&str> = HashSet::from([class]);
        let mut pending = vec![class];
        while let Some(name) = pending.pop() {
            for &subclass in subclasses.get(name).into_iter().flatten() {
                if family.insert(subclass) {
                    pending.push(subclass);
                }
            }
        }
        // Every base of those, by name.
        let mut pending: Vec<&str> = family.iter().copied().collect();
        while let Some(name) = pending.pop() {
            for definition in by_name.get(name).into_iter().flatten() {
                for base in &definition.bases {
                    let base = base_name(base);
                    if !base.is_empty() && family.insert(base) {
                        pending.push(base);
                    }
                }
            }
        }
        family
            .iter()
            .flat_map(|name| by_name.get(name).into_iter().flatten())
            .any(|candidate| {
                candidate.dynamic_members
                    || has_custom_metaclass(candidate)
                    // A descriptor (`cached_property`) stands for what its `__get__` returns.
                    || defines(candidate, "__get__")
                    || defines(candidate, member)
            })
    }

    /// Whether the workspace class named `class` is a mixin for hosts outside the workspace: no
    /// workspace class derives from it, and it keeps no state of its own (no constructor or
    /// `setUp`, no `self.x = ...`, no decorator such as `@dataclass`, no `__slots__`). The `self`
    /// its methods read belongs to a class the workspace does not show. (With subclasses in the
    /// workspace, [`Index::member_may_exist`] answers from them instead.)
    pub fn is_stateless(&self, class: &str) -> bool {
        let mut classes: Vec<&ClassInfo> = Vec::new();
        for module in self.workspace_modules() {
            collect(&module.classes, &mut classes);
        }
        if classes
            .iter()
            .any(|candidate| candidate.bases.iter().any(|base| base_name(base) == class))
        {
            return false;
        }
        let mut named = classes
            .iter()
            .filter(|candidate| candidate.name == class)
            .peekable();
        named.peek().is_some()
            && named.all(|candidate| {
                candidate.instance_attributes.is_empty()
                    && candidate.decorators.is_empty()
                    && candidate.slots.is_none()
                    && !candidate.methods.iter().any(|method| {
                        matches!(
                            method.name.as_str(),
                            "__init__" | "__new__" | "__post_init__" | "setUp"
                        )
                    })
            })
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
        assert!(index.member_may_exist("RedirectMixin", "trust_env"));
        assert!(!index.member_may_exist("RedirectMixin", "trust_envv"));
        assert!(
            !index.member_may_exist("Other", "trust_env"),
            "only the family counts"
        );
        let siblings = index_of(&[(
            "views.py",
            "class View:\n    def setup(self):\n        self.request = 1\n\nclass FormMixin:\n    def form(self):\n        return self.request\n\nclass FormView(FormMixin, View):\n    pass\n\nclass Meta(type):\n    pass\n\nclass Model(metaclass=Meta):\n    pass\n\nclass Abstract(metaclass=abc.ABCMeta):\n    pass\n",
        )]);
        assert!(
            siblings.member_may_exist("FormMixin", "request"),
            "a sibling base defines it"
        );
        assert!(!siblings.member_may_exist("FormMixin", "requests"));
        assert!(
            siblings.member_may_exist("Model", "_meta"),
            "a metaclass may add it"
        );
        assert!(!siblings.member_may_exist("Abstract", "_meta"));
        assert!(
            !siblings.is_stateless("FormMixin"),
            "FormView derives from it here"
        );
        let outside = index_of(&[("mixins.py", "class AccessMixin:\n    login_url = None\n\n    def deny(self):\n        return self.request\n")]);
        assert!(outside.is_stateless("AccessMixin"));
        assert!(
            !siblings.is_stateless("View"),
            "setup() assigns self.request"
        );
        assert!(!siblings.is_stateless("Missing"));
    }

    #[test]
    fn dynamic_classes_and_objects_may_have_any_member() {
        let index = index(&[(
            "status.py",
            "class Lookup(dict):\n    pass\n\nclass Loose:\n    def __getattr__(self, name):\n        return 1\n\nclass Base:\n    pass\n\nclass Dynamic(Base):\n    def __getattr__(self, name):\n        return 1\n\ncodes = Lookup()\nfor title in TITLES:\n    setattr(codes, title, 1)\n",
        )]);
        assert!(index.member_may_exist("Loose", "anything"));
        assert!(
            index.member_may_exist("Base", "anything"),
            "a Base may be a Dynamic"
        );
        assert!(!index.member_may_exist("Lookup", "anything"));
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
            descriptors.member_may_exist("cached_property", "get_lookup"),
            "a descriptor stands for what `__get__` returns"
        );
        assert!(descriptors.has_class("cached_property"));
        assert!(descriptors.some_class_defines("__get__"));
        assert!(!descriptors.some_class_defines("get_lookup"));
        assert!(index.is_dynamic_object("codes"));
        assert!(!index.is_dynamic_object("Lookup"));
    }
}
