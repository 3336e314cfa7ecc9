//! The tree-sitter queries of `grammars/python/`, compiled once, with their capture indices.
//!
//! Each query is read with `include_str!` and compiled on first use. Its capture names are
//! looked up once, when it is compiled; a name the Rust code needs that the query lacks (or a
//! capture the Rust code does not know) is an error there, and the tests below build every
//! query, so a typo fails `cargo test` rather than a user's request.

use std::sync::OnceLock;

use tree_sitter::Query;

/// `grammars/python/hole.scm`: the sites that give a hole its expected type or call argument.
pub(super) struct HoleQuery {
    pub query: Query,
    /// `return ...`.
    pub expected_return: u32,
    /// `name: T = value` as a whole, its `T` and its `value`.
    pub expected_assignment: u32,
    pub expected_annotation: u32,
    pub expected_value: u32,
    /// A call's callee (a name or a dotted name) and its argument list.
    pub call_callee: u32,
    pub call_arguments: u32,
    /// Every argument list.
    pub arguments: u32,
    /// `name=value` as a whole and its `name`.
    pub call_keyword_argument: u32,
    pub call_keyword: u32,
    /// Function, class and lambda.
    pub scope: u32,
    /// Block and expression statement.
    pub statement: u32,
}

const HOLE_SOURCE: &str = include_str!("../../grammars/python/hole.scm");

impl HoleQuery {
    /// The compiled query; compiled on the first call.
    pub fn get() -> &'static HoleQuery {
        static QUERY: OnceLock<HoleQuery> = OnceLock::new();
        QUERY.get_or_init(|| Self::build(HOLE_SOURCE).unwrap_or_else(|error| panic!("{error}")))
    }

    fn build(source: &str) -> Result<HoleQuery, String> {
        let mut captures = Captures::compile("hole.scm", source)?;
        let expected_return = captures.index("expected.return")?;
        let expected_assignment = captures.index("expected.assignment")?;
        let expected_annotation = captures.index("expected.annotation")?;
        let expected_value = captures.index("expected.value")?;
        let call_callee = captures.index("call.callee")?;
        let call_arguments = captures.index("call.arguments")?;
        let arguments = captures.index("arguments")?;
        let call_keyword_argument = captures.index("call.keyword_argument")?;
        let call_keyword = captures.index("call.keyword")?;
        let scope = captures.index("scope")?;
        let statement = captures.index("statement")?;
        Ok(HoleQuery {
            query: captures.finish()?,
            expected_return,
            expected_assignment,
            expected_annotation,
            expected_value,
            call_callee,
            call_arguments,
            arguments,
            call_keyword_argument,
            call_keyword,
            scope,
            statement,
        })
    }
}

/// `grammars/python/locals.scm`: names a function body assigns, and nested scopes.
pub(super) struct LocalsQuery {
    pub query: Query,
    /// `name = value` or `name: T = value` as a whole, its `name`, `T` and `value`.
    pub assignment: u32,
    pub name: u32,
    pub annotation: u32,
    pub value: u32,
    /// Function, class, decorated definition and lambda.
    pub scope: u32,
}

const LOCALS_SOURCE: &str = include_str!("../../grammars/python/locals.scm");

impl LocalsQuery {
    /// The compiled query; compiled on the first call.
    pub fn get() -> &'static LocalsQuery {
        static QUERY: OnceLock<LocalsQuery> = OnceLock::new();
        QUERY.get_or_init(|| Self::build(LOCALS_SOURCE).unwrap_or_else(|error| panic!("{error}")))
    }

    fn build(source: &str) -> Result<LocalsQuery, String> {
        let mut captures = Captures::compile("locals.scm", source)?;
        let assignment = captures.index("local.assignment")?;
        let name = captures.index("local.name")?;
        let annotation = captures.index("local.annotation")?;
        let value = captures.index("local.value")?;
        let scope = captures.index("local.scope")?;
        Ok(LocalsQuery {
            query: captures.finish()?,
            assignment,
            name,
            annotation,
            value,
            scope,
        })
    }
}

/// A compiled query and the capture names looked up in it so far.
struct Captures {
    file: &'static str,
    query: Query,
    looked_up: Vec<&'static str>,
}

impl Captures {
    fn compile(file: &'static str, source: &str) -> Result<Captures, String> {
        let query = Query::new(&tree_sitter_python::LANGUAGE.into(), source)
            .map_err(|error| format!("grammars/python/{file} does not compile: {error}"))?;
        Ok(Captures {
            file,
            query,
            looked_up: Vec::new(),
        })
    }

    /// The index of capture `@name`, which the query must have.
    fn index(&mut self, name: &'static str) -> Result<u32, String> {
        self.looked_up.push(name);
        self.query
            .capture_index_for_name(name)
            .ok_or_else(|| format!("grammars/python/{} has no capture @{name}", self.file))
    }

    /// The query, once every capture it has was looked up (a capture nobody reads is most
    /// likely a misspelt one).
    fn finish(self) -> Result<Query, String> {
        if let Some(unread) = self
            .query
            .capture_names()
            .iter()
            .find(|name| !self.looked_up.contains(name))
        {
            return Err(format!(
                "grammars/python/{} captures @{unread}, which the code does not read",
                self.file
            ));
        }
        Ok(self.query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_file_compiles_and_has_the_captures_the_code_reads() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grammars/python");
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .expect("grammars/python exists")
            .map(|entry| entry.expect("readable entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "scm"))
            .collect();
        files.sort();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["hole.scm", "locals.scm"],
            "a new query needs a reader here"
        );
        for path in &files {
            let source = std::fs::read_to_string(path).expect("readable query");
            if let Err(error) = Query::new(&tree_sitter_python::LANGUAGE.into(), &source) {
                panic!("{} does not compile: {error}", path.display());
            }
        }
        // The texts compiled into the binary are these files, and every capture the code reads
        // is in them (and nothing else is).
        assert_eq!(HOLE_SOURCE, std::fs::read_to_string(&files[0]).unwrap());
        assert_eq!(LOCALS_SOURCE, std::fs::read_to_string(&files[1]).unwrap());
        if let Err(error) = HoleQuery::build(HOLE_SOURCE) {
            panic!("{error}");
        }
        if let Err(error) = LocalsQuery::build(LOCALS_SOURCE) {
            panic!("{error}");
        }
    }

    #[test]
    fn a_misspelt_capture_is_an_error_not_a_silent_miss() {
        let misspelt = LOCALS_SOURCE.replace("@local.annotation", "@local.anotation");
        let error = LocalsQuery::build(&misspelt)
            .err()
            .expect("misspelt capture");
        assert!(error.contains("no capture @local.annotation"), "{error}");
        let extra = format!("{HOLE_SOURCE}\n(pass_statement) @expected.pass\n");
        let error = HoleQuery::build(&extra).err().expect("unread capture");
        assert!(error.contains("@expected.pass"), "{error}");
        let broken = HOLE_SOURCE.replace("(return_statement)", "(return_statment)");
        let error = HoleQuery::build(&broken).err().expect("unknown node kind");
        assert!(error.contains("does not compile"), "{error}");
    }
}
