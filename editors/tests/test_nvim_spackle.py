"""The Neovim plugin with the real spackle binary, in real headless Neovim 0.11, with a scripted
model server speaking Ollama's wire format behind it.

Tests marked `needs_model` go through spackle's ollama backend (see test_protocol.py).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from scripted_model import Rule

needs_model = pytest.mark.needs_model


def start(editor, binary: str, model, workspace: Path, text: str, settings: str = "{ completion = { debounce_ms = 0 } }") -> Path:
    path = workspace / "calc.py"
    path.write_text(text)
    env = {"SPACKLE_BACKEND": "ollama", "SPACKLE_ENDPOINT": model.endpoint, "SPACKLE_LOG": "spackle=debug"}
    editor.setup("{ binary = %s, cmd_env = vim.json.decode(%s), settings = %s, suggestion = { debounce_ms = 50 } }"
                 % (json.dumps(binary), json.dumps(json.dumps(env)), settings))
    editor.open(path)
    editor.wait_attached()
    return path


@needs_model
def test_type_see_ghost_text_accept_it_and_the_buffer_holds_the_checked_completion(editor, spackle_binary, model, workspace):
    model.script.rules = [Rule("return a", " + b")]
    path = start(editor, spackle_binary, model, workspace, "def add(a, b):\n    return \n")
    editor.nvim.command("call cursor(2, 1)")
    editor.type("Aa")
    assert editor.wait_ghost(10) == " + b"
    assert "return a" in json.dumps(model.generate_requests()[-1]["body"])
    assert len(model.generate_requests()) == 1, "one typed character, one request"
    # Typing what the suggestion predicts keeps the rest of it without asking the model again.
    editor.type(" ")
    assert editor.wait_ghost(10) == "+ b"
    print(f"Neovim: model requests for two typed characters: {len(model.generate_requests())}")
    assert len(model.generate_requests()) == 1, model.generate_requests()
    editor.type("<Tab>")
    editor.wait_for("require('spackle.ghost').stats.accepted == 1")
    assert editor.lines()[:2] == ["def add(a, b):", "    return a + b"]
    assert editor.cursor() == (2, 16)
    assert "checked" in (editor.lua("return require('spackle').status.accepted") or "")
    editor.type("<Esc>:w<CR>")
    assert path.read_text() == "def add(a, b):\n    return a + b\n"


@needs_model
def test_typing_on_cancels_the_request_and_the_late_answer_never_shows(editor, spackle_binary, model, workspace):
    model.script.rules = [Rule("return ab", " + 1"), Rule("return a", " + b")]
    model.script.first_chunk_delay = 1.5
    start(editor, spackle_binary, model, workspace, "def add(a, b):\n    return \n")
    editor.nvim.command("call cursor(2, 1)")
    editor.type("Aa")
    deadline = time.monotonic() + 5
    while not model.generate_requests():
        assert time.monotonic() < deadline, "the request never reached the model"
        time.sleep(0.02)
    editor.type("b")
    editor.until(lambda: editor.lua("return require('spackle.ghost').stats.cancelled") >= 1, True, what="the request cancelled")
    assert editor.ghost_text() is None
    # Only the answer for "ab" is shown; the one for "a" was cancelled and is never drawn.
    assert editor.wait_ghost(10) == " + 1"
    deadline = time.monotonic() + 5
    while model.hangups == 0:
        assert time.monotonic() < deadline, "the HTTP request for the cancelled suggestion was not dropped"
        time.sleep(0.05)


def test_status_names_the_server_version_and_the_utf8_positions(editor, spackle_binary, model, workspace):
    start(editor, spackle_binary, model, workspace, "x = 1\n")
    version = subprocess.run([spackle_binary, "--version"], capture_output=True, text=True, check=True).stdout.split()[-1]
    lines = editor.lua("return require('spackle').status_lines()")
    assert f"spackle {version}" in lines[0]
    assert "positions utf-8" in lines[0]
    assert str(workspace) in lines[0], "the root is the folder with pyproject.toml"
    assert lines[1].startswith("suggestions: ghost text"), "Neovim 0.11 uses the plugin's ghost text"


def test_checkhealth_reports_the_binary_the_version_and_doctor(editor, spackle_binary, model, workspace):
    start(editor, spackle_binary, model, workspace, "x = 1\n")
    editor.nvim.command("checkhealth spackle")
    report = "\n".join(editor.lines())
    version = subprocess.run([spackle_binary, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert f"binary: {spackle_binary}" in report
    assert f"version: {version}" in report
    assert f"doctor: workspace: {workspace}" in report
    assert "doctor: model: backend ollama, endpoint " + model.endpoint in report


def test_checkhealth_gives_doctors_reason_and_advice_when_the_model_server_is_down(editor, spackle_binary, workspace, tmp_path):
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}"
    editor.setup("{ binary = %s, cmd_env = { SPACKLE_BACKEND = 'ollama', SPACKLE_ENDPOINT = %s } }"
                 % (json.dumps(spackle_binary), json.dumps(refused)))
    editor.nvim.command(f"cd {workspace}")
    editor.nvim.command("checkhealth spackle")
    report = "\n".join(editor.lines())
    assert f"WARNING doctor: model server: cannot reach Ollama at {refused}" in report, report
    assert "see |spackle-models|." in report, report
    assert ":help" not in report, report


@needs_model
def test_checkhealth_says_the_model_server_answers(editor, spackle_binary, model, workspace):
    start(editor, spackle_binary, model, workspace, "x = 1\n")
    editor.nvim.command("checkhealth spackle")
    report = "\n".join(editor.lines())
    assert "spackle doctor: the model server answers" in report, report


def test_docstring_command_asks_the_server_or_says_it_cannot(editor, spackle_binary, model, workspace):
    # The server asks for the whole definition back, and checks that only the docstring changed.
    model.script.default = '```python\ndef add(a, b):\n    """Adds two numbers."""\n    return a + b\n```'
    start(editor, spackle_binary, model, workspace, "def add(a, b):\n    return a + b\n")
    offered = editor.lua("local c = require('spackle.util').client(); local p = c.server_capabilities.executeCommandProvider;"
                         " return p ~= nil and vim.tbl_contains(p.commands or {}, 'spackle.generateDocstring')")
    editor.nvim.command("call cursor(1, 5)")
    editor.nvim.command("SpackleDocstring")
    if offered:
        # The buffer holds two lines; the docstring makes three.
        editor.wait_for("#vim.api.nvim_buf_get_lines(0, 0, -1, false) > 2", what="the docstring edit")
        assert editor.lines() == ["def add(a, b):", '    """Adds two numbers."""', "    return a + b"], editor.lines()
    else:
        assert "does not offer `spackle.generateDocstring` yet" in editor.messages()


def test_setup_without_settings_sends_none_and_draws_no_configuration_warning(editor, spackle_binary, model, workspace):
    start(editor, spackle_binary, model, workspace, "x = 1\n", settings="{ model = {}, completion = {} }")
    time.sleep(0.5)  # The server shows configuration warnings right after `initialized`.
    assert editor.lua("return require('spackle').status.message") is None
    assert "configuration" not in editor.messages()


@needs_model
def test_configure_sends_new_settings_to_the_running_server(editor, spackle_binary, model, workspace):
    model.script.default = "a + b"
    model.script.models = ("qwen2.5-coder:1.5b", "other-model")
    start(editor, spackle_binary, model, workspace, "def add(a, b):\n    return \n")
    editor.lua("require('spackle').configure({ model = { name = 'other-model' } })")
    editor.nvim.command("call cursor(2, 1)")
    editor.type("A")
    editor.type("<M-\\>")
    assert editor.wait_ghost(10) == "a + b"
    assert model.generate_requests()[-1]["body"]["model"] == "other-model"
    assert editor.lua("return require('spackle').status.message") is None
