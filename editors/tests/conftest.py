"""Fixtures shared by the editor tests: the spackle binary, a scripted model server, Neovim."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nvim_harness import Editor  # noqa: E402
from scripted_model import Script, ScriptedModel  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def private_spackle_cache(tmp_path_factory):
    """Every spackle these tests start keeps its index cache in a temporary folder, never in the
    user's ~/.cache/spackle (child processes inherit the variable)."""
    os.environ["SPACKLE_CACHE_DIR"] = str(tmp_path_factory.mktemp("spackle-cache"))
    yield


@pytest.fixture(scope="session")
def spackle_binary() -> str:
    path = Path(os.environ.get("SPACKLE_BIN") or REPO / "target" / "debug" / "spackle")
    assert path.exists(), f"{path} does not exist: run `cargo build` in the repository root"
    return str(path)


@pytest.fixture
def model():
    with ScriptedModel(Script()) as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    return root


@pytest.fixture
def editor(tmp_path: Path):
    editor = Editor(tmp_path / "home")
    yield editor
    editor.close()


class ScriptedLsp:
    """The script file and the log of `scripted_lsp.py`."""

    def __init__(self, folder: Path):
        self.script_path = folder / "script.json"
        self.log_path = folder / "log.jsonl"
        self.log_path.write_text("")
        self.write(items=[])

    def write(self, **script) -> None:
        script["log"] = str(self.log_path)
        self.script_path.write_text(json.dumps(script))

    def events(self, name: str | None = None) -> list[dict]:
        events = [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]
        return [e for e in events if name is None or e["event"] == name]

    def cmd_lua(self) -> str:
        server = Path(__file__).resolve().parent / "scripted_lsp.py"
        return "{ %s, %s, %s }" % (json.dumps(sys.executable), json.dumps(str(server)), json.dumps(str(self.script_path)))


@pytest.fixture
def scripted_lsp(tmp_path: Path) -> ScriptedLsp:
    folder = tmp_path / "scripted-lsp"
    folder.mkdir()
    return ScriptedLsp(folder)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so a fixture can tell that its test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
