; Names a function body assigns, with what their type can be read from.
;
; Read by src/context/hole.rs (`collect_locals`) over the enclosing function's body up to the
; cursor: `name: T = value` gives T, `name = Callee(...)` gives `call:Callee`. Assignments
; inside a nested scope (captured as @local.scope) belong to that scope and are skipped.

(assignment
  left: (identifier) @local.name
  type: (_)? @local.annotation
  right: (_)? @local.value) @local.assignment

[
  (function_definition)
  (class_definition)
  (decorated_definition)
  (lambda)
] @local.scope
