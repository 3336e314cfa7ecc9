//! What the workspace's code says about members that no class definition shows: classes that get
//! their members at run time, subclasses that supply what a mixin uses, objects filled by
//! `setattr`. The typed checks ask before calling a member unknown.

use std::collections::HashSet;

use super::model::ClassInfo;
use super::Index;

impl Index {
    /// Whether instances of the workspace class named `class` may have `member` although its
    /// definition does not show it: a class of that name, or one deriving from it, gets members
    /// at run time (`__getattr__`, `setattr(self, computed, ...)`), or a class deriving from it
    /// defines the member (a mixin's `self` is an instance of some subclass).
    pub fn member_may_exist(&self, class: &str, member: &str) -> bool {
        let mut classes: Vec<&ClassInfo> = Vec::new();
        for module in self.workspace_modules() {
            collect(&module.classes, &mut classes);
        }
        let mut family: HashSet<&str> = HashSet::from([class]);
        loop {
            let before = family.len();
            for candidate in &classes {
                if !family.contains(candidate.name.as_str())
                    && candidate.bases.iter().any(|base| family.contains(base_name(base)))
                {
                    family.insert(candidate.name.as_str());
                }
            }
            if family.len() == before {
                break;
            }
        }
        classes
            .iter()
            .filter(|candidate| family.contains(candidate.name.as_str()))
            .any(|candidate| candidate.dynamic_members || defines(candidate, member))
    }

    /// Whether some module of the workspace gives the object named `name` attributes by computed
    /// name (`setattr(name, title, value)`).
    pub fn is_dynamic_object(&self, name: &str) -> bool {
        self.workspace_modules()
            .any(|module| module.dynamic_objects.iter().any(|object| object == name))
    }
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
    without_arguments.rsplit('.').next().unwrap_or(without_arguments)
}

fn defines(class: &ClassInfo, member: &str) -> bool {
    class.methods.iter().any(|method| method.name == member)
        || class.attributes.iter().any(|attribute| attribute.name == member)
        || class.instance_attributes.iter().any(|attribute| attribute.name == member)
        || class.classes.iter().any(|nested| nested.name == member)
        || class.slots.as_ref().is_some_and(|slots| slots.iter().any(|slot| slot == member))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::index::environment::Environment;

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
        assert!(!index.member_may_exist("Other", "trust_env"), "only the family counts");
    }

    #[test]
    fn dynamic_classes_and_objects_may_have_any_member() {
        let index = index(&[(
            "status.py",
            "class Lookup(dict):\n    pass\n\nclass Loose:\n    def __getattr__(self, name):\n        return 1\n\nclass Base:\n    pass\n\nclass Dynamic(Base):\n    def __getattr__(self, name):\n        return 1\n\ncodes = Lookup()\nfor title in TITLES:\n    setattr(codes, title, 1)\n",
        )]);
        assert!(index.member_may_exist("Loose", "anything"));
        assert!(index.member_may_exist("Base", "anything"), "a Base may be a Dynamic");
        assert!(!index.member_may_exist("Lookup", "anything"));
        assert!(index.is_dynamic_object("codes"));
        assert!(!index.is_dynamic_object("Lookup"));
    }
}
