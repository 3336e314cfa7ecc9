//! BM25 over the index's symbols: names split into words, parameter names, docstring words.
//!
//! Each module's symbol documents are built once per version of the module (cached by the
//! module's `Arc`, shared by every snapshot), so a query scans prepared term lists and never
//! re-splits names. Document frequencies are counted during the scan, so no global state needs
//! updating when one file changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::model::{ClassInfo, FunctionInfo, ModuleInfo};

/// One searchable symbol.
#[derive(Debug, Clone)]
pub struct SymbolDoc {
    /// The class qualname for a method, attribute or nested class; `None` at module level.
    pub class: Option<String>,
    /// The symbol's own name (for a class: the class's qualname and `class` is `None`).
    pub name: String,
    pub kind: SymbolKind,
    /// Hashed words, sorted (repeats kept: they are the term frequencies); emptied once the
    /// module's postings are built.
    terms: Vec<u64>,
    /// How many words the document has.
    length: u32,
    /// The last part of `name`, normalized (see [`normalized_name`]).
    pub normalized: String,
}

/// The name in a form that ignores case and underscores (`_get_text` and `GetText` → `gettext`).
pub fn normalized_name(name: &str) -> String {
    name.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

/// Words are hashed already (FNV-1a): the map uses them as they are instead of hashing again.
#[derive(Debug, Default, Clone, Copy)]
pub struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100000001b3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type WordHash = std::hash::BuildHasherDefault<WordHasher>;

/// One module's symbol documents and their postings (word → documents holding it).
#[derive(Debug, Default)]
pub struct ModuleDocs {
    pub docs: Vec<SymbolDoc>,
    postings: HashMap<u64, Vec<(u32, u16)>, WordHash>,
    /// Module-level classes and functions by normalized name.
    by_normalized_name: HashMap<String, Vec<u32>>,
    total_length: usize,
}

impl ModuleDocs {
    fn new(mut docs: Vec<SymbolDoc>) -> ModuleDocs {
        let mut postings: HashMap<u64, Vec<(u32, u16)>, WordHash> = HashMap::default();
        let mut by_normalized_name: HashMap<String, Vec<u32>> = HashMap::new();
        let mut total_length = 0;
        for (index, doc) in docs.iter_mut().enumerate() {
            let terms = std::mem::take(&mut doc.terms);
            doc.length = terms.len() as u32;
            doc.normalized = normalized_name(doc.name.rsplit('.').next().unwrap_or(&doc.name));
            if doc.class.is_none() && matches!(doc.kind, SymbolKind::Class | SymbolKind::Function) {
                by_normalized_name.entry(doc.normalized.clone()).or_default().push(index as u32);
            }
            total_length += terms.len();
            let mut start = 0;
            while start < terms.len() {
                let end = start + terms[start..].iter().take_while(|t| **t == terms[start]).count();
                postings.entry(terms[start]).or_default().push((index as u32, (end - start) as u16));
                start = end;
            }
        }
        ModuleDocs { docs, postings, by_normalized_name, total_length }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Class,
    Function,
    Member,
    Variable,
}

/// A search hit: module, symbol and score.
#[derive(Debug, Clone)]
pub struct Hit {
    pub module: String,
    pub class: Option<String>,
    pub name: String,
    pub kind: SymbolKind,
    pub score: f64,
}

/// The per-module symbol documents, shared between snapshots.
#[derive(Default)]
pub struct SymbolDocs {
    /// By the address of the module entry: snapshots holding different versions of a module
    /// each find theirs. The `Weak` keeps the address from being reused while the entry exists.
    by_module: Mutex<HashMap<usize, (std::sync::Weak<ModuleInfo>, Arc<ModuleDocs>)>>,
}

impl SymbolDocs {
    /// The documents of one module version, built on first use.
    pub fn of(&self, module: &Arc<ModuleInfo>) -> Arc<ModuleDocs> {
        self.of_all(std::iter::once(module)).pop().unwrap_or_default()
    }

    /// The documents of many modules under one lock; stale versions are swept now and then.
    pub fn of_all<'m>(&self, modules: impl Iterator<Item = &'m Arc<ModuleInfo>>) -> Vec<Arc<ModuleDocs>> {
        let Ok(mut cache) = self.by_module.lock() else { return Vec::new() };
        let mut out = Vec::new();
        let mut live = 0;
        for module in modules {
            live += 1;
            let key = Arc::as_ptr(module) as usize;
            let docs = match cache.get(&key) {
                Some((_, docs)) => docs.clone(),
                None => {
                    let docs = Arc::new(ModuleDocs::new(module_docs(module)));
                    cache.insert(key, (Arc::downgrade(module), docs.clone()));
                    docs
                }
            };
            out.push(docs);
        }
        if cache.len() > 2 * live + 64 {
            cache.retain(|_, (module, _)| module.strong_count() > 0);
        }
        out
    }
}

fn module_docs(module: &ModuleInfo) -> Vec<SymbolDoc> {
    let mut out = Vec::new();
    for class in &module.classes {
        class_docs(class, None, &mut out);
    }
    for function in &module.functions {
        out.push(SymbolDoc {
            class: None,
            name: function.name.clone(),
            kind: SymbolKind::Function,
            terms: function_terms(function, None), length: 0, normalized: String::new()
        });
    }
    for variable in &module.variables {
        if variable.name.starts_with("__") {
            continue;
        }
        let mut terms = Vec::new();
        words_of_identifier(&variable.name, &mut terms);
        if let Some(annotation) = &variable.annotation {
            words_of_text(annotation, &mut terms);
        }
        out.push(SymbolDoc {
            class: None,
            name: variable.name.clone(),
            kind: SymbolKind::Variable,
            terms: finish(terms), length: 0, normalized: String::new()
        });
    }
    out
}

fn class_docs(class: &ClassInfo, outer: Option<&str>, out: &mut Vec<SymbolDoc>) {
    let qualname = match outer {
        Some(outer) => format!("{outer}.{}", class.name),
        None => class.name.clone(),
    };
    let mut terms = Vec::new();
    words_of_identifier(&class.name, &mut terms);
    words_of_identifier(&class.name, &mut terms);
    for base in &class.bases {
        words_of_text(base, &mut terms);
    }
    if let Some(doc) = &class.docstring {
        words_of_text(doc, &mut terms);
    }
    out.push(SymbolDoc {
        class: outer.map(str::to_string),
        name: qualname.clone(),
        kind: SymbolKind::Class,
        terms: finish(terms), length: 0, normalized: String::new()
    });
    for method in &class.methods {
        out.push(SymbolDoc {
            class: Some(qualname.clone()),
            name: method.name.clone(),
            kind: SymbolKind::Member,
            terms: function_terms(method, Some(&class.name)), length: 0, normalized: String::new()
        });
    }
    for attribute in class.attributes.iter().chain(&class.instance_attributes) {
        if attribute.name.starts_with("__") {
            continue;
        }
        let mut terms = Vec::new();
        words_of_identifier(&attribute.name, &mut terms);
        words_of_identifier(&attribute.name, &mut terms);
        words_of_identifier(&class.name, &mut terms);
        if let Some(annotation) = &attribute.annotation {
            words_of_text(annotation, &mut terms);
        }
        out.push(SymbolDoc {
            class: Some(qualname.clone()),
            name: attribute.name.clone(),
            kind: SymbolKind::Member,
            terms: finish(terms), length: 0, normalized: String::new()
        });
    }
    for nested in &class.classes {
        class_docs(nested, Some(&qualname), out);
    }
}

fn function_terms(function: &FunctionInfo, class: Option<&str>) -> Vec<u64> {
    let mut terms = Vec::new();
    // The name counts twice: it is what a query most often matches.
    words_of_identifier(&function.name, &mut terms);
    words_of_identifier(&function.name, &mut terms);
    if let Some(class) = class {
        words_of_identifier(class, &mut terms);
    }
    for param in &function.params {
        if param.name != "self" && param.name != "cls" {
            words_of_identifier(&param.name, &mut terms);
        }
        if let Some(annotation) = &param.annotation {
            words_of_text(annotation, &mut terms);
        }
    }
    if let Some(returns) = &function.returns {
        words_of_text(returns, &mut terms);
    }
    if let Some(doc) = &function.docstring {
        words_of_text(doc, &mut terms);
    }
    finish(terms)
}

fn finish(mut terms: Vec<u64>) -> Vec<u64> {
    terms.sort_unstable();
    terms
}

const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "from", "are", "was", "not", "but", "its", "into",
    "self", "cls", "none", "true", "false", "return", "returns", "str", "int", "bool", "any",
    "optional", "typing", "def", "get", "set", "is", "of", "to", "in", "a", "an", "or", "be", "if",
    "on", "as", "by", "it",
];

fn hash_word(word: &str) -> u64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in word.bytes() {
        hash ^= u64::from(byte.to_ascii_lowercase());
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash
}

/// Splits an identifier into lowercase words (`render_lines`, `HTTPStatusError`) and hashes them.
pub fn words_of_identifier(identifier: &str, out: &mut Vec<u64>) {
    for word in split_identifier(identifier) {
        if word.len() >= 2 && !STOP_WORDS.contains(&word.as_str()) {
            out.push(hash_word(&word));
        }
    }
}

/// The lowercase words of an identifier.
pub fn split_identifier(identifier: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in identifier.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut current = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let boundary = c.is_uppercase()
                && !current.is_empty()
                && (chars[i - 1].is_lowercase()
                    || chars[i - 1].is_ascii_digit()
                    || chars.get(i + 1).map(|n| n.is_lowercase()).unwrap_or(false));
            if boundary {
                words.push(std::mem::take(&mut current).to_lowercase());
            }
            current.push(c);
        }
        if !current.is_empty() {
            words.push(current.to_lowercase());
        }
    }
    words
}

/// Hashes the identifier-like words of free text (docstrings, annotations).
pub fn words_of_text(text: &str, out: &mut Vec<u64>) {
    for token in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if !token.is_empty() {
            words_of_identifier(token, out);
        }
    }
}

/// Scores every document of `docs` against the query words and returns the best `limit`.
pub fn bm25(docs: &[(String, Arc<ModuleDocs>)], query: &[u64], limit: usize) -> Vec<Hit> {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    let mut query: Vec<u64> = query.to_vec();
    query.sort_unstable();
    query.dedup();
    let count: usize = docs.iter().map(|(_, m)| m.docs.len()).sum();
    if query.is_empty() || count == 0 {
        return Vec::new();
    }
    let total_length: usize = docs.iter().map(|(_, m)| m.total_length).sum();
    let average = (total_length as f64 / count as f64).max(1.0);
    // One lookup per (module, word): the postings found give both the document frequencies
    // and, in a second pass, the scores.
    let mut found: Vec<(usize, usize, &Vec<(u32, u16)>)> = Vec::new();
    let mut frequencies = vec![0usize; query.len()];
    for (module_index, (_, module)) in docs.iter().enumerate() {
        for (q, word) in query.iter().enumerate() {
            if let Some(postings) = module.postings.get(word) {
                frequencies[q] += postings.len();
                found.push((module_index, q, postings));
            }
        }
    }
    let idf: Vec<f64> = frequencies
        .iter()
        .map(|&df| ((count as f64 - df as f64 + 0.5) / (df as f64 + 0.5) + 1.0).ln())
        .collect();
    let mut scored: Vec<(f64, usize, u32)> = Vec::new();
    let mut scores: HashMap<u32, f64> = HashMap::new();
    let mut start = 0;
    while start < found.len() {
        let module_index = found[start].0;
        let end = start + found[start..].iter().take_while(|f| f.0 == module_index).count();
        let module = &docs[module_index].1;
        scores.clear();
        for &(_, q, postings) in &found[start..end] {
            for &(doc, tf) in postings {
                let length = f64::from(module.docs[doc as usize].length);
                let n = f64::from(tf);
                *scores.entry(doc).or_default() += idf[q] * n * (K1 + 1.0) / (n + K1 * (1.0 - B + B * length / average));
            }
        }
        scored.extend(scores.iter().map(|(&doc, &score)| (score, module_index, doc)));
        start = end;
    }
    // Only the best `limit` become hits (names are copied for those alone).
    let order = |a: &(f64, usize, u32), b: &(f64, usize, u32)| {
        b.0.total_cmp(&a.0).then_with(|| docs[a.1].0.cmp(&docs[b.1].0)).then_with(|| a.2.cmp(&b.2))
    };
    if scored.len() > limit && limit > 0 {
        scored.select_nth_unstable_by(limit - 1, order);
        scored.truncate(limit);
    }
    scored.sort_by(order);
    scored
        .into_iter()
        .take(limit)
        .map(|(score, module_index, doc)| {
            let doc = &docs[module_index].1.docs[doc as usize];
            Hit { module: docs[module_index].0.clone(), class: doc.class.clone(), name: doc.name.clone(), kind: doc.kind, score }
        })
        .collect()
}

/// Module-level classes and functions whose normalized name is one of `names`.
pub fn named(docs: &[(String, Arc<ModuleDocs>)], names: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (module_name, module) in docs {
        for name in names {
            for &index in module.by_normalized_name.get(name).into_iter().flatten() {
                let doc = &module.docs[index as usize];
                hits.push(Hit { module: module_name.clone(), class: None, name: doc.name.clone(), kind: doc.kind, score: 1.0 });
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_split_into_words() {
        assert_eq!(split_identifier("render_lines"), vec!["render", "lines"]);
        assert_eq!(
            split_identifier("HTTPStatusError"),
            vec!["http", "status", "error"]
        );
        assert_eq!(split_identifier("getUTF8Name"), vec!["get", "utf8", "name"]);
    }

    #[test]
    fn bm25_prefers_the_symbol_named_by_the_query() {
        let source = crate::index::resolve::MapSource::from_sources(&[(
            "m",
            "m.py",
            "def render_lines(lines): ...\ndef parse_header(value: str) -> str:\n    \"\"\"Parse a header value.\"\"\"\nclass Renderer:\n    def render(self): ...\n",
        )]);
        let docs = SymbolDocs::default();
        let module = source.modules["m"].clone();
        let all = vec![("m".to_string(), docs.of(&module))];
        assert_eq!(named(&all, &["renderlines".to_string()])[0].name, "render_lines");
        let mut query = Vec::new();
        words_of_text("parse the header", &mut query);
        let hits = bm25(&all, &query, 3);
        assert_eq!(hits[0].name, "parse_header");
        assert!(
            Arc::ptr_eq(&docs.of(&module), &docs.of(&module)),
            "documents are cached per module version"
        );
    }
}
