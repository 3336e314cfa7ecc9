//! Where a value of unknown type comes from. ty types two different things as `Unknown`: a value
//! it cannot see into (an object of a module that does not resolve, or one returned by code whose
//! types it gave up on) and a value nobody declared (an unannotated parameter). In a document
//! whose imports do not all resolve, only the second kind may have its members judged against the
//! program's vocabulary: a missing module's objects have members nobody here spells.
//!
//! The trace follows a value back through the names and attributes it was assigned from, in the
//! file itself: a name to its bindings in the scopes around it, `self.name` to what the class's
//! methods assign to it, `x.y`, `x[i]` and `x(...)` to `x` when `x`'s own type is unknown. It
//! succeeds only when every way leads to a parameter without an annotation (whose value the
//! workspace's callers give) or to an expression whose type ty knows. Imports, calls of known
//! callables, annotations ty could not resolve, and anything the trace does not model end it in
//! failure: the value may come from outside the known world.

use std::cell::Cell;

use ruff_python_ast::visitor::source_order::{walk_node, SourceOrderVisitor, TraversalSignal};
use ruff_python_ast::{self as ast, AnyNodeRef, Expr, ExprContext, Stmt};
use ruff_text_size::{Ranged, TextRange};
use ty_python_semantic::types::{DynamicType, Type};
use ty_python_semantic::{HasType, SemanticModel};

/// How many expressions one trace may visit before it gives up (and fails).
const MAX_VISITS: usize = 48;

/// Whether the value of `receiver`, an expression of `module` whose type ty does not know, comes
/// only from the workspace's callers: from unannotated parameters, or from expressions whose types
/// are known, through any chain of assignments in the file.
pub(super) fn traces_to_parameters(
    model: &SemanticModel<'_>,
    module: &ast::ModModule,
    receiver: &Expr,
) -> bool {
    let scopes = scopes_around(module, receiver.range());
    let trace = Trace {
        model,
        visits: Cell::new(0),
    };
    trace.expression(receiver, &scopes)
}

/// A scope of Python's name resolution.
#[derive(Clone, Copy)]
pub(super) enum Scope<'a> {
    Module(&'a [Stmt]),
    Class(&'a ast::StmtClassDef),
    Function(&'a ast::StmtFunctionDef),
    Lambda(&'a ast::ExprLambda),
    Comprehension(&'a [ast::Comprehension]),
}

/// The scopes whose code holds `range`, outermost (the module) first.
pub(super) fn scopes_around(module: &ast::ModModule, range: TextRange) -> Vec<Scope<'_>> {
    let mut around = ScopesAround {
        range,
        scopes: vec![Scope::Module(&module.body)],
    };
    for statement in &module.body {
        walk_node(&mut around, AnyNodeRef::from(statement));
    }
    around.scopes
}

struct ScopesAround<'a> {
    range: TextRange,
    scopes: Vec<Scope<'a>>,
}

impl<'a> SourceOrderVisitor<'a> for ScopesAround<'a> {
    fn enter_node(&mut self, node: AnyNodeRef<'a>) -> TraversalSignal {
        if !node.range().contains_range(self.range) {
            return TraversalSignal::Skip;
        }
        let start = self.range.start();
        // Decorators, defaults, bases and a lambda's defaults are evaluated in the scope around.
        match node {
            AnyNodeRef::StmtFunctionDef(function) if start >= function.parameters.end() => {
                self.scopes.push(Scope::Function(function))
            }
            AnyNodeRef::StmtClassDef(class)
                if class
                    .body
                    .first()
                    .is_some_and(|first| start >= first.start()) =>
            {
                self.scopes.push(Scope::Class(class))
            }
            AnyNodeRef::ExprLambda(lambda) if lambda.body.range().contains_range(self.range) => {
                self.scopes.push(Scope::Lambda(lambda))
            }
            AnyNodeRef::ExprListComp(comprehension) => self
                .scopes
                .push(Scope::Comprehension(&comprehension.generators)),
            AnyNodeRef::ExprSetComp(comprehension) => self
                .scopes
                .push(Scope::Comprehension(&comprehension.generators)),
            AnyNodeRef::ExprDictComp(comprehension) => self
                .scopes
                .push(Scope::Comprehension(&comprehension.generators)),
            AnyNodeRef::ExprGenerator(generator) => self
                .scopes
                .push(Scope::Comprehension(&generator.generators)),
            _ => {}
        }
        TraversalSignal::Traverse
    }
}

/// One way a name gets its value in a scope.
enum Binding<'a> {
    /// An unannotated parameter: the callers give the value.
    Parameter,
    /// A value the trace does not follow (an import, an annotation ty could not resolve).
    Opaque,
    /// A parameter with this annotation: the callers give the value, when the annotation names
    /// a type ty knows (`list`, whose elements the author left untyped); a string or a name ty
    /// could not resolve says nothing of where the value comes from.
    Annotated(&'a Expr),
    /// A definition whose type ty knows (a function, a class, a caught exception).
    Known,
    /// The value of this expression (the whole right-hand side of an unpacking).
    Value(&'a Expr),
}

struct Trace<'m, 'db> {
    model: &'m SemanticModel<'db>,
    visits: Cell<usize>,
}

impl Trace<'_, '_> {
    /// Whether `expression`, evaluated in the innermost of `scopes`, gets its value only from
    /// unannotated parameters or from values whose types are known.
    fn expression(&self, expression: &Expr, scopes: &[Scope<'_>]) -> bool {
        let visits = self.visits.get() + 1;
        self.visits.set(visits);
        if visits > MAX_VISITS {
            return false;
        }
        if expression
            .inferred_type(self.model)
            .is_some_and(|ty| !self.carries_unknown(ty))
        {
            return true;
        }
        match expression {
            Expr::Name(name) => self.name(name.id.as_str(), scopes),
            Expr::Attribute(attribute) => {
                let receiver_known = attribute
                    .value
                    .inferred_type(self.model)
                    .is_some_and(|ty| !self.carries_unknown(ty));
                if receiver_known {
                    self.attribute_of_self(attribute, scopes)
                } else {
                    self.expression(&attribute.value, scopes)
                }
            }
            Expr::Call(call) => {
                let callee_unknown = call
                    .func
                    .inferred_type(self.model)
                    .is_none_or(|ty| self.carries_unknown(ty));
                callee_unknown && self.expression(&call.func, scopes)
            }
            Expr::Subscript(subscript) => self.expression(&subscript.value, scopes),
            Expr::Await(awaited) => self.expression(&awaited.value, scopes),
            Expr::Starred(starred) => self.expression(&starred.value, scopes),
            Expr::Named(named) => self.expression(&named.value, scopes),
            Expr::BoolOp(operation) => operation
                .values
                .iter()
                .all(|value| self.expression(value, scopes)),
            Expr::If(choice) => {
                self.expression(&choice.body, scopes) && self.expression(&choice.orelse, scopes)
            }
            _ => false,
        }
    }

    /// Whether an annotation names a type ty knows: not a string, not an unresolved name.
    fn names_a_known_type(&self, annotation: &Expr) -> bool {
        !matches!(annotation, Expr::StringLiteral(_))
            && annotation
                .inferred_type(self.model)
                .is_some_and(|ty| !matches!(ty, Type::Dynamic(_) | Type::Divergent(_)))
    }

    /// Whether a type has a part ty does not know (`Unknown`, a recursion it gave up on, a
    /// feature it does not model yet) anywhere in it: in a union, or as a type argument
    /// (`list[Unknown]`, whose elements are as unknown as the value).
    fn carries_unknown(&self, ty: Type<'_>) -> bool {
        if let Type::Dynamic(DynamicType::Any) = ty {
            return false;
        }
        if matches!(ty, Type::Dynamic(_) | Type::Divergent(_)) {
            return true;
        }
        let environment = self.model.program_environment();
        let shown = ty.display(self.model.db(), &environment).to_string();
        shown.contains("Unknown") || shown.contains("Divergent") || shown.contains("@Todo")
    }

    /// A name's value: its bindings in the innermost scope that binds it (class bodies count only
    /// for code directly in them, as in Python).
    fn name(&self, name: &str, scopes: &[Scope<'_>]) -> bool {
        for at in (0..scopes.len()).rev() {
            if matches!(scopes[at], Scope::Class(_)) && at + 1 != scopes.len() {
                continue;
            }
            let bindings = bindings_in(scopes[at], name);
            if bindings.is_empty() {
                continue;
            }
            return self.follow(&bindings, &scopes[..=at]);
        }
        // A builtin or a star import's name: ty knows the one, not the other.
        false
    }

    /// Whether every one of `bindings`, made in the innermost of `scopes`, gives a value only
    /// the callers or a known type decide.
    fn follow(&self, bindings: &[Binding<'_>], scopes: &[Scope<'_>]) -> bool {
        bindings.iter().all(|binding| match binding {
            Binding::Parameter | Binding::Known => true,
            Binding::Opaque => false,
            Binding::Annotated(annotation) => self.names_a_known_type(annotation),
            Binding::Value(value) => self.expression(value, scopes),
        })
    }

    /// `self.name` in a method, where `self`'s class is known: the values the class's methods (in
    /// this file) assign to `self.name`, and its class-level assignments. A class with a base ty
    /// cannot see may get the member from that base, and a member no code here assigns comes
    /// from elsewhere: both end the trace.
    fn attribute_of_self(&self, attribute: &ast::ExprAttribute, scopes: &[Scope<'_>]) -> bool {
        let Expr::Name(receiver) = attribute.value.as_ref() else {
            return false;
        };
        let Some((method_at, method, class)) = innermost_method(scopes) else {
            return false;
        };
        if first_parameter(method) != Some(receiver.id.as_str()) {
            return false;
        }
        let bases_known = class.bases().iter().all(|base| {
            base.inferred_type(self.model)
                .is_some_and(|ty| !self.carries_unknown(ty))
        });
        if !bases_known {
            return false;
        }
        let class_scopes = &scopes[..method_at];
        let member = attribute.attr.as_str();
        let mut assigned = false;
        for statement in &class.body {
            let (bindings, scopes) = match statement {
                Stmt::FunctionDef(other) => {
                    let Some(receiver) = first_parameter(other) else {
                        continue;
                    };
                    let target = Target::Member { receiver, member };
                    let bindings: Vec<Binding<'_>> = other
                        .body
                        .iter()
                        .flat_map(|statement| bindings_of_statement(statement, target))
                        .collect();
                    let mut method_scopes = class_scopes.to_vec();
                    method_scopes.push(Scope::Function(other));
                    (bindings, method_scopes)
                }
                _ => (
                    bindings_of_statement(statement, Target::Name(member)),
                    class_scopes.to_vec(),
                ),
            };
            if bindings.is_empty() {
                continue;
            }
            assigned = true;
            if !self.follow(&bindings, &scopes) {
                return false;
            }
        }
        assigned
    }
}

/// The name of a function's first positional parameter (`self` of a method).
pub(super) fn first_parameter(function: &ast::StmtFunctionDef) -> Option<&str> {
    let parameters = &function.parameters;
    parameters
        .posonlyargs
        .iter()
        .chain(&parameters.args)
        .next()
        .map(|parameter| parameter.parameter.name.as_str())
}

/// How `name` is bound in `scope` (not in the scopes nested in it).
fn bindings_in<'a>(scope: Scope<'a>, name: &str) -> Vec<Binding<'a>> {
    let target = Target::Name(name);
    let mut bindings = Vec::new();
    match scope {
        Scope::Module(body) => {
            for statement in body {
                bindings.extend(bindings_of_statement(statement, target));
            }
        }
        Scope::Class(class) => {
            for statement in &class.body {
                bindings.extend(bindings_of_statement(statement, target));
            }
        }
        Scope::Function(function) => {
            if let Some(parameter) = function
                .parameters
                .iter()
                .find(|parameter| parameter.name().as_str() == name)
            {
                bindings.push(match parameter.annotation() {
                    None => Binding::Parameter,
                    Some(annotation) => Binding::Annotated(annotation),
                });
            }
            for statement in &function.body {
                bindings.extend(bindings_of_statement(statement, target));
            }
        }
        Scope::Lambda(lambda) => {
            let named = lambda.parameters.as_ref().is_some_and(|parameters| {
                parameters
                    .iter()
                    .any(|parameter| parameter.name().as_str() == name)
            });
            if named {
                bindings.push(Binding::Parameter);
            }
        }
        Scope::Comprehension(generators) => {
            for generator in generators {
                if target.is_assigned_by(&generator.target) {
                    bindings.push(Binding::Value(&generator.iter));
                }
            }
        }
    }
    bindings
}

/// What a binding search looks for: a name, or a member of a method's receiver (`self.name`).
#[derive(Clone, Copy)]
enum Target<'n> {
    Name(&'n str),
    Member { receiver: &'n str, member: &'n str },
}

impl Target<'_> {
    /// Whether assigning to `target` (`x = ...`, `a, *x = ...`, `self.x = ...`) assigns this.
    fn is_assigned_by(&self, target: &Expr) -> bool {
        match (self, target) {
            (Target::Name(name), Expr::Name(bound)) => {
                bound.id.as_str() == *name && bound.ctx == ExprContext::Store
            }
            (Target::Member { receiver, member }, Expr::Attribute(attribute)) => {
                attribute.attr.as_str() == *member
                    && matches!(attribute.value.as_ref(),
                        Expr::Name(name) if name.id.as_str() == *receiver)
            }
            (_, Expr::Tuple(tuple)) => tuple
                .elts
                .iter()
                .any(|element| self.is_assigned_by(element)),
            (_, Expr::List(list)) => list.elts.iter().any(|element| self.is_assigned_by(element)),
            (_, Expr::Starred(starred)) => self.is_assigned_by(&starred.value),
            _ => false,
        }
    }

    /// Whether this is the name `bound` (definitions, imports and handlers bind names only).
    fn is_name(&self, bound: &str) -> bool {
        matches!(self, Target::Name(name) if *name == bound)
    }
}

/// How `statement`, and the statements nested in it that share its scope, assign `target`.
fn bindings_of_statement<'a>(statement: &'a Stmt, target: Target<'_>) -> Vec<Binding<'a>> {
    let mut finder = Bindings {
        target,
        found: Vec::new(),
    };
    walk_node(&mut finder, AnyNodeRef::from(statement));
    finder.found
}

struct Bindings<'n, 'a> {
    target: Target<'n>,
    found: Vec<Binding<'a>>,
}

impl<'a> SourceOrderVisitor<'a> for Bindings<'_, 'a> {
    fn enter_node(&mut self, node: AnyNodeRef<'a>) -> TraversalSignal {
        let target = self.target;
        match node {
            AnyNodeRef::StmtFunctionDef(function) => {
                if target.is_name(function.name.as_str()) {
                    self.found.push(Binding::Known);
                }
                return TraversalSignal::Skip;
            }
            AnyNodeRef::StmtClassDef(class) => {
                if target.is_name(class.name.as_str()) {
                    self.found.push(Binding::Known);
                }
                return TraversalSignal::Skip;
            }
            AnyNodeRef::ExprLambda(_)
            | AnyNodeRef::ExprListComp(_)
            | AnyNodeRef::ExprSetComp(_)
            | AnyNodeRef::ExprDictComp(_)
            | AnyNodeRef::ExprGenerator(_) => return TraversalSignal::Skip,
            AnyNodeRef::StmtAssign(assign)
                if assign
                    .targets
                    .iter()
                    .any(|assigned| target.is_assigned_by(assigned)) =>
            {
                self.found.push(Binding::Value(&assign.value));
            }
            AnyNodeRef::StmtAugAssign(assign) if target.is_assigned_by(&assign.target) => {
                self.found.push(Binding::Value(&assign.value));
            }
            // Still unknown with an annotation: the annotation names what ty cannot see.
            AnyNodeRef::StmtAnnAssign(assign) if target.is_assigned_by(&assign.target) => {
                self.found.push(Binding::Opaque);
            }
            AnyNodeRef::StmtFor(each) if target.is_assigned_by(&each.target) => {
                self.found.push(Binding::Value(&each.iter));
            }
            AnyNodeRef::StmtWith(with) => {
                for item in &with.items {
                    if item
                        .optional_vars
                        .as_deref()
                        .is_some_and(|assigned| target.is_assigned_by(assigned))
                    {
                        self.found.push(Binding::Value(&item.context_expr));
                    }
                }
            }
            AnyNodeRef::ExprNamed(named) if target.is_assigned_by(&named.target) => {
                self.found.push(Binding::Value(&named.value));
            }
            AnyNodeRef::ExceptHandlerExceptHandler(handler)
                if handler
                    .name
                    .as_ref()
                    .is_some_and(|bound| target.is_name(bound.as_str())) =>
            {
                self.found.push(Binding::Known);
            }
            AnyNodeRef::StmtImport(import) => {
                let bound = import.names.iter().any(|alias| match &alias.asname {
                    Some(alias) => target.is_name(alias.as_str()),
                    None => alias
                        .name
                        .as_str()
                        .split('.')
                        .next()
                        .is_some_and(|first| target.is_name(first)),
                });
                if bound {
                    self.found.push(Binding::Opaque);
                }
            }
            AnyNodeRef::StmtImportFrom(import) => {
                let bound = matches!(target, Target::Name(_))
                    && import.names.iter().any(|alias| {
                        alias.name.as_str() == "*"
                            || target.is_name(alias.asname.as_ref().unwrap_or(&alias.name).as_str())
                    });
                if bound {
                    self.found.push(Binding::Opaque);
                }
            }
            AnyNodeRef::StmtGlobal(ast::StmtGlobal { names, .. })
            | AnyNodeRef::StmtNonlocal(ast::StmtNonlocal { names, .. })
                if names.iter().any(|bound| target.is_name(bound.as_str())) =>
            {
                self.found.push(Binding::Opaque);
            }
            AnyNodeRef::StmtMatch(_) | AnyNodeRef::StmtTypeAlias(_)
                if matches!(target, Target::Name(_)) =>
            {
                self.found.push(Binding::Opaque);
                return TraversalSignal::Skip;
            }
            _ => {}
        }
        TraversalSignal::Traverse
    }
}

/// The class whose method holds `range`, when the expression there is a member of the method's
/// first parameter (`self.name`): that parameter's name and the class.
pub(super) fn method_receiver(
    module: &ast::ModModule,
    range: TextRange,
) -> Option<(&str, &ast::StmtClassDef)> {
    let scopes = scopes_around(module, range);
    let (_, method, class) = innermost_method(&scopes)?;
    Some((first_parameter(method)?, class))
}

/// The innermost function of `scopes`, when it is a method (defined directly in a class): its
/// place in `scopes`, the function and the class.
fn innermost_method<'a>(
    scopes: &[Scope<'a>],
) -> Option<(usize, &'a ast::StmtFunctionDef, &'a ast::StmtClassDef)> {
    let method_at = scopes
        .iter()
        .rposition(|scope| matches!(scope, Scope::Function(_)))?;
    match (scopes[method_at], scopes.get(method_at.checked_sub(1)?)) {
        (Scope::Function(method), Some(Scope::Class(class))) => Some((method_at, method, class)),
        _ => None,
    }
}
