"""The Neovim plugin's ghost text, keys and commands in real headless Neovim 0.11, against a
scripted language server (so each protocol exchange is under the test's control).

The same plugin against the real spackle binary is in test_nvim_spackle.py.
"""

from __future__ import annotations

import time
from pathlib import Path

SOURCE = "def add(a, b):\n    return \n"


def start(editor, scripted_lsp, workspace: Path, *, auto_trigger: bool = True, text: str = SOURCE) -> Path:
    path = workspace / "calc.py"
    path.write_text(text)
    editor.setup("{ cmd = %s, suggestion = { debounce_ms = 30, auto_trigger = %s } }"
                 % (scripted_lsp.cmd_lua(), "true" if auto_trigger else "false"))
    editor.open(path)
    editor.wait_attached()
    return path


def test_ghost_text_appears_after_a_pause_and_tab_accepts_it(editor, scripted_lsp, workspace):
    # The item's range starts before the cursor, at the "a" the user typed: ghost text shows the rest.
    scripted_lsp.write(items=[{"insertText": "a + b",
                               "range": {"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 12}},
                               "command": {"title": "spackle: checked (syntax) in 1 round", "command": "spackle.accepted",
                                           "arguments": [{"rounds": 1, "checks": ["syntax"]}]}}])
    start(editor, scripted_lsp, workspace)
    editor.nvim.command("call cursor(2, 1)")
    editor.type("A")  # Append at the end of "    return ".
    editor.until(editor.mode, "i", what="insert mode")
    assert editor.ghost_text() is None, "nothing is asked before the user types"
    editor.type("a")
    assert editor.wait_ghost() == " + b", "the 'a' already typed is not shown again"
    request = scripted_lsp.events("inlineCompletion")[-1]
    assert request["position"] == {"line": 1, "character": 12}
    assert request["trigger"] == 2, "automatic trigger"
    editor.type("<Tab>")
    editor.wait_for("require('spackle.ghost').stats.accepted == 1")
    assert editor.lines()[:2] == ["def add(a, b):", "    return a + b"]
    assert editor.cursor() == (2, 16)
    assert editor.mode() == "i"
    assert editor.ghost_text() is None
    assert "checked (syntax)" in editor.lua("return require('spackle').status.accepted")


def test_typing_the_start_of_the_suggestion_keeps_the_rest_and_other_text_dismisses_it(editor, scripted_lsp, workspace):
    scripted_lsp.write(items=[{"insertText": " + b"}])
    start(editor, scripted_lsp, workspace)
    editor.nvim.command("call cursor(2, 1)")
    editor.type("Aa")
    assert editor.wait_ghost() == " + b"
    editor.type(" +")
    editor.until(editor.ghost_text, " b", what="the rest of the suggestion")
    requests = len(scripted_lsp.events("inlineCompletion"))
    editor.type("-")
    editor.until(editor.ghost_text, None, what="typing something else hides the suggestion")
    editor.until(lambda: len(scripted_lsp.events("inlineCompletion")) > requests, True, what="a new request after the pause")


def test_typing_on_cancels_the_request_in_flight(editor, scripted_lsp, workspace):
    scripted_lsp.write(items=[{"insertText": "a + b"}], delay=1.5)
    start(editor, scripted_lsp, workspace)
    editor.nvim.command("call cursor(2, 1)")
    editor.type("Aa")
    # Type on only once the server is working on the request, so that there is something to cancel.
    editor.until(lambda: len(scripted_lsp.events("inlineCompletion")), 1, what="the request reaching the server")
    editor.type("x")
    deadline = time.monotonic() + 5
    while not scripted_lsp.events("cancelled") and time.monotonic() < deadline:
        time.sleep(0.05)
    cancelled = scripted_lsp.events("cancelled")
    assert cancelled and cancelled[0]["position"] == {"line": 1, "character": 12}, "the server saw $/cancelRequest"
    # The request made after "x" is answered; the cancelled one never shows.
    assert editor.wait_ghost(5) == "a + b"
    assert editor.lines()[1] == "    return ax"
    assert len(scripted_lsp.events("answered")) == 1


def test_accept_word_and_line_of_a_multi_line_suggestion(editor, scripted_lsp, workspace):
    scripted_lsp.write(items=[{"insertText": "total = a + b\n    return total"}])
    start(editor, scripted_lsp, workspace, text="def add(a, b):\n    \n")
    editor.nvim.command("call cursor(2, 1)")
    editor.type("A")
    editor.type("<M-\\>")  # Ask now, without waiting for typing.
    assert editor.wait_ghost() == "total = a + b\n    return total"
    assert scripted_lsp.events("inlineCompletion")[-1]["trigger"] == 1, "invoked by the user"
    editor.type("<M-Right>")
    editor.until(lambda: editor.lines()[1], "    total", what="the first word accepted")
    assert editor.ghost_text() == " = a + b\n    return total"
    editor.type("<M-Down>")
    editor.until(lambda: editor.lines()[1], "    total = a + b", what="the rest of the line accepted")
    assert editor.ghost_text() == "\n    return total"
    editor.type("<M-Down>")
    editor.until(lambda: editor.lines()[1:3], ["    total = a + b", "    return total"], what="the next line accepted")
    assert editor.cursor() == (3, 16)


def test_next_and_previous_cycle_through_suggestions_and_dismiss_hides_them(editor, scripted_lsp, workspace):
    scripted_lsp.write(items=[{"insertText": "a + b"}, {"insertText": "b + a"}])
    start(editor, scripted_lsp, workspace, auto_trigger=False)
    editor.nvim.command("call cursor(2, 1)")
    editor.type("A")
    time.sleep(0.2)
    assert scripted_lsp.events("inlineCompletion") == [], "auto trigger is off"
    editor.type("<M-]>")  # With nothing on screen, "next" asks the server.
    assert editor.wait_ghost() == "a + b"
    editor.type("<M-]>")
    editor.until(editor.ghost_text, "b + a", what="the next suggestion")
    editor.type("<M-]>")
    editor.until(editor.ghost_text, "a + b", what="back to the first")
    editor.type("<M-[>")
    editor.until(editor.ghost_text, "b + a", what="the previous suggestion")
    editor.type("<C-]>")
    editor.until(editor.ghost_text, None, what="dismissed")
    assert editor.lines()[1] == "    return "
    editor.type("<Esc>")
    editor.until(editor.mode, "n", what="normal mode")


def test_leaving_insert_mode_dismisses(editor, scripted_lsp, workspace):
    scripted_lsp.write(items=[{"insertText": " + b"}])
    start(editor, scripted_lsp, workspace)
    editor.nvim.command("call cursor(2, 1)")
    editor.type("Aa")
    editor.wait_ghost()
    editor.type("<Esc>")
    editor.until(editor.ghost_text, None, what="dismissed on leaving insert mode")
    assert editor.lines()[1] == "    return a"


def test_tab_without_a_suggestion_inserts_a_tab(editor, scripted_lsp, workspace):
    start(editor, scripted_lsp, workspace, auto_trigger=False)
    editor.nvim.command("setlocal noexpandtab softtabstop=0")
    editor.nvim.command("call cursor(2, 1)")
    editor.type("A<Tab>")
    editor.until(lambda: editor.lines()[1], "    return \t", what="a plain tab")


def test_docstring_command_runs_the_server_command_and_applies_its_edit(editor, scripted_lsp, workspace):
    path = workspace / "calc.py"
    uri = path.as_uri()
    edit = {"changes": {uri: [{"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
                                 "newText": '    """Adds two numbers."""\n'}]}}
    scripted_lsp.write(items=[], commands=["spackle.generateDocstring"], command_edit=edit)
    start(editor, scripted_lsp, workspace)
    editor.nvim.command("call cursor(1, 5)")
    editor.nvim.command("SpackleDocstring")
    editor.wait_for("vim.api.nvim_buf_get_lines(0, 1, 2, false)[1]:find('Adds') ~= nil", what="the docstring edit")
    assert editor.lines()[:3] == ["def add(a, b):", '    """Adds two numbers."""', "    return "]
    call = scripted_lsp.events("executeCommand")[0]
    assert call["command"] == "spackle.generateDocstring"
    assert call["arguments"][0]["position"] == {"line": 0, "character": 4}
    assert call["arguments"][0]["textDocument"]["uri"] == uri


def test_fix_command_applies_the_quick_fix(editor, scripted_lsp, workspace):
    path = workspace / "calc.py"
    edit = {"changes": {path.as_uri(): [{"range": {"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 11}},
                                          "newText": "a + b"}]}}
    scripted_lsp.write(items=[], fix_edit=edit)
    start(editor, scripted_lsp, workspace)
    editor.nvim.command("call cursor(2, 5)")
    editor.nvim.command("SpackleFix")
    editor.wait_for("vim.api.nvim_buf_get_lines(0, 1, 2, false)[1] == '    return a + b'", what="the quick fix")
    assert scripted_lsp.events("codeAction")[0]["only"] == ["quickfix"]


def test_the_help_file_has_valid_tags_and_opens(editor, tmp_path):
    import shutil
    doc = tmp_path / "doc"
    shutil.copytree(Path(__file__).resolve().parents[1] / "nvim" / "doc", doc)
    editor.nvim.command(f"helptags {doc}")  # Raises on duplicate tags.
    editor.lua("vim.opt.rtp:prepend(...)", str(tmp_path))
    for tag in ("spackle-keys", ":SpackleDocstring", "spackle.setup()", "spackle-models"):
        editor.nvim.command(f"help {tag}")
        assert editor.nvim.current.buffer.name.endswith("spackle.txt")
        editor.nvim.command("helpclose")


def test_the_shipped_help_tags_are_what_helptags_makes(editor, tmp_path):
    import shutil
    shipped = Path(__file__).resolve().parents[1] / "nvim" / "doc"
    doc = tmp_path / "doc"
    doc.mkdir()
    shutil.copy(shipped / "spackle.txt", doc)
    editor.nvim.command(f"helptags {doc}")
    assert (shipped / "tags").read_text() == (doc / "tags").read_text(), \
        "editors/nvim/doc/tags is stale: run `nvim --clean --headless -c 'helptags editors/nvim/doc' -c q`"


def test_help_opens_after_the_documented_packadd_setup(tmp_path):
    """editors/README.md's setup without a plugin manager: a link under pack/*/opt, then
    `packadd spackle`. Nothing runs :helptags there, so the plugin ships its tags."""
    import pynvim
    from nvim_harness import PLUGIN, nvim_binary
    home = tmp_path / "home"
    site = home / "site"
    opt = site / "pack" / "spackle" / "opt"
    opt.mkdir(parents=True)
    (opt / "spackle").symlink_to(PLUGIN)
    nvim = pynvim.attach("child", argv=["env", f"HOME={home}", nvim_binary(), "--embed", "--headless", "--clean", "-n", "-i", "NONE"])
    try:
        nvim.command(f"set packpath^={site}")
        nvim.command("packadd spackle")
        nvim.command("help spackle")
        assert nvim.current.buffer.name.endswith("spackle.txt")
        nvim.command("helpclose")
        nvim.command("help spackle-models")
        assert nvim.current.buffer.name.endswith("spackle.txt")
    finally:
        nvim.close()


def test_a_missing_binary_is_named_once_and_in_checkhealth(editor, workspace):
    path = workspace / "calc.py"
    path.write_text(SOURCE)
    editor.setup("{ binary = '/nonexistent/spackle' }")
    editor.open(path)
    editor.nvim.command("edit " + str(workspace / "other.py"))
    messages = editor.messages()
    assert messages.count("/nonexistent/spackle, which is not an executable") == 1, messages
    assert ":help spackle-install" in messages
    assert editor.lua("return #vim.lsp.get_clients({ name = 'spackle' })") == 0
    editor.nvim.command("checkhealth spackle")
    report = "\n".join(editor.lines())
    assert "ERROR spackle binary not found" in report, report
    # Advice renders as sentences with working help links, not `:help` in backticks.
    assert "`cargo install --locked --path .`" in report, report
    assert "(see |spackle-install|)." in report, report
    assert ":help" not in report, report
    assert "+v" not in report, "the Neovim version without its build metadata"
