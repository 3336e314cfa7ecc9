"""A scripted language server for testing the Neovim plugin's client side on its own.

It answers `textDocument/inlineCompletion` with the items in a JSON script file (re-read on each
request, so a test can change it), after an optional delay; runs `workspace/executeCommand` by
sending a scripted `workspace/applyEdit`; offers a scripted quick fix as a code action. It logs
every request, and every request the client cancelled, to a JSON-lines file the test reads.

Run as `python scripted_lsp.py SCRIPT.json`. The script's keys: `items` (inline completion items;
an item without `range` gets an empty range at the cursor), `delay` (seconds), `log` (the path of
the log file), `commands` (names to advertise for executeCommand), `command_edit` and `fix_edit`
(WorkspaceEdit JSON to apply).
"""

from __future__ import annotations

import asyncio
import json
import sys

from lsprotocol import types
from pygls.lsp.server import LanguageServer

SCRIPT_PATH = sys.argv[1]


def script() -> dict:
    with open(SCRIPT_PATH, encoding="utf-8") as file:
        return json.load(file)


def log(event: dict) -> None:
    with open(script()["log"], "a", encoding="utf-8") as file:
        file.write(json.dumps(event) + "\n")


server = LanguageServer("scripted-lsp", "1.0", max_workers=2)


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION)
async def inline_completion(ls: LanguageServer, params: types.InlineCompletionParams):
    current = script()
    position = {"line": params.position.line, "character": params.position.character}
    log({"event": "inlineCompletion", "position": position, "trigger": int(params.context.trigger_kind)})
    try:
        await asyncio.sleep(current.get("delay", 0))
    except asyncio.CancelledError:
        log({"event": "cancelled", "position": position})
        raise
    items = []
    for item in current.get("items", []):
        item = dict(item)
        item.setdefault("range", {"start": position, "end": position})
        items.append(ls.protocol._converter.structure(item, types.InlineCompletionItem))
    log({"event": "answered", "position": position, "items": len(items)})
    return types.InlineCompletionList(items=items)


async def execute_command(ls: LanguageServer, command: str, arguments) -> None:
    current = script()
    arguments = ls.protocol._converter.unstructure(arguments)
    log({"event": "executeCommand", "command": command, "arguments": arguments})
    if command not in current.get("commands", []):
        raise ValueError(f"unknown command {command}")
    edit = ls.protocol._converter.structure(current["command_edit"], types.WorkspaceEdit)
    result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=command))
    log({"event": "applyEdit", "applied": result.applied})


@server.command("spackle.generateDocstring")
async def generate_docstring(ls: LanguageServer, *arguments):
    await execute_command(ls, "spackle.generateDocstring", list(arguments))


@server.command("spackle.comment")
async def comment(ls: LanguageServer, *arguments):
    await execute_command(ls, "spackle.comment", list(arguments))


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION)
def code_action(ls: LanguageServer, params: types.CodeActionParams):
    current = script()
    log({"event": "codeAction", "only": [str(kind.value) if hasattr(kind, "value") else str(kind) for kind in (params.context.only or [])]})
    if "fix_edit" not in current:
        return []
    edit = ls.protocol._converter.structure(current["fix_edit"], types.WorkspaceEdit)
    return [types.CodeAction(title="spackle: fix", kind=types.CodeActionKind.QuickFix, edit=edit, is_preferred=True)]


if __name__ == "__main__":
    server.start_io()
