//! The typed checks: unknown members, bad calls and unresolved imports, as the semantic layer
//! (ty's inference) finds them, turned into the checks' problems.
//!
//! They run after the fast syntax and name checks pass, on the document with the candidate in
//! place, and report only what the candidate introduced (`Semantic::introduced`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{CallProblem, Problem, ProblemKind, Spliced};
use crate::semantic::{Finding, Semantic, INVALID_SYNTAX};

/// A document the semantic layer can analyse: its workspace's layer and the file's path.
#[derive(Debug, Clone)]
pub struct TypedFile {
    pub semantic: Arc<Semantic>,
    pub path: PathBuf,
}

impl TypedFile {
    pub fn new(semantic: Arc<Semantic>, path: &Path) -> TypedFile {
        TypedFile {
            semantic,
            path: path.to_path_buf(),
        }
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
    findings
        .iter()
        .filter(|finding| keep(finding, &typed.semantic))
        .map(|finding| problem(&spliced.text, finding))
        .collect()
}

/// The problems of a whole document by ty's rules. Syntax errors and unresolved names are left to
/// the fast checks, which report them already.
pub fn document_problems(text: &str, typed: &TypedFile) -> Vec<Problem> {
    typed
        .semantic
        .findings(&typed.path, text)
        .iter()
        .filter(|finding| finding.rule != INVALID_SYNTAX && finding.rule != "unresolved-reference")
        .filter(|finding| keep(finding, &typed.semantic))
        .map(|finding| problem(text, finding))
        .collect()
}

/// Which findings are problems for spackle.
///
/// A member counts as unknown only when no possible type of the receiver has it: a member
/// missing from some members of a union (`Cart | None` before narrowing, an attribute only ever
/// assigned `None` here) exists on the others, so the code names a real member and the question is
/// one of narrowing, which is not what these checks are for. ty words those findings
/// "... is not defined on `X` in union `Y`".
///
/// Unresolved imports count only for the workspace's own modules (a relative import, or a
/// top-level name the workspace has): an installed package may simply be missing here.
fn keep(finding: &Finding, semantic: &Semantic) -> bool {
    if finding.rule == "unresolved-attribute" {
        return !finding.message.contains(" in union `");
    }
    if finding.rule != "unresolved-import" {
        return true;
    }
    let Some(module) = first_quoted(&finding.message) else {
        return false;
    };
    if module.starts_with('.') {
        return true;
    }
    let top = module.split('.').next().unwrap_or(module);
    let root = semantic.root();
    !top.is_empty() && (root.join(top).is_dir() || root.join(format!("{top}.py")).is_file())
}

fn problem(text: &str, finding: &Finding) -> Problem {
    let source = text.get(finding.start..finding.end).unwrap_or("");
    let (kind, name) = match finding.rule {
        "unresolved-attribute" => (
            ProblemKind::UnknownMember,
            source
                .rsplit('.')
                .next()
                .unwrap_or(source)
                .trim()
                .to_string(),
        ),
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
        message: super::bounded_message(finding.message.clone()),
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
}
