"""spackle's language server protocol, spoken by pytest-lsp to the real binary, with the client
capabilities Neovim 0.11 (plus spackle's plugin) and VS Code (plus vscode-languageclient) send.

The model is a scripted server speaking Ollama's wire format (scripted_model.py), reached through
spackle's real ollama backend. Tests marked `needs_model` are the ones that go through that
backend (`-m "not needs_model"` runs the rest, which need no model at all).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from scripted_model import Rule, ScriptedModel

PROFILES = {
    # What Neovim 0.11 sends, plus the inlineCompletion capability spackle's plugin adds.
    "neovim": "neovim@v0.11.0",
    # What VS Code sends, plus inlineCompletion, which vscode-languageclient 10+ adds.
    "vscode": "visual-studio-code",
}
EXPECTED_ENCODING = {"neovim": "utf-8", "vscode": "utf-16"}


def capabilities(profile: str, encodings: list[str] | None = None) -> types.ClientCapabilities:
    caps = client_capabilities(PROFILES[profile])
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities(dynamic_registration=False)
    if encodings is not None:
        caps.general = caps.general or types.GeneralClientCapabilities()
        caps.general.position_encodings = encodings
    return caps


class Session:
    """A running `spackle serve` with an initialized pytest-lsp client."""

    def __init__(self, client: LanguageClient, result: types.InitializeResult, profile: str):
        self.client = client
        self.result = result
        self.profile = profile
        self.versions: dict[str, int] = {}

    @property
    def encoding(self) -> str:
        encoding = self.result.capabilities.position_encoding
        return str(getattr(encoding, "value", encoding))

    def open(self, path: Path, text: str) -> str:
        path.write_text(text)
        uri = path.as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        return uri

    def change(self, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text)]))

    def inline_params(self, uri: str, line: int, character: int) -> types.InlineCompletionParams:
        return types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))

    async def inline(self, uri: str, line: int, character: int):
        return await self.client.text_document_inline_completion_async(self.inline_params(uri, line, character))

    async def context(self, uri: str, line: int, character: int) -> dict:
        result = await self.client.protocol.send_request_async(
            "spackle/context", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        return plain(result)

    async def wait_for_message(self, predicate, timeout: float = 5.0) -> types.ShowMessageParams:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.client.messages:
                if predicate(message.message):
                    return message
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching window/showMessage; got {[m.message for m in self.client.messages]}")


def plain(value):
    """pygls gives the result of a custom request as named tuples; this turns them back into JSON values."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def server_env(model: ScriptedModel) -> dict[str, str]:
    """The server's environment: none of the user's SPACKLE_* settings, but the tests' private
    index cache (conftest.py), so nothing is written into ~/.cache/spackle."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("SPACKLE_") or key == "SPACKLE_CACHE_DIR"}
    env.update(SPACKLE_BACKEND="ollama", SPACKLE_ENDPOINT=model.endpoint, SPACKLE_LOG="spackle=debug")
    return env


def test_servers_keep_their_index_cache_in_the_tests_folder(model):
    env = server_env(model)
    assert env["SPACKLE_CACHE_DIR"] == os.environ["SPACKLE_CACHE_DIR"]
    assert not Path(env["SPACKLE_CACHE_DIR"]).resolve().is_relative_to(Path.home() / ".cache")


async def start_session(binary: str, model: ScriptedModel, workspace: Path, profile: str, *,
                        options: dict | None = None, encodings: list[str] | None = None) -> Session:
    env = server_env(model)
    client = make_test_lsp_client()
    await client.start_io(binary, "serve", env=env)
    if options is None:
        options = {"completion": {"debounce_ms": 0}}
    result = await client.initialize_session(types.InitializeParams(
        capabilities=capabilities(profile, encodings),
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)],
        initialization_options=options,
        client_info=types.ClientInfo(name=f"spackle tests ({profile})"),
    ))
    return Session(client, result, profile)


@pytest.fixture(params=list(PROFILES))
async def session(request, spackle_binary, model, workspace):
    session = await start_session(spackle_binary, model, workspace, request.param)
    yield session
    await session.client.shutdown_session()
    await session.client.stop()


needs_model = pytest.mark.needs_model

ADD = "def add(a, b):\n    return \n"


async def test_initialize_negotiates_the_encoding_and_announces_the_features(session, spackle_binary):
    capabilities = session.result.capabilities
    assert session.encoding == EXPECTED_ENCODING[session.profile]
    assert capabilities.inline_completion_provider
    assert capabilities.completion_provider is not None
    assert capabilities.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    version = subprocess.run([spackle_binary, "--version"], capture_output=True, text=True, check=True).stdout.split()[-1]
    assert session.result.server_info.name == "spackle"
    assert session.result.server_info.version == version


@pytest.mark.parametrize("offered, chosen", [(["utf-32", "utf-16"], "utf-16"), (["utf-16", "utf-8"], "utf-8"), ([], "utf-16")])
async def test_encoding_is_utf8_when_offered_else_utf16(spackle_binary, model, workspace, offered, chosen):
    session = await start_session(spackle_binary, model, workspace, "neovim", encodings=offered)
    try:
        assert session.encoding == chosen
    finally:
        await session.client.shutdown_session()
        await session.client.stop()


async def test_context_follows_incremental_edits_in_the_negotiated_encoding(session, workspace):
    uri = session.open(workspace / "text.py", "s = 'é😀'\nx = \n")
    utf8 = session.encoding == "utf-8"
    session.change(uri, (1, 4), (1, 4), "1 + ")
    # Replace the emoji: 4 bytes in UTF-8 after 'é' (2 bytes), 2 code units in UTF-16 after 'é' (1).
    session.change(uri, (0, 7 if utf8 else 6), (0, 11 if utf8 else 8), "x")
    context = await session.context(uri, 1, 8)
    assert context["version"] == 3
    parts = {part["name"]: part for part in context["parts"]}
    assert parts["prefix"]["text"].endswith("s = 'éx'\nx = 1 + ")
    assert parts["suffix"]["text"].startswith("\n")
    assert all(part["why"] for part in context["parts"])


async def test_context_for_a_document_that_is_not_open_is_an_error(session, workspace):
    with pytest.raises(JsonRpcException) as error:
        await session.context((workspace / "nowhere.py").as_uri(), 0, 0)
    assert "not open" in str(error.value)


async def test_bad_settings_are_named_in_one_message_and_the_server_keeps_working(session, workspace):
    session.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"model": {"nmae": "x"}, "completion": {"rounds": -1}}))
    message = await session.wait_for_message(lambda text: "model.nmae" in text)
    assert "completion.rounds" in message.message
    assert message.type == types.MessageType.Warning
    uri = session.open(workspace / "calc.py", ADD)
    assert (await session.context(uri, 1, 11))["version"] == 1


async def test_bad_initialization_options_are_shown_after_initialize(spackle_binary, model, workspace):
    session = await start_session(spackle_binary, model, workspace, "vscode",
                                  options={"spackle": {"model": {"backend": "gpt"}}})
    try:
        message = await session.wait_for_message(lambda text: "model.backend" in text)
        assert "gpt" in message.message or "bad value" in message.message
    finally:
        await session.client.shutdown_session()
        await session.client.stop()


async def test_shutdown_then_exit_ends_the_process(spackle_binary, model, workspace):
    session = await start_session(spackle_binary, model, workspace, "neovim")
    process = session.client._server
    await session.client.shutdown_session()
    await asyncio.wait_for(process.wait(), 5)
    assert process.returncode == 0
    await session.client.stop()


@needs_model
async def test_inline_completion_returns_the_models_text_at_the_cursor(session, model, workspace):
    model.script.default = "a + b"
    uri = session.open(workspace / "calc.py", ADD)
    result = await session.inline(uri, 1, 11)
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items, f"no completion; server messages: {[m.message for m in session.client.messages]}"
    item = items[0]
    assert item.insert_text == "a + b"
    assert item.range == types.Range(start=types.Position(1, 11), end=types.Position(1, 11))
    assert item.command.command == "spackle.accepted"
    assert "syntax" in item.command.arguments[0]["checks"]
    sent = model.generate_requests()
    assert len(sent) == 1
    assert "def add(a, b):" in json.dumps(sent[0]["body"])


@needs_model
async def test_inline_completion_ranges_count_in_the_negotiated_encoding(session, model, workspace):
    # A string literal: a bare name would be unresolved, and the checks would drop it.
    model.script.default = '"x"'
    line = 's = "é😀" + '
    uri = session.open(workspace / "text.py", line + "\n")
    character = len(line.encode("utf-8")) if session.encoding == "utf-8" else len(line.encode("utf-16-le")) // 2
    result = await session.inline(uri, 0, character)
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items, f"no completion; server messages: {[m.message for m in session.client.messages]}"
    assert items[0].range.start == types.Position(0, character)
    assert "é😀" in json.dumps(model.generate_requests()[0]["body"], ensure_ascii=False)


@needs_model
async def test_completion_falls_back_to_one_item(session, model, workspace):
    model.script.default = "a + b"
    uri = session.open(workspace / "calc.py", ADD)
    result = await session.client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 11)))
    items = result.items if isinstance(result, types.CompletionList) else result
    assert items and len(items) == 1
    assert items[0].text_edit.new_text == "a + b"
    assert items[0].label == "a + b"


@needs_model
async def test_cancel_request_ends_the_request_and_the_model_call(session, model, workspace):
    model.script.default = "a + b"
    model.script.first_chunk_delay = 2.0
    uri = session.open(workspace / "calc.py", ADD)
    params = session.inline_params(uri, 1, 11)
    future = asyncio.wrap_future(session.client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=4242))
    deadline = time.monotonic() + 5
    while not model.generate_requests():
        assert time.monotonic() < deadline, "the request never reached the model"
        await asyncio.sleep(0.02)
    started = time.monotonic()
    session.client.cancel_request(types.CancelParams(id=4242))
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(future, 1.8)
    assert error.value.code == -32800, "RequestCancelled"
    assert time.monotonic() - started < 1.8, "answered before the model would have"
    # The model server sees the client hang up when it starts to answer.
    deadline = time.monotonic() + 5
    while model.hangups == 0:
        assert time.monotonic() < deadline, "the HTTP request to the model was not dropped"
        await asyncio.sleep(0.05)


@needs_model
async def test_a_newer_request_supersedes_an_older_one(session, model, workspace):
    model.script.rules = [Rule("return a", " + b")]
    model.script.default = "a + b"
    model.script.first_chunk_delay = 0.5
    uri = session.open(workspace / "calc.py", ADD)
    first = asyncio.ensure_future(session.inline(uri, 1, 11))
    await asyncio.sleep(0.1)
    session.change(uri, (1, 11), (1, 11), "a")
    second = await session.inline(uri, 1, 12)
    assert await first is None
    items = second.items if isinstance(second, types.InlineCompletionList) else second
    assert items and items[0].insert_text == " + b"


@needs_model
async def test_configuration_changes_take_effect(session, model, workspace):
    model.script.default = "a + b"
    model.script.models = ("qwen2.5-coder:1.5b", "other-model")
    uri = session.open(workspace / "calc.py", ADD)
    session.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"completion": {"enable": False, "debounce_ms": 0}}))
    assert await session.inline(uri, 1, 11) is None
    assert model.generate_requests() == [], "a disabled server does not call the model"
    session.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"completion": {"enable": True, "debounce_ms": 0}, "model": {"name": "other-model"}}))
    result = await session.inline(uri, 1, 11)
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items and items[0].insert_text == "a + b"
    assert model.generate_requests()[0]["body"]["model"] == "other-model"


@needs_model
async def test_a_model_failure_is_shown_once_and_then_logged(session, model, workspace):
    session.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"model": {"name": "missing-model"}, "completion": {"debounce_ms": 0}}))
    uri = session.open(workspace / "calc.py", ADD)
    assert await session.inline(uri, 1, 11) is None
    assert await session.inline(uri, 1, 11) is None
    # Notifications may trail the responses a little; give the log a moment.
    deadline = time.monotonic() + 3
    while len([m for m in session.client.log_messages if "missing-model" in m.message]) < 2:
        assert time.monotonic() < deadline, [m.message for m in session.client.log_messages]
        await asyncio.sleep(0.02)
    shown = [m.message for m in session.client.messages if "missing-model" in m.message]
    assert len(shown) == 1, session.client.messages
    assert model.generate_requests(), "the model server was asked"
