//! Types at a place in a file: which classes the values of expressions there may be instances of,
//! as ty infers them. The context builder asks this for the names in scope at a hole, `self`'s
//! attributes and the expected type, and follows the classes it gets to their definitions.
//!
//! The question is put as a probe: a tuple of the expressions, inserted as a statement at the
//! start of the cursor's line with that line's indentation, so that ty answers with everything it
//! knows at that point (narrowing, `self`, locals assigned from calls, `TYPE_CHECKING` imports,
//! string annotations, inherited attributes).

use std::path::{Path, PathBuf};

use ruff_db::files::File;
use ruff_db::parsed::parsed_module;
use ruff_db::source::source_text;
use ruff_python_ast::visitor::source_order::{walk_node, SourceOrderVisitor, TraversalSignal};
use ruff_python_ast::AnyNodeRef;
use ruff_text_size::{Ranged, TextRange, TextSize};
use ty_python_semantic::types::ide_support::call_signature_details;
use ty_python_semantic::types::{DynamicType, Type, TypeDefinition};
use ty_python_semantic::{Db as _, HasType, ProgramEnvironment, SemanticModel};

use super::db::SemanticDb;
use super::Semantic;

/// A class, by the file that defines it and its name there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClassAt {
    pub path: PathBuf,
    pub name: String,
}

/// The most expressions one probe asks about.
pub const MAX_PROBED: usize = 96;
/// How deep unions and intersections are followed.
const MAX_TYPE_DEPTH: usize = 4;
/// The most classes one expression's type contributes.
const MAX_CLASSES: usize = 8;

impl Semantic {
    /// For each of `expressions` (Python expressions on one line each, such as `name` or
    /// `self.attr`), the classes its value may be an instance of at byte `offset` of `text` (the
    /// class itself for an expression that names a class), in the file at `path`. `None` when
    /// the file cannot be analysed (unsaved, too large, or ty failed); an expression whose type
    /// is unknown, or that did not parse where it stands, gets no classes.
    pub fn classes_at(
        &self,
        path: &Path,
        text: &str,
        offset: usize,
        expressions: &[String],
    ) -> Option<Vec<Vec<ClassAt>>> {
        let expressions = &expressions[..expressions.len().min(MAX_PROBED)];
        if expressions.is_empty() || text.len() > super::MAX_BYTES {
            return Some(vec![Vec::new(); expressions.len()]);
        }
        let offset = offset.min(text.len());
        let offset = (0..=offset)
            .rev()
            .find(|at| text.is_char_boundary(*at))
            .unwrap_or(0);
        let line_start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
        let indent: &str = {
            let line = &text[line_start..];
            &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
        };
        let mut probe = format!("{indent}(");
        // One range per expression; `None` for one that cannot stand on the probe's line.
        let mut ranges = Vec::new();
        for expression in expressions {
            if expression.trim().is_empty() || expression.contains(['\n', '\r', '#']) {
                ranges.push(None);
                continue;
            }
            let start = line_start + probe.len();
            probe.push_str(expression);
            ranges.push(Some(TextRange::new(
                TextSize::try_from(start).ok()?,
                TextSize::try_from(start + expression.len()).ok()?,
            )));
            probe.push_str(", ");
        }
        probe.push_str(")\n");
        let probed = format!("{}{probe}{}", &text[..line_start], &text[line_start..]);
        let targets: Vec<TextRange> = ranges.iter().flatten().copied().collect();
        let mut answers = self
            .with_text(path, &probed, |db, file| {
                classes_of_ranges(db, file, &targets)
            })?
            .into_iter();
        Some(
            ranges
                .iter()
                .map(|range| match range {
                    Some(_) => answers.next().unwrap_or_default(),
                    None => Vec::new(),
                })
                .collect(),
        )
    }
}

/// The parameter a call's argument binds to, as the callee's signature declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterAt {
    /// The parameter's declared type, as ty displays it (`Cart | None`).
    pub type_text: String,
    /// The classes that type names.
    pub classes: Vec<ClassAt>,
}

impl Semantic {
    /// The parameter that the argument at byte `offset` of `text` binds to, in the innermost
    /// call whose parentheses hold `offset`: the `position`-th positional argument, or the one
    /// named `keyword`. `None` when the file cannot be analysed, the callee's type is unknown,
    /// or no parameter takes that argument.
    pub fn parameter_at(
        &self,
        path: &Path,
        text: &str,
        offset: usize,
        position: usize,
        keyword: Option<&str>,
    ) -> Option<ParameterAt> {
        if !Semantic::can_analyse(text) {
            return None;
        }
        let offset = TextSize::try_from(offset.min(text.len())).ok()?;
        self.with_text(path, text, |db, file| {
            parameter_of_call(db, file, offset, position, keyword)
        })?
    }
}

fn parameter_of_call(
    db: &SemanticDb,
    file: File,
    offset: TextSize,
    position: usize,
    keyword: Option<&str>,
) -> Option<ParameterAt> {
    let model = SemanticModel::new(db, db.program_file(file));
    let parsed = parsed_module(db, model.python_file()).load(db);
    let mut finder = InnermostCall {
        offset,
        found: None,
    };
    walk_node(&mut finder, AnyNodeRef::from(parsed.syntax()));
    let call = finder.found?;
    let environment = model.program_environment();
    for signature in call_signature_details(&model, call) {
        let parameter = match keyword {
            Some(keyword) => signature
                .parameters
                .iter()
                .find(|parameter| parameter.name == keyword),
            None => signature
                .parameters
                .iter()
                .filter(|parameter| !parameter.is_keyword_variadic)
                .take_while(|parameter| !parameter.label.starts_with("**"))
                .enumerate()
                .find(|(at, parameter)| *at == position || parameter.is_variadic)
                .map(|(_, parameter)| parameter),
        };
        if let Some(parameter) = parameter {
            let mut classes = Vec::new();
            collect_classes(db, &environment, parameter.ty, 0, &mut classes);
            return Some(ParameterAt {
                type_text: parameter.ty.display(db, &environment).to_string(),
                classes,
            });
        }
    }
    None
}

/// The innermost call whose argument list (inside its parentheses) holds `offset`.
struct InnermostCall<'ast> {
    offset: TextSize,
    found: Option<&'ast ruff_python_ast::ExprCall>,
}

impl<'ast> SourceOrderVisitor<'ast> for InnermostCall<'ast> {
    fn enter_node(&mut self, node: AnyNodeRef<'ast>) -> TraversalSignal {
        let range = node.range();
        if !(range.start() <= self.offset && self.offset <= range.end()) {
            return TraversalSignal::Skip;
        }
        if let AnyNodeRef::ExprCall(call) = node {
            let arguments = call.arguments.range();
            if arguments.start() < self.offset
                && (self.offset < arguments.end() || arguments.is_empty())
            {
                self.found = Some(call);
            }
        }
        TraversalSignal::Traverse
    }
}

/// The classes of the expressions at exactly `ranges` in `file`.
fn classes_of_ranges(db: &SemanticDb, file: File, ranges: &[TextRange]) -> Vec<Vec<ClassAt>> {
    let model = SemanticModel::new(db, db.program_file(file));
    let parsed = parsed_module(db, model.python_file()).load(db);
    let environment = model.program_environment();
    let mut found = FindExpressions {
        ranges,
        types: vec![None; ranges.len()],
        model: &model,
    };
    walk_node(&mut found, AnyNodeRef::from(parsed.syntax()));
    found
        .types
        .into_iter()
        .map(|ty| {
            let mut classes = Vec::new();
            if let Some(ty) = ty {
                collect_classes(db, &environment, ty, 0, &mut classes);
            }
            classes
        })
        .collect()
}

struct FindExpressions<'a, 'db> {
    ranges: &'a [TextRange],
    types: Vec<Option<Type<'db>>>,
    model: &'a SemanticModel<'db>,
}

impl<'ast> SourceOrderVisitor<'ast> for FindExpressions<'_, '_> {
    fn enter_node(&mut self, node: AnyNodeRef<'ast>) -> TraversalSignal {
        let range = node.range();
        if !self
            .ranges
            .iter()
            .any(|target| range.contains_range(*target))
        {
            return TraversalSignal::Skip;
        }
        if let Some(at) = self.ranges.iter().position(|target| *target == range) {
            if self.types[at].is_none() {
                if let Some(expression) = node.as_expr_ref() {
                    self.types[at] = expression.inferred_type(self.model);
                }
            }
        }
        TraversalSignal::Traverse
    }
}

/// The classes a type names: an instance's class, a class object, each element of a union, the
/// positive elements of an intersection.
fn collect_classes<'db>(
    db: &'db SemanticDb,
    environment: &ProgramEnvironment<'db>,
    ty: Type<'db>,
    depth: usize,
    out: &mut Vec<ClassAt>,
) {
    if depth > MAX_TYPE_DEPTH || out.len() >= MAX_CLASSES {
        return;
    }
    match ty {
        Type::Union(union) => {
            for element in union.elements(db) {
                collect_classes(db, environment, *element, depth + 1, out);
            }
        }
        Type::Intersection(intersection) => {
            for element in intersection.iter_positive(db) {
                collect_classes(db, environment, element, depth + 1, out);
            }
        }
        _ => {
            let Some(TypeDefinition::StaticClass(definition)) = ty.definition(db, environment)
            else {
                return;
            };
            let Some(range) = TypeDefinition::StaticClass(definition).focus_range(db) else {
                return;
            };
            let file = range.file();
            let Some(path) = file.path(db).as_system_path() else {
                // typeshed's classes: the standard library is not what a context is for.
                return;
            };
            let source = source_text(db, file);
            let Some(name) = source.as_str().get(range.range().to_std_range()) else {
                return;
            };
            let class = ClassAt {
                path: path.as_std_path().to_path_buf(),
                name: name.to_string(),
            };
            if !out.contains(&class) {
                out.push(class);
            }
        }
    }
}

/// Member reads (`value.name`, not stores) in bytes `start..end` of `file` whose value ty types as
/// unknown (see `is_unknown`): an unannotated parameter, an untyped container's element, either
/// narrowed by `isinstance`. ty has nothing to say of them; the checks judge the name against the
/// names the program's world spells (`check::typed`). Unless `every_import_resolves`, only values
/// that come from the workspace's callers count (`origin`): a module ty cannot find is a part of
/// the world whose names nobody here knows.
pub(super) fn unknown_receiver_reads(
    db: &SemanticDb,
    file: File,
    start: usize,
    end: usize,
    every_import_resolves: bool,
) -> Vec<super::Finding> {
    let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(end)) else {
        return Vec::new();
    };
    let model = SemanticModel::new(db, db.program_file(file));
    let parsed = parsed_module(db, model.python_file()).load(db);
    let mut reads = UnknownReceiverReads {
        range: TextRange::new(TextSize::new(start), TextSize::new(end.max(start))),
        model: &model,
        module: parsed.syntax(),
        every_import_resolves,
        source: source_text(db, file),
        found: Vec::new(),
    };
    walk_node(&mut reads, AnyNodeRef::from(parsed.syntax()));
    reads.found
}

/// Whether ty knows nothing of what a value of type `ty` has: `Unknown` (also as an unknown
/// value subscripted, `untyped[0]`), a recursive inference ty gave up on, or an intersection with
/// one of those (an untyped value narrowed by `isinstance`: ty lets it have any member). An
/// explicit `Any` is the author's choice and is not unknown.
fn is_unknown(db: &dyn ty_python_semantic::Db, ty: Type<'_>) -> bool {
    let unknown = |ty: Type<'_>| {
        matches!(
            ty,
            Type::Dynamic(DynamicType::Unknown | DynamicType::UnknownGeneric(_))
                | Type::Divergent(_)
        )
    };
    match ty {
        Type::Intersection(intersection) => intersection.iter_positive(db).any(unknown),
        ty => unknown(ty),
    }
}

struct UnknownReceiverReads<'a, 'db> {
    range: TextRange,
    model: &'a SemanticModel<'db>,
    module: &'a ruff_python_ast::ModModule,
    every_import_resolves: bool,
    source: ruff_db::source::SourceText,
    found: Vec<super::Finding>,
}

impl<'ast> SourceOrderVisitor<'ast> for UnknownReceiverReads<'_, '_> {
    fn enter_node(&mut self, node: AnyNodeRef<'ast>) -> TraversalSignal {
        let range = node.range();
        if range
            .intersect(self.range)
            .is_none_or(|common| common.is_empty())
        {
            return TraversalSignal::Skip;
        }
        if let AnyNodeRef::ExprAttribute(attribute) = node {
            if attribute.ctx.is_load() && self.range.contains_range(range) {
                let unknown = attribute
                    .value
                    .inferred_type(self.model)
                    .is_some_and(|ty| is_unknown(self.model.db(), ty))
                    && (self.every_import_resolves
                        || super::origin::traces_to_parameters(
                            self.model,
                            self.module,
                            &attribute.value,
                        ));
                if unknown {
                    let receiver = self
                        .source
                        .as_str()
                        .get(attribute.value.range().to_std_range())
                        .unwrap_or("");
                    let receiver: String = receiver.chars().take(40).collect();
                    self.found.push(super::Finding {
                        rule: super::UNKNOWN_RECEIVER,
                        message: format!(
                            "The type of `{receiver}` is not known, and no code of the \
                             workspace, its installed packages or the standard library names \
                             a member `{}`",
                            attribute.attr.id
                        ),
                        start: range.start().to_usize(),
                        end: range.end().to_usize(),
                        cause: None,
                    });
                }
            }
        }
        TraversalSignal::Traverse
    }
}

/// A member of a method's `self` that the method assigns (`self.name = ...`).
#[derive(Debug, Clone)]
pub(super) struct StoreOnSelf {
    pub member: String,
    /// Bytes of the target (`self.name`).
    pub range: TextRange,
    /// Bytes of the class whose method assigns it.
    pub class: TextRange,
}

/// The members of `self` that statements in bytes `start..end` of `file` assign.
pub(super) fn stores_on_self(
    db: &SemanticDb,
    file: File,
    start: usize,
    end: usize,
) -> Vec<StoreOnSelf> {
    let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(end)) else {
        return Vec::new();
    };
    let range = TextRange::new(TextSize::new(start), TextSize::new(end.max(start)));
    let parsed = parsed_module(db, db.program_file(file).python_file(db)).load(db);
    let module = parsed.syntax();
    let mut targets = StoreTargets {
        range,
        found: Vec::new(),
    };
    walk_node(&mut targets, AnyNodeRef::from(module));
    targets
        .found
        .into_iter()
        .filter_map(|attribute| {
            let ruff_python_ast::Expr::Name(receiver) = attribute.value.as_ref() else {
                return None;
            };
            let (first, class) = super::origin::method_receiver(module, attribute.range())?;
            (first == receiver.id.as_str()).then(|| StoreOnSelf {
                member: attribute.attr.id.to_string(),
                range: attribute.range(),
                class: class.range(),
            })
        })
        .collect()
}

/// The class whose method reads `self.name` at exactly `range` of `file`, if that is what is
/// there.
pub(super) fn class_of_read_on_self(
    db: &SemanticDb,
    file: File,
    range: TextRange,
) -> Option<TextRange> {
    let parsed = parsed_module(db, db.program_file(file).python_file(db)).load(db);
    let module = parsed.syntax();
    let source = source_text(db, file);
    let text = source.as_str().get(range.to_std_range())?;
    let (receiver, _) = text.split_once('.')?;
    let (first, class) = super::origin::method_receiver(module, range)?;
    (first == receiver.trim()).then(|| class.range())
}

/// Attribute targets of assignments within a range.
struct StoreTargets<'a> {
    range: TextRange,
    found: Vec<&'a ruff_python_ast::ExprAttribute>,
}

impl<'a> StoreTargets<'a> {
    fn target(&mut self, target: &'a ruff_python_ast::Expr) {
        use ruff_python_ast::Expr;
        match target {
            Expr::Attribute(attribute) => self.found.push(attribute),
            Expr::Tuple(tuple) => tuple.elts.iter().for_each(|element| self.target(element)),
            Expr::List(list) => list.elts.iter().for_each(|element| self.target(element)),
            Expr::Starred(starred) => self.target(&starred.value),
            _ => {}
        }
    }
}

impl<'a> SourceOrderVisitor<'a> for StoreTargets<'a> {
    fn enter_node(&mut self, node: AnyNodeRef<'a>) -> TraversalSignal {
        if node
            .range()
            .intersect(self.range)
            .is_none_or(|common| common.is_empty())
        {
            return TraversalSignal::Skip;
        }
        if self.range.contains_range(node.range()) {
            match node {
                AnyNodeRef::StmtAssign(assign) => {
                    assign.targets.iter().for_each(|target| self.target(target))
                }
                AnyNodeRef::StmtAnnAssign(assign) => self.target(&assign.target),
                _ => {}
            }
        }
        TraversalSignal::Traverse
    }
}
