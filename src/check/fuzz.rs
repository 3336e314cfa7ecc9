//! Property tests over hostile input: random documents and candidates (empty, huge, NUL bytes,
//! unbalanced quotes and brackets, deep nesting, documents that already had errors). The checks
//! (the typed ones included) and the post-processing must never panic nor overflow the stack.
//! Their time is measured by `spackle bench checks`, not asserted here.
//!
//! `PROPTEST_CASES=20000 cargo test --lib check::fuzz` runs longer campaigns.

use std::sync::LazyLock;

use proptest::prelude::*;

use super::check_candidate;
use super::postprocess::{postprocess, PostprocessOptions};
use crate::semantic::test_support::Workspace;

/// Pieces of Python and of things that are not Python, glued together at random.
const PIECES: &[&str] = &[
    "def f(x):\n    ",
    "class A(B):\n    def m(self):\n        ",
    "return self.x.y(1, 2, z=3)\n",
    "import os\nfrom . import *\nfrom .models import Thing\n",
    "x = [i for i in range(10) if (j := i)]\n",
    "match v:\n    case Point(x=0) | {'k': [a, *rest]} as w:\n        pass\n",
    "try:\n    pass\nexcept (A, B) as e:\n    raise\n",
    "global g\nnonlocal n\ndel d\n",
    "lambda a, *b, c=1, **d: a\n",
    "@decorator(1)\nasync def g[T](a: T, /, b: 'T' = None, *, c) -> T: ...\n",
    "'''unterminated",
    "\"unbalanced",
    "f'{x!r:>{width}}'\n",
    "((((((((((",
    ")))]]]}}}",
    "\0\0\0",
    "\t\t  \n\n\r\n",
    "é😀\u{200b}中文",
    "    ",
    "\\\n",
    "# type: ignore[",
    "if x:\nelse:\n",
    "yield from await x\n",
    "print >>sys.stderr, 'py2'\n",
    "<CURSOR>",
    "for k, (i, v) in enumerate(zip(items, table.items())):\n    v.x\n",
    "def g(items: list[Thing], table: dict[str, Thing], *more: Thing):\n    ",
    "a, b = pair()\nfirst, *rest = a\n",
    "url = url.copy_with(url)\n",
    "if not isinstance(self.x.y, (Thing, Other)):\n    raise TypeError\n",
    "obj.attr = self.other_attr = 1\n",
    "self.name_all = self.nam\n",
    "from .models import Thing\nfrom .models import Thing\n",
    "@functools.lru_cache(maxsize=None)\n",
];

fn piecewise() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(PIECES).prop_map(str::to_string),
            any::<String>()
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn document_and_offset() -> impl Strategy<Value = (String, usize)> {
    (piecewise(), any::<usize>()).prop_map(|(document, offset)| {
        let offset = if document.is_empty() {
            0
        } else {
            offset % (document.len() + 8)
        };
        (document, offset)
    })
}

/// One workspace for every case: `pkg/main.py` is the checked document, typed against
/// `pkg/models.py`.
static WORKSPACE: LazyLock<Workspace> = LazyLock::new(|| {
    Workspace::new(&[
        ("pkg/__init__.py", "from .models import *\n"),
        ("pkg/models.py", "class Thing:\n    def go(self, a, b=1):\n        self.x = a\n        self.items: list[Thing] = []\n\nclass Other(Thing):\n    y: dict[str, Thing]\n\ndef make() -> Thing:\n    return Thing()\n\ndef pair() -> tuple[Thing, list[Other]]:\n    return Thing(), []\n"),
        ("pkg/main.py", ""),
    ])
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn checks_never_panic((document, offset) in document_and_offset(), candidate in piecewise()) {
        let typed = WORKSPACE.typed("pkg/main.py");
        let problems = check_candidate(&document, offset, &candidate, Some(&typed));
        for problem in problems {
            prop_assert!(problem.start <= problem.end);
            prop_assert!(problem.end <= document.len() + candidate.len());
        }
    }

    #[test]
    fn postprocess_never_panics((document, offset) in document_and_offset(), raw in piecewise(), max_lines in 0usize..80) {
        if let Ok(cleaned) = postprocess(&document, offset, &raw, &PostprocessOptions { max_lines }) {
            prop_assert!(!cleaned.trim().is_empty());
            prop_assert!(raw.contains(cleaned.trim()), "cleaned text must come from the raw answer");
        }
    }
}

/// Large and deeply nested inputs, once each: bounded time, no stack overflow.
#[test]
fn huge_and_deep_inputs_are_checked_without_overflow() {
    let typed = WORKSPACE.typed("pkg/main.py");
    let deep = format!("x = {}1{}\n", "(".repeat(20_000), ")".repeat(20_000));
    let deep_lists = format!("x = {}\n", "[".repeat(20_000));
    let long_file = "def f(a):\n    return a.b(1)\n\n".repeat(20_000);
    let cases: Vec<(String, String)> = vec![
        (String::new(), String::new()),
        ("def f():\n    \n".to_string(), deep.clone()),
        (deep.clone(), "y = 1".to_string()),
        (deep_lists, "y = (".to_string()),
        (long_file.clone(), "return undefined_name".to_string()),
        ("def f():\n    \n".to_string(), "x = 1\n    ".repeat(50_000)),
        ("\0".repeat(10_000), "\0\"'".repeat(1_000)),
    ];
    for (document, candidate) in cases {
        let offset = document
            .find("    \n")
            .map_or(document.len() / 2, |i| i + 4);
        let problems = check_candidate(&document, offset, &candidate, Some(&typed));
        assert!(problems
            .iter()
            .all(|problem| problem.end <= document.len() + candidate.len()));
        let _ = postprocess(
            &document,
            offset,
            &candidate,
            &PostprocessOptions::default(),
        );
    }
}
