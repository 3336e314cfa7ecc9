//! The direct tree walks `hole.rs` used before its queries, kept while comparing them.

use super::*;

pub(super) fn old_expected_type(
    node: Node,
    function_node: Option<Node>,
    function: Option<&FunctionInfo>,
    text: &str,
    offset: usize,
) -> Option<String> {
    let returns = function
        .and_then(|f| f.returns.clone())
        .filter(|r| r != "None");
    let mut ancestor = Some(node);
    while let Some(current) = ancestor {
        match current.kind() {
            "return_statement" => return returns,
            "assignment" => {
                let right = current.child_by_field_name("right");
                let right_start = right.map(|r| r.start_byte()).unwrap_or(usize::MAX);
                if offset >= right_start {
                    if let Some(annotation) = current.child_by_field_name("type") {
                        let annotation = node_text(annotation, text).to_string();
                        // Inside a list, set or tuple literal: the element type of `list[T]`.
                        let in_literal = right.is_some_and(|r| {
                            matches!(r.kind(), "list" | "set" | "tuple") && r.start_byte() < offset
                        });
                        if in_literal {
                            if let Some(element) = element_type(&annotation) {
                                return Some(element);
                            }
                        }
                        return Some(annotation);
                    }
                }
            }
            "function_definition" | "class_definition" | "lambda" => break,
            _ => {}
        }
        ancestor = current.parent();
    }
    // An empty (or `...`) body: the whole body is to be written, and it must return `returns`.
    let body = function_node?.child_by_field_name("body")?;
    let mut cursor = body.walk();
    let statements: Vec<Node> = body
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .filter(|n| {
            !(n.kind() == "expression_statement"
                && n.named_child(0).map(|c| c.kind()) == Some("string"))
        })
        .collect();
    let empty = statements
        .iter()
        .all(|n| matches!(node_text(*n, text).trim(), "..." | "pass"));
    if empty {
        returns
    } else {
        None
    }
}

pub(super) fn old_call_argument(node: Node, text: &str, offset: usize) -> Option<CallArgument> {
    let mut keyword = None;
    let mut ancestor = Some(node);
    while let Some(current) = ancestor {
        match current.kind() {
            "keyword_argument" if keyword.is_none() => {
                keyword = current
                    .child_by_field_name("name")
                    .map(|n| node_text(n, text).to_string());
            }
            "argument_list" => {
                let call = current.parent().filter(|p| p.kind() == "call")?;
                let function = call.child_by_field_name("function")?;
                if !matches!(function.kind(), "identifier" | "attribute") {
                    return None;
                }
                let mut cursor = current.walk();
                let position = current
                    .named_children(&mut cursor)
                    .filter(|a| {
                        a.end_byte() < offset && !matches!(a.kind(), "keyword_argument" | "comment")
                    })
                    .count();
                return Some(CallArgument {
                    callee: node_text(function, text).to_string(),
                    position,
                    keyword,
                });
            }
            "function_definition"
            | "class_definition"
            | "lambda"
            | "block"
            | "expression_statement" => return None,
            _ => {}
        }
        ancestor = current.parent();
    }
    None
}

pub(super) fn old_collect_locals(node: Node, text: &str, offset: usize, out: &mut Vec<TypedName>, depth: usize) {
    if depth > 48 {
        return;
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.start_byte() >= offset {
            break;
        }
        match child.kind() {
            "function_definition" | "class_definition" | "decorated_definition" | "lambda" => {}
            "assignment" => {
                let left = child.child_by_field_name("left");
                let annotation = child
                    .child_by_field_name("type")
                    .map(|t| node_text(t, text).to_string());
                let right = child.child_by_field_name("right");
                if let Some(left) = left.filter(|l| l.kind() == "identifier") {
                    let type_text = annotation.or_else(|| right.and_then(|r| call_type(r, text)));
                    let name = node_text(left, text).to_string();
                    out.retain(|n| !(n.name == name && n.origin == NameOrigin::Local));
                    out.push(TypedName {
                        name,
                        type_text,
                        origin: NameOrigin::Local,
                    });
                }
                old_collect_locals(child, text, offset, out, depth + 1);
            }
            _ => old_collect_locals(child, text, offset, out, depth + 1),
        }
    }
}

/// Compares the queries with the walks at many cursor positions of every `.py` file under the
/// folders of `SPACKLE_ORACLE_DIRS` (colon-separated), of the texts cut short, and of fixtures.
#[test]
#[ignore = "needs SPACKLE_ORACLE_DIRS"]
fn queries_read_what_the_walks_read() {
    let mut texts: Vec<(String, String)> = Vec::new();
    let dirs = std::env::var("SPACKLE_ORACLE_DIRS").unwrap_or_default();
    let step: usize = std::env::var("SPACKLE_ORACLE_STEP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    for dir in dirs.split(':').filter(|d| !d.is_empty()) {
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap() {
                    stack.push(entry.unwrap().path());
                }
            } else if path.extension().is_some_and(|e| e == "py") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push((path.display().to_string(), text));
                }
            }
        }
    }
    // Broken code: every file cut at a few points, and with a line dropped.
    let whole = texts.clone();
    for (name, text) in &whole {
        for fraction in [3, 2] {
            let mut cut = text.len() / fraction;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            texts.push((format!("{name} cut at {cut}"), text[..cut].to_string()));
        }
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > 10 {
            let mut dropped = lines.clone();
            dropped.remove(lines.len() / 2);
            texts.push((format!("{name} without a line"), dropped.join("\n")));
        }
    }
    let mut nested = String::from("def f():\n");
    for depth in 0..40 {
        let indent = "    ".repeat(depth + 1);
        nested.push_str(&format!("{indent}a{depth}: T{depth} = make()\n{indent}if x:\n"));
    }
    nested.push_str(&format!("{}pass\n", "    ".repeat(41)));
    texts.push(("nested".into(), nested));
    let function = FunctionInfo {
        name: "f".into(),
        kind: crate::index::model::FunctionKind::Function,
        params: Vec::new(),
        returns: Some("R".into()),
        is_async: false,
        decorators: Vec::new(),
        docstring: None,
        line: 0,
    };
    let (mut positions, mut with_type, mut with_call, mut with_locals) = (0, 0, 0, 0);
    let zero = std::time::Duration::ZERO;
    let (mut old_time, mut new_time, mut old_locals_time, mut new_locals_time) =
        (zero, zero, zero, zero);
    for (name, text) in &texts {
        let tree = crate::store::parse_python(text, None).expect("parses");
        let mut offset = 0;
        while offset <= text.len() {
            if !text.is_char_boundary(offset) {
                offset += 1;
                continue;
            }
            let Some(node) = tree.root_node().descendant_for_byte_range(offset, offset) else {
                offset += step;
                continue;
            };
            positions += 1;
            let t0 = std::time::Instant::now();
            let mut ancestors = HashMap::new();
            let mut function_node = None;
            let mut innermost = None;
            let mut ancestor = Some(node);
            while let Some(current) = ancestor {
                if function_node.is_none() && current.kind() == "function_definition" {
                    function_node = Some(current);
                }
                if innermost.is_none()
                    && matches!(current.kind(), "function_definition" | "class_definition")
                {
                    innermost = Some(current);
                }
                ancestors.insert(current.id(), ancestors.len());
                ancestor = current.parent();
            }
            let root = innermost.unwrap_or(tree.root_node());
            let sites = hole_sites(root, &ancestors, text, offset);
            let new_type = expected_type(&sites, function_node, Some(&function), text, offset);
            let new_call = call_argument(&sites, text, offset);
            let t1 = std::time::Instant::now();
            let mut new_locals = Vec::new();
            if let Some(body) = function_node.and_then(|f| f.child_by_field_name("body")) {
                collect_locals(body, text, offset, &mut new_locals);
            }
            let t2 = std::time::Instant::now();
            let old_type = old_expected_type(node, function_node, Some(&function), text, offset);
            let old_call = old_call_argument(node, text, offset);
            let t3 = std::time::Instant::now();
            let mut old_locals = Vec::new();
            if let Some(body) = function_node.and_then(|f| f.child_by_field_name("body")) {
                old_collect_locals(body, text, offset, &mut old_locals, 0);
            }
            let t4 = std::time::Instant::now();
            new_time += t1 - t0;
            new_locals_time += t2 - t1;
            old_time += t3 - t2;
            old_locals_time += t4 - t3;
            let mut from = offset.saturating_sub(40);
            while !text.is_char_boundary(from) {
                from += 1;
            }
            let at = &text[from..offset];
            assert_eq!(new_type, old_type, "expected type in {name} at {offset}: {at:?}");
            assert_eq!(new_call, old_call, "call argument in {name} at {offset}: {at:?}");
            assert_eq!(new_locals, old_locals, "locals in {name} at {offset}: {at:?}");
            with_type += usize::from(new_type.is_some());
            with_call += usize::from(new_call.is_some());
            with_locals += usize::from(!new_locals.is_empty());
            offset += step;
        }
    }
    let report = format!(
        "{} texts, {positions} positions: {with_type} with an expected type, {with_call} in a call argument, {with_locals} with locals; sites query {new_time:?} (with the ancestor map), walks up {old_time:?}; locals query {new_locals_time:?}, locals walk {old_locals_time:?}",
        texts.len()
    );
    std::fs::write("/tmp/oracle_report.txt", &report).unwrap();
    assert!(positions > 0, "{report}");
}

#[test]
#[ignore = "debugging"]
fn debug_one() {
    let text = std::fs::read_to_string(std::env::var("DBG_FILE").unwrap()).unwrap();
    let cut: usize = std::env::var("DBG_CUT").unwrap().parse().unwrap();
    let offset: usize = std::env::var("DBG_OFFSET").unwrap().parse().unwrap();
    let text = &text[..cut];
    let tree = crate::store::parse_python(text, None).unwrap();
    let mut out = format!("{}\n", tree.root_node().to_sexp());
    let node = tree.root_node().descendant_for_byte_range(offset, offset).unwrap();
    let mut f = Some(node);
    while let Some(c) = f { out.push_str(&format!("{} {}..{}\n", c.kind(), c.start_byte(), c.end_byte())); f = c.parent(); }
    let query = LocalsQuery::get();
    for (range, depth) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut cursor = QueryCursor::new();
        let func = tree.root_node().descendant_for_byte_range(offset, offset).unwrap();
        let mut fnode = Some(func);
        while let Some(c) = fnode { if c.kind() == "function_definition" { break; } fnode = c.parent(); }
        let body = fnode.unwrap().child_by_field_name("body").unwrap();
        if range { cursor.set_byte_range(body.start_byte()..offset); }
        if depth { cursor.set_max_start_depth(Some(49)); }
        let mut m = cursor.matches(&query.query, body, text.as_bytes());
        let mut n = 0;
        while let Some(x) = m.next() { n += 1; out.push_str(&format!("  {:?}\n", x.captures.iter().map(|c| (c.index, c.node.kind(), c.node.start_byte())).collect::<Vec<_>>())); }
        out.push_str(&format!("range {range} depth {depth}: {n} matches\n"));
    }
    std::fs::write("/tmp/dbg.txt", out).unwrap();
}
