; The sites that give a typed hole its expected type or its call argument.
;
; Read by src/context/hole.rs (`hole_sites`): the query runs over the few nodes around the
; cursor, only captures whose node encloses the cursor count, and they are read innermost
; first. The rules that pick among them (stop at a scope, the value side of an assignment,
; the element type of a container literal) are in the Rust code next to the reader.

; `return ...`: the enclosing function's return annotation.
(return_statement) @expected.return

; `name: T = value`: T, once the cursor is in the value.
(assignment
  type: (_) @expected.annotation
  right: (_) @expected.value) @expected.assignment

; `callee(..., argument)`: the callee as written, when it is a name or a dotted name; the
; parameter's annotation is then looked up in the index.
(call
  function: [(identifier) (attribute)] @call.callee
  arguments: (argument_list) @call.arguments)

; Every argument list: the innermost one around the cursor decides; when it is not the
; arguments of a call captured above (a class's bases, a call of a subscript), there is no
; call argument.
(argument_list) @arguments

; `name=value`: the parameter the argument binds to by name.
(keyword_argument
  name: (_) @call.keyword) @call.keyword_argument

; Scopes: nothing outside them says what the code inside should be.
[
  (function_definition)
  (class_definition)
  (lambda)
] @scope

; Statements: a call argument does not reach past the statement around the cursor.
[
  (block)
  (expression_statement)
] @statement
