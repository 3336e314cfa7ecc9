//! Few-shot examples for "write a docstring": the project's own documented functions most like the
//! target, retrieved from the document and the workspace index, ranked by shared name words,
//! parameter names and body identifiers, preferring the project's docstring style, within a budget.
//!
//! The index keeps only the first paragraph of each docstring, which shows nothing of a style, so
//! the candidates it finds by BM25 are read again from their files (a few files per request) and
//! the whole definition is shown to the model.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tree_sitter::{Node, Tree};

use super::docstring::{structured_style, style_of, target_of, Style, Target};
use super::{dedent_code, line_start};
use crate::index::model::{ClassInfo, FunctionInfo, ModuleInfo};
use crate::index::search::{split_identifier, SymbolKind};
use crate::index::{Index, ModuleSource};
use crate::store::parse_python;

/// How many examples a prompt gets at most.
pub const EXAMPLE_LIMIT: usize = 3;

/// How many bytes of examples a prompt gets at most.
pub const EXAMPLE_BUDGET: usize = 3000;

/// Examples longer than this many lines are cut after their docstring and a few body lines.
const EXAMPLE_MAX_LINES: usize = 24;

/// What the preferred style adds to a candidate's similarity (which goes from 0 to 6).
const STYLE_BONUS: f64 = 2.0;

/// How many index hits are looked at, and from how many files at most.
const INDEX_HITS: usize = 40;
const INDEX_FILES: usize = 8;

/// One documented definition shown to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The module it comes from (`None`: the document itself).
    pub module: Option<String>,
    pub name: String,
    /// The definition with its docstring, dedented, possibly shortened.
    pub source: String,
    pub style: Style,
    /// Similarity to the target, before the style preference.
    pub similarity: f64,
}

/// What makes two definitions alike: the words of their names, their parameters' words, and the
/// identifiers their bodies mention.
#[derive(Debug, Default)]
struct Profile {
    name: HashSet<String>,
    parameters: HashSet<String>,
    body: HashSet<String>,
}

fn words(identifier: &str, out: &mut HashSet<String>) {
    for word in split_identifier(identifier) {
        if word.len() >= 2 && !matches!(word.as_str(), "self" | "cls" | "get" | "set" | "is") {
            out.insert(word);
        }
    }
}

impl Profile {
    fn of(target: &Target) -> Profile {
        let mut profile = Profile::default();
        words(&target.name, &mut profile.name);
        for parameter in &target.parameters {
            words(parameter, &mut profile.parameters);
        }
        for name in &target.mentioned {
            words(name, &mut profile.body);
        }
        profile
    }

    /// Weighted overlap, from 0 (nothing shared) to 6 (the same words everywhere).
    fn similarity(&self, other: &Profile) -> f64 {
        fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
            let union = a.union(b).count();
            if union == 0 {
                return 0.0;
            }
            a.intersection(b).count() as f64 / union as f64
        }
        3.0 * jaccard(&self.name, &other.name)
            + 2.0 * jaccard(&self.parameters, &other.parameters)
            + jaccard(&self.body, &other.body)
    }

    /// The words a BM25 query for similar symbols should hold: the name's twice, then the rest.
    fn query(&self) -> Vec<u64> {
        let mut query = Vec::new();
        for word in self.name.iter().chain(&self.name).chain(&self.parameters) {
            crate::index::search::words_of_identifier(word, &mut query);
        }
        let mut body: Vec<&String> = self.body.iter().collect();
        body.sort();
        for word in body.into_iter().take(40) {
            crate::index::search::words_of_identifier(word, &mut query);
        }
        query
    }
}

/// A documented definition that could be an example.
struct Candidate {
    module: Option<String>,
    name: String,
    source: String,
    docstring: String,
    /// Where the docstring statement ends, relative to `source` (before dedenting).
    docstring_end: usize,
    profile: Profile,
}

impl Candidate {
    fn of(text: &str, node: Node, module: Option<&str>) -> Option<Candidate> {
        let target = target_of(text, node)?;
        let docstring = target.docstring_text.clone()?;
        let (_, docstring_end) = target.docstring?;
        if docstring.trim().is_empty() {
            return None;
        }
        Some(Candidate {
            module: module.map(str::to_string),
            name: target.name.clone(),
            source: text.get(target.start..target.end)?.to_string(),
            docstring,
            docstring_end: docstring_end.checked_sub(target.start)?,
            profile: Profile::of(&target),
        })
    }

    /// The definition as the prompt shows it: dedented, the body cut after a few lines when long.
    fn rendered(&self) -> String {
        let lines_before_docstring_end = self.source[..self.docstring_end].lines().count();
        let code = dedent_code(&self.source);
        let lines: Vec<&str> = code.lines().collect();
        let keep = EXAMPLE_MAX_LINES.max(lines_before_docstring_end + 3);
        if lines.len() <= keep {
            return code.trim_end().to_string();
        }
        let mut out = lines[..keep].join("\n");
        let indent = lines[lines_before_docstring_end.min(lines.len() - 1)]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect::<String>();
        out.push_str(&format!("\n{indent}..."));
        out
    }
}

/// Reads a workspace file's text for the examples (the server reads the disk; tests and benches
/// may hand out texts they hold).
pub type ReadSource<'a> = &'a dyn Fn(&ModuleInfo) -> Option<Arc<String>>;

/// Reads a module's file under the index's root.
pub fn read_from_disk(index: &Index) -> impl Fn(&ModuleInfo) -> Option<Arc<String>> + '_ {
    move |module: &ModuleInfo| {
        std::fs::read_to_string(index.root().join(&module.path))
            .ok()
            .map(Arc::new)
    }
}

/// The examples for `target`: candidates from the document (`text`, `tree`) and, through BM25
/// over the index, from the other modules of the workspace; `style` is preferred. Returns the
/// chosen examples and the structured style most of the candidates use (for a document with
/// no structured docstring of its own).
pub fn retrieve(
    text: &str,
    tree: &Tree,
    target: &Target,
    index: Option<(&Index, &str, ReadSource)>,
    style: Option<Style>,
) -> (Vec<Example>, Option<Style>) {
    let profile = Profile::of(target);
    let mut candidates = document_candidates(text, tree, target);
    if let Some((index, module, read)) = index {
        candidates.extend(index_candidates(index, module, read, target, &profile));
    }
    let mut scored: Vec<(f64, Candidate)> = candidates
        .into_iter()
        .map(|candidate| (profile.similarity(&candidate.profile), candidate))
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.module.is_some().cmp(&b.1.module.is_some()))
            .then_with(|| a.1.source.len().cmp(&b.1.source.len()))
    });
    // The style most of the nearest candidates use decides for a document that has none.
    let pool_style = structured_style(scored.iter().take(10).map(|(_, c)| c.docstring.as_str()));
    let preferred = style.or(pool_style);
    let mut ranked: Vec<(f64, f64, Style, Candidate)> = scored
        .into_iter()
        .map(|(similarity, candidate)| {
            let own = style_of(&candidate.docstring);
            // A matching style counts for as much as two thirds of a shared name.
            let bonus = if Some(own) == preferred {
                STYLE_BONUS
            } else {
                0.0
            };
            (similarity + bonus, similarity, own, candidate)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut chosen = Vec::new();
    let mut used = 0;
    for (_, similarity, own, candidate) in ranked {
        if chosen.len() == EXAMPLE_LIMIT {
            break;
        }
        let source = candidate.rendered();
        if used + source.len() > EXAMPLE_BUDGET {
            continue;
        }
        used += source.len();
        chosen.push(Example {
            module: candidate.module,
            name: candidate.name,
            source,
            style: own,
            similarity,
        });
    }
    (chosen, pool_style)
}

/// Documented definitions of the document, of the target's kind, other than the target.
fn document_candidates(text: &str, tree: &Tree, target: &Target) -> Vec<Candidate> {
    let mut found = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if is_definition_like(node, target.is_class) {
            // The target itself starts where its decorators do.
            let outer_start = node
                .parent()
                .filter(|parent| parent.kind() == "decorated_definition")
                .map_or(node.start_byte(), |parent| parent.start_byte());
            if line_start(text, outer_start) != target.start {
                found.extend(Candidate::of(text, node, None));
            }
        }
        let mut cursor = node.walk();
        stack.extend(
            node.named_children(&mut cursor)
                .filter(|child| child.kind() != "string"),
        );
    }
    found
}

fn is_definition_like(node: Node, class: bool) -> bool {
    node.kind()
        == if class {
            "class_definition"
        } else {
            "function_definition"
        }
}

/// Documented definitions of other workspace modules that BM25 finds for the target's words.
fn index_candidates(
    index: &Index,
    module: &str,
    read: ReadSource,
    target: &Target,
    profile: &Profile,
) -> Vec<Candidate> {
    let hits = index.search(&profile.query(), module, INDEX_HITS);
    // Hits grouped by module, best module first, keeping only documented definitions.
    let mut order: Vec<String> = Vec::new();
    let mut wanted: HashMap<String, Vec<(Option<String>, String, u32)>> = HashMap::new();
    for hit in hits {
        let kind_fits = if target.is_class {
            hit.kind == SymbolKind::Class
        } else {
            matches!(hit.kind, SymbolKind::Function | SymbolKind::Member)
        };
        if !kind_fits {
            continue;
        }
        let Some(info) = index.module(&hit.module) else {
            continue;
        };
        let Some(line) = documented_line(&info, hit.class.as_deref(), &hit.name, target.is_class)
        else {
            continue;
        };
        if !wanted.contains_key(&hit.module) {
            if order.len() == INDEX_FILES {
                continue;
            }
            order.push(hit.module.clone());
        }
        wanted
            .entry(hit.module.clone())
            .or_default()
            .push((hit.class, hit.name, line));
    }
    let mut found = Vec::new();
    for module_name in order {
        let Some(info) = index.module(&module_name) else {
            continue;
        };
        let Some(text) = read(&info) else {
            continue;
        };
        let Some(tree) = parse_python(&text, None) else {
            continue;
        };
        for (_, name, line) in &wanted[&module_name] {
            let last = name.rsplit('.').next().unwrap_or(name);
            if let Some(node) =
                definition_near(tree.root_node(), &text, last, *line, target.is_class)
            {
                found.extend(Candidate::of(&text, node, Some(&module_name)));
            }
        }
    }
    found
}

/// The line of a documented function, method or class of a module entry, if it has a docstring.
fn documented_line(
    module: &ModuleInfo,
    class: Option<&str>,
    name: &str,
    is_class: bool,
) -> Option<u32> {
    fn class_at<'m>(classes: &'m [ClassInfo], qualname: &str) -> Option<&'m ClassInfo> {
        let mut parts = qualname.split('.');
        let first = parts.next()?;
        let mut class = classes.iter().find(|class| class.name == first)?;
        for part in parts {
            class = class.classes.iter().find(|nested| nested.name == part)?;
        }
        Some(class)
    }
    if is_class {
        let class = class_at(&module.classes, name)?;
        return class.docstring.as_ref().map(|_| class.line);
    }
    let functions: &[FunctionInfo] = match class {
        Some(class) => &class_at(&module.classes, class)?.methods,
        None => &module.functions,
    };
    let function = functions.iter().find(|function| function.name == name)?;
    function.docstring.as_ref().map(|_| function.line)
}

/// The definition named `name` whose line is nearest to `line` (the entry and the file may
/// differ by a few lines when the file changed since it was indexed).
fn definition_near<'t>(
    root: Node<'t>,
    text: &str,
    name: &str,
    line: u32,
    class: bool,
) -> Option<Node<'t>> {
    let mut best: Option<(u32, Node)> = None;
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if is_definition_like(node, class)
            && node
                .child_by_field_name("name")
                .and_then(|n| n.utf8_text(text.as_bytes()).ok())
                == Some(name)
        {
            let row = node.start_position().row as u32;
            let outer = node.parent().map_or(row, |p| p.start_position().row as u32);
            let distance = row.abs_diff(line).min(outer.abs_diff(line));
            if best.is_none_or(|(known, _)| distance < known) {
                best = Some((distance, node));
            }
        }
        let mut cursor = node.walk();
        stack.extend(
            node.named_children(&mut cursor)
                .filter(|child| child.kind() != "string"),
        );
    }
    best.map(|(_, node)| node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::docstring::target_at;
    use crate::index::environment::Environment;
    use crate::index::IndexOptions;

    fn write(root: &std::path::Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("folders");
        std::fs::write(path, text).expect("write");
    }

    fn index_of(root: &std::path::Path) -> Index {
        let options = IndexOptions {
            cache_dir: None,
            max_file_bytes: 1 << 20,
        };
        Index::build(
            root.to_path_buf(),
            Arc::new(Environment::none()),
            &options,
            &mut |_| {},
        )
        .0
    }

    const TARGET: &str = "def load_user_profile(user_id: int, cache: dict) -> dict:\n    if user_id in cache:\n        return cache[user_id]\n    profile = fetch_profile(user_id)\n    cache[user_id] = profile\n    return profile\n";

    #[test]
    fn a_similar_function_of_another_file_beats_an_unrelated_one() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path();
        write(root, "app/__init__.py", "");
        write(
            root,
            "app/geometry.py",
            "def area_of_circle(radius: float) -> float:\n    \"\"\"The area of a circle.\n\n    :param radius: Its radius.\n    :returns: The area.\n    \"\"\"\n    return 3.14159 * radius * radius\n",
        );
        write(
            root,
            "app/accounts.py",
            "def load_user_settings(user_id: int, cache: dict) -> dict:\n    \"\"\"Load a user's settings, from the cache when it has them.\n\n    :param user_id: The user.\n    :param cache: Settings by user.\n    :returns: The settings.\n    \"\"\"\n    if user_id in cache:\n        return cache[user_id]\n    settings = fetch_settings(user_id)\n    cache[user_id] = settings\n    return settings\n",
        );
        write(root, "app/profiles.py", TARGET);
        let index = index_of(root);
        let tree = parse_python(TARGET, None).expect("parses");
        let target = target_at(TARGET, &tree, 4).expect("a target");
        let read = read_from_disk(&index);
        let (examples, pool_style) = retrieve(
            TARGET,
            &tree,
            &target,
            Some((&index, "app.profiles", &read)),
            None,
        );
        assert_eq!(pool_style, Some(Style::Rest));
        let names: Vec<&str> = examples.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.first(), Some(&"load_user_settings"), "{examples:#?}");
        assert_eq!(examples[0].module.as_deref(), Some("app.accounts"));
        assert!(
            examples[0]
                .source
                .contains(":param cache: Settings by user."),
            "the whole docstring is shown, not the index's first paragraph: {}",
            examples[0].source
        );
        if let Some(other) = examples.iter().find(|e| e.name == "area_of_circle") {
            assert!(other.similarity < examples[0].similarity);
        }
    }

    #[test]
    fn the_preferred_style_wins_between_equally_similar_functions() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path();
        write(
            root,
            "a.py",
            "def load_user_a(user_id: int) -> dict:\n    \"\"\"Load a user.\n\n    Args:\n        user_id: The user.\n    \"\"\"\n    return {}\n",
        );
        write(
            root,
            "b.py",
            "def load_user_b(user_id: int) -> dict:\n    \"\"\"Load a user.\n\n    :param user_id: The user.\n    \"\"\"\n    return {}\n",
        );
        let source = "def load_user(user_id: int) -> dict:\n    return {}\n";
        write(root, "c.py", source);
        let index = index_of(root);
        let tree = parse_python(source, None).expect("parses");
        let target = target_at(source, &tree, 4).expect("a target");
        let read = read_from_disk(&index);
        for (style, expected) in [(Style::Google, "load_user_a"), (Style::Rest, "load_user_b")] {
            let (examples, _) = retrieve(
                source,
                &tree,
                &target,
                Some((&index, "c", &read)),
                Some(style),
            );
            assert_eq!(examples[0].name, expected, "{style:?}: {examples:#?}");
        }
    }

    #[test]
    fn examples_stay_within_the_budget_and_long_bodies_are_cut() {
        let mut source = String::new();
        for i in 0..6 {
            source.push_str(&format!(
                "def handler_{i}(event):\n    \"\"\"Handle an event.\n\n    Args:\n        event: The event.\n    \"\"\"\n"
            ));
            for line in 0..60 {
                source.push_str(&format!("    event.step_{line}()\n"));
            }
            source.push('\n');
        }
        source.push_str("def handler(event):\n    return event\n");
        let tree = parse_python(&source, None).expect("parses");
        let target =
            target_at(&source, &tree, source.find("def handler(").unwrap() + 4).expect("a target");
        let (examples, _) = retrieve(&source, &tree, &target, None, None);
        assert!(!examples.is_empty());
        let total: usize = examples.iter().map(|e| e.source.len()).sum();
        assert!(total <= EXAMPLE_BUDGET, "{total}");
        assert!(
            examples[0].source.ends_with("\n    ..."),
            "{}",
            examples[0].source
        );
        assert!(examples.iter().all(|e| e.name != "handler"));
    }
}
