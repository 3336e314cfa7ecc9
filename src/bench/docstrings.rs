//! `spackle bench docstrings [PACKAGE_DIR...]`: how well the docstring check tells real docstrings
//! from defective ones, over the documented functions of the holebench packages.
//!
//! For every function with a docstring, the docstring is removed from the file, and the answer a
//! model would give (the function with a docstring) is checked exactly as the code action checks
//! it: once with the real docstring (it should pass) and once per defect that can be injected into
//! it (a documented parameter dropped, a parameter invented, a documented exception replaced by
//! one the body never raises). The answers are built here rather than sent through a scripted HTTP
//! server: the check sees the same text either way. Without arguments, the packages unpacked under
//! `$HOLEBENCH_CACHE` (or `~/.cache/holebench`) are used.
//!
//! The prompt's few-shot examples are measured too, over the same functions: how often the style
//! the prompt asks for and the style of the nearest example agree with the real docstring's
//! (structured docstrings only), with examples from the document alone and with examples retrieved
//! from the package's index as well.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::json;
use tree_sitter::Node;

use crate::actions::docstring::{
    parse_docstring, style_and_examples, style_of, target_at, target_of, verify, Style,
};
use crate::actions::{line_end, line_start};
use crate::store::parse_python;

/// The defects injected into real docstrings.
const DEFECTS: &[&str] = &["missing-parameter", "invented-parameter", "wrong-exception"];

#[derive(Default)]
struct Tally {
    functions: usize,
    gold_passed: usize,
    gold_rejections: BTreeMap<String, usize>,
    styles: BTreeMap<&'static str, usize>,
    /// defect -> (injected, caught, injected where the real docstring passed, caught there).
    defects: BTreeMap<&'static str, (usize, usize, usize, usize)>,
    /// Few-shot examples: "document" (the file alone) and "index" (the file and the package).
    examples: BTreeMap<&'static str, ExampleTally>,
}

/// How the prompt's style and examples compare with the real docstring.
#[derive(Default, serde::Serialize)]
struct ExampleTally {
    /// Functions whose real docstring is structured (Google, NumPy, reST).
    structured: usize,
    /// Of those, how many prompts ask for the real docstring's style.
    style_agrees: usize,
    /// Functions with at least one example, and with one from another file.
    with_examples: usize,
    with_examples_from_other_files: usize,
    /// Structured functions whose first example has the real docstring's style.
    first_example_style_agrees: usize,
}

/// The package's index and its file texts, read once.
struct Package {
    index: crate::index::Index,
    texts: std::sync::Mutex<std::collections::HashMap<String, Option<std::sync::Arc<String>>>>,
}

impl Package {
    fn read(&self, module: &crate::index::model::ModuleInfo) -> Option<std::sync::Arc<String>> {
        let mut texts = self.texts.lock().ok()?;
        texts
            .entry(module.path.clone())
            .or_insert_with(|| {
                std::fs::read_to_string(self.index.root().join(&module.path))
                    .ok()
                    .map(std::sync::Arc::new)
            })
            .clone()
    }
}

/// Runs the benchmark with the command line's arguments (after `bench docstrings`).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let roots: Vec<PathBuf> = if args.is_empty() {
        let cache = std::env::var_os("HOLEBENCH_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/holebench"))
            })
            .context("no HOME and no HOLEBENCH_CACHE")?;
        let mut roots: Vec<PathBuf> = std::fs::read_dir(&cache)
            .with_context(|| format!("reading {} (run holebench.py fetch first)", cache.display()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.is_dir() && path.file_name().is_some_and(|name| name != "wheels"))
            .collect();
        roots.sort();
        roots
    } else {
        let roots: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
        if let Some(missing) = roots.iter().find(|root| !root.is_dir()) {
            anyhow::bail!(
                "{} is not a folder; usage: spackle bench docstrings [PACKAGE_FOLDER...] (default: every package under ~/.cache/holebench)",
                missing.display()
            );
        }
        roots
    };
    let mut tally = Tally::default();
    for root in &roots {
        let options = crate::index::IndexOptions {
            cache_dir: None,
            max_file_bytes: crate::index::workspace::DEFAULT_MAX_FILE_BYTES,
        };
        let environment = std::sync::Arc::new(crate::index::environment::Environment::none());
        let (index, _) =
            crate::index::Index::build(root.clone(), environment, &options, &mut |_| {});
        let package = Package {
            index,
            texts: Default::default(),
        };
        let mut files = Vec::new();
        collect_python_files(root, &mut files);
        files.sort();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let module = package.index.module_name_of(&file);
            measure_file(&text, &package, module.as_deref(), &mut tally);
        }
    }
    report(&roots, &tally)
}

fn collect_python_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_python_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "py") {
            files.push(path);
        }
    }
}

fn measure_file(text: &str, package: &Package, module: Option<&str>, tally: &mut Tally) {
    let Some(tree) = parse_python(text, None) else {
        return;
    };
    let mut functions = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "function_definition" {
            functions.push(node);
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    functions.sort_by_key(|node| node.start_byte());
    for function in functions {
        measure_function(text, function, package, module, tally);
    }
}

fn measure_function(
    text: &str,
    function: Node,
    package: &Package,
    module: Option<&str>,
    tally: &mut Tally,
) {
    let Some(original) = target_of(text, function) else {
        return;
    };
    let (Some((doc_start, doc_end)), Some(content)) =
        (original.docstring, original.docstring_text.clone())
    else {
        return;
    };
    // Only docstrings on lines of their own, followed by more code.
    let (first, last) = (line_start(text, doc_start), line_end(text, doc_end));
    if !text[first..doc_start].trim().is_empty()
        || !text[doc_end..last].trim().is_empty()
        || text.get(last..original.end).unwrap_or("").trim().is_empty()
    {
        return;
    }
    let mut without = text.to_string();
    without.replace_range(first..last, "");
    let Some(tree) = parse_python(&without, None) else {
        return;
    };
    let Some(name) = function.child_by_field_name("name") else {
        return;
    };
    let Some(target) = target_at(&without, &tree, name.start_byte()) else {
        return;
    };
    if target.name != original.name || target.docstring.is_some() {
        return;
    }
    let source = &text[original.start..original.end];
    let literal_start = doc_start - original.start;
    let literal = &text[doc_start..doc_end];
    let answer_with = |content: &str| -> String {
        let quote_at = literal.find(['"', '\'']).unwrap_or(0);
        let prefix = &literal[..quote_at];
        let quotes = if literal[quote_at..].starts_with("'''") {
            "'''"
        } else {
            "\"\"\""
        };
        let mut function = source.to_string();
        function.replace_range(
            literal_start..literal_start + literal.len(),
            &format!("{prefix}{quotes}{content}{quotes}"),
        );
        format!("```python\n{}\n```", crate::actions::dedent_code(&function))
    };
    tally.functions += 1;
    let style = style_of(&content);
    *tally.styles.entry(style_label(style)).or_default() += 1;
    let read = |module: &crate::index::model::ModuleInfo| package.read(module);
    let sources = [
        ("document", None),
        (
            "index",
            module.map(|module| {
                (
                    &package.index,
                    module,
                    &read as crate::actions::examples::ReadSource,
                )
            }),
        ),
    ];
    for (label, index) in sources {
        let (prompt_style, examples) = style_and_examples(&without, &tree, &target, index, None);
        let entry = tally.examples.entry(label).or_default();
        entry.with_examples += usize::from(!examples.is_empty());
        entry.with_examples_from_other_files +=
            usize::from(examples.iter().any(|example| example.module.is_some()));
        if style != Style::Plain {
            entry.structured += 1;
            entry.style_agrees += usize::from(prompt_style == style);
            entry.first_example_style_agrees += usize::from(
                examples
                    .first()
                    .is_some_and(|example| example.style == style),
            );
        }
    }
    let gold = verify(&without, &target, &answer_with(&content));
    if let Err(reason) = &gold {
        if reason.starts_with("the answer") {
            tracing::debug!(answer = %answer_with(&content), "unreadable answer");
        }
    }
    let gold_passed = gold.is_ok();
    match gold {
        Ok(_) => tally.gold_passed += 1,
        Err(reason) => {
            tracing::debug!(function = %original.name, %reason, "real docstring rejected");
            let kind = reason
                .split(['`', '('])
                .next()
                .unwrap_or(&reason)
                .trim()
                .to_string();
            *tally.gold_rejections.entry(kind).or_default() += 1;
        }
    }
    for &defect in DEFECTS {
        let Some(mutated) = inject(
            &content,
            style,
            &target.parameters,
            &target.mentioned,
            defect,
        ) else {
            continue;
        };
        let caught = verify(&without, &target, &answer_with(&mutated)).is_err();
        if !caught && gold_passed {
            tracing::debug!(function = %original.name, defect, docstring = ?mutated, original = ?content, "defect not caught");
        }
        let entry = tally.defects.entry(defect).or_default();
        entry.0 += 1;
        entry.1 += usize::from(caught);
        if gold_passed {
            entry.2 += 1;
            entry.3 += usize::from(caught);
        }
    }
}

fn style_label(style: Style) -> &'static str {
    match style {
        Style::Google => "google",
        Style::Numpy => "numpy",
        Style::Rest => "rest",
        Style::Plain => "plain",
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The line index of `parameter`'s entry in a docstring of `style`, if it has one.
fn parameter_line(lines: &[&str], style: Style, parameter: &str) -> Option<usize> {
    lines.iter().position(|line| {
        let trimmed = line.trim().trim_start_matches('*');
        match style {
            Style::Google => trimmed
                .strip_prefix(parameter)
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with(" (")),
            Style::Numpy => trimmed.strip_prefix(parameter).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(" :") || rest.starts_with(':')
            }),
            Style::Rest => {
                let trimmed = line.trim();
                trimmed.starts_with(":param")
                    && trimmed[1..]
                        .split(':')
                        .next()
                        .and_then(|field| field.split_whitespace().last())
                        .is_some_and(|name| name.trim_start_matches('*') == parameter)
            }
            Style::Plain => false,
        }
    })
}

/// The lines `at..end` of an entry: its first line and every more indented line after it.
fn entry_end(lines: &[&str], at: usize) -> usize {
    let indent = indent_of(lines[at]);
    let mut end = at + 1;
    while end < lines.len() && (lines[end].trim().is_empty() || indent_of(lines[end]) > indent) {
        if lines[end].trim().is_empty()
            && lines
                .get(end + 1)
                .is_none_or(|next| indent_of(next) <= indent)
        {
            break;
        }
        end += 1;
    }
    end
}

/// The docstring with one defect of `kind`, or `None` when it cannot be injected into this one.
fn inject(
    content: &str,
    style: Style,
    parameters: &[String],
    mentioned: &[String],
    kind: &str,
) -> Option<String> {
    let lines: Vec<&str> = content.split('\n').collect();
    let documented = parse_docstring(content);
    let mutated = match kind {
        "missing-parameter" => {
            let parameter = parameters
                .iter()
                .find(|p| documented.parameters.contains(p))?;
            let at = parameter_line(&lines, style, parameter)?;
            let end = entry_end(&lines, at);
            let mut kept: Vec<&str> = lines[..at].to_vec();
            kept.extend(
                lines[end..]
                    .iter()
                    .filter(|line| !line.trim().starts_with(&format!(":type {parameter}:"))),
            );
            let mutated = kept.join("\n");
            (!parse_docstring(&mutated).parameters.contains(parameter)).then_some(mutated)?
        }
        "invented-parameter" => {
            let invented = ["extra_option", "verbose_mode", "retry_limit"]
                .into_iter()
                .find(|name| !parameters.iter().any(|p| p == name))?;
            let last = parameters
                .iter()
                .filter_map(|p| parameter_line(&lines, style, p))
                .max()?;
            let end = entry_end(&lines, last);
            let indent = " ".repeat(indent_of(lines[last]));
            let entry = match style {
                Style::Google => format!("{indent}{invented}: An option."),
                Style::Numpy => format!("{indent}{invented} : bool\n{indent}    An option."),
                Style::Rest => format!("{indent}:param {invented}: An option."),
                Style::Plain => return None,
            };
            let mut out: Vec<String> = lines[..end].iter().map(|line| line.to_string()).collect();
            out.push(entry);
            out.extend(lines[end..].iter().map(|line| line.to_string()));
            let mutated = out.join("\n");
            parse_docstring(&mutated)
                .parameters
                .iter()
                .any(|p| p == invented)
                .then_some(mutated)?
        }
        "wrong-exception" => {
            let documented_exception = documented.raises.first()?.clone();
            let replacement = ["ZeroDivisionError", "UnicodeDecodeError", "RecursionError"]
                .into_iter()
                .find(|name| {
                    !mentioned.iter().any(|m| m == name) && *name != documented_exception
                })?;
            let at = lines.iter().position(|line| {
                line.contains(documented_exception.as_str()) && {
                    let trimmed = line.trim();
                    trimmed.starts_with(documented_exception.as_str())
                        || trimmed.starts_with(":raise")
                        || trimmed.starts_with(":except")
                }
            })?;
            let mut out: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
            out[at] = out[at].replacen(documented_exception.as_str(), replacement, 1);
            let mutated = out.join("\n");
            parse_docstring(&mutated)
                .raises
                .iter()
                .any(|r| r == replacement)
                .then_some(mutated)?
        }
        _ => return None,
    };
    Some(mutated)
}

fn report(roots: &[PathBuf], tally: &Tally) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "docstring check over {} documented functions ({} packages)",
        tally.functions,
        roots.len()
    )?;
    writeln!(err, "styles: {:?}", tally.styles)?;
    let rejected = tally.functions - tally.gold_passed;
    writeln!(
        err,
        "real docstrings rejected: {rejected} of {} ({:.1}%)",
        tally.functions,
        percent(rejected, tally.functions)
    )?;
    for (reason, count) in &tally.gold_rejections {
        writeln!(err, "  {count:5}  {reason}")?;
    }
    let mut defects = serde_json::Map::new();
    for (defect, (injected, caught, injected_clean, caught_clean)) in &tally.defects {
        writeln!(
            err,
            "{defect}: caught {caught} of {injected} ({:.1}%); where the real docstring passes: {caught_clean} of {injected_clean} ({:.1}%)",
            percent(*caught, *injected),
            percent(*caught_clean, *injected_clean)
        )?;
        defects.insert(
            defect.to_string(),
            json!({"injected": injected, "caught": caught, "injected_where_real_passes": injected_clean, "caught_where_real_passes": caught_clean}),
        );
    }
    for (label, examples) in &tally.examples {
        writeln!(
            err,
            "examples from the {label}: prompt style agrees {} of {} structured ({:.1}%); first example's style agrees {} ({:.1}%); functions with examples {} of {}, with examples from other files {}",
            examples.style_agrees,
            examples.structured,
            percent(examples.style_agrees, examples.structured),
            examples.first_example_style_agrees,
            percent(examples.first_example_style_agrees, examples.structured),
            examples.with_examples,
            tally.functions,
            examples.with_examples_from_other_files,
        )?;
    }
    let summary = json!({
        "functions": tally.functions,
        "real_rejected": rejected,
        "real_rejections": tally.gold_rejections,
        "styles": tally.styles,
        "defects": defects,
        "examples": tally.examples,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{summary}")?;
    Ok(())
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defects_are_injected_in_each_style() {
        let parameters = vec!["item".to_string(), "count".to_string()];
        let google = "Price.\n\n    Args:\n        item: The item.\n        count: How many,\n            at least one.\n\n    Raises:\n        ValueError: If negative.\n    ";
        let missing = inject(google, Style::Google, &parameters, &[], "missing-parameter").unwrap();
        assert!(
            !missing.contains("item:") && missing.contains("count:"),
            "{missing}"
        );
        let invented = inject(
            google,
            Style::Google,
            &parameters,
            &[],
            "invented-parameter",
        )
        .unwrap();
        assert!(
            invented.contains("            at least one.\n        extra_option: An option."),
            "{invented}"
        );
        let wrong = inject(google, Style::Google, &parameters, &[], "wrong-exception").unwrap();
        assert!(wrong.contains("ZeroDivisionError: If negative."), "{wrong}");
        let rest = "Price.\n\n:param item: The item.\n:type item: str\n:param count: How many.\n";
        let missing = inject(rest, Style::Rest, &parameters, &[], "missing-parameter").unwrap();
        assert_eq!(missing, "Price.\n\n:param count: How many.\n");
        let numpy = "Price.\n\nParameters\n----------\nitem : str\n    The item.\ncount : int\n";
        let invented = inject(numpy, Style::Numpy, &parameters, &[], "invented-parameter").unwrap();
        assert!(
            invented.ends_with("count : int\nextra_option : bool\n    An option.\n"),
            "{invented}"
        );
        assert!(inject(
            "Price.",
            Style::Plain,
            &parameters,
            &[],
            "missing-parameter"
        )
        .is_none());
    }
}
