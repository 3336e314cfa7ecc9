"""The VS Code extension in real VS Code: code-server 4.100.3 (VS Code 1.100.3) in headless
Chromium, driven through Playwright as a user would drive it, with the real spackle binary and a
scripted model server speaking Ollama's wire format on 127.0.0.1.

editors/test installs code-server (vscode/e2e/install-code-server.sh) and builds the .vsix, and
passes them in CODE_SERVER and SPACKLE_VSIX. A failing test leaves a screenshot of the window in
editors/artifacts/vscode/.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from scripted_model import Rule, Script, ScriptedModel

CODE_SERVER = os.environ.get("CODE_SERVER")
VSIX = os.environ.get("SPACKLE_VSIX")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "vscode"

pytestmark = [
    pytest.mark.needs_model,
    pytest.mark.skipif(not (CODE_SERVER and VSIX), reason="CODE_SERVER and SPACKLE_VSIX are set by editors/test"),
]

MODELS = """from dataclasses import dataclass, field


@dataclass
class Item:
    name: str
    price: float
    quantity: int = 1


@dataclass
class Cart:
    items: list[Item] = field(default_factory=list)

    def subtotal(self) -> float:
        \"\"\"Sum of price times quantity.\"\"\"
        return sum(item.price * item.quantity for item in self.items)
"""

FILES = {
    "shop/__init__.py": "",
    "shop/models.py": MODELS,
    "shop/checkout.py": 'from shop.models import Cart\n\nTAX_RATE = 0.2\n\n\ndef total_with_tax(cart: Cart) -> float:\n    """The cart\'s subtotal plus tax."""\n    \n',
    "shop/discount.py": 'from shop.models import Cart\n\n\ndef discounted(cart: Cart) -> float:\n    """Ten percent off."""\n    \n',
    "shop/double.py": "def double(total: int) -> int:\n    result = totl * 2\n    return result\n",
    "shop/price.py": "def price(item: str, count: int = 1) -> float:\n    if count < 0:\n        raise ValueError(count)\n    return 2.0 * count\n",
    "shop/status.py": 'from shop.models import Cart\n\n\ndef count(cart: Cart) -> int:\n    """How many items."""\n    \n',
    "shop/tax.py": 'from shop.models import Cart\n\nTAX_RATE = 0.2\n\n\ndef tax(cart: Cart) -> float:\n    """The tax on the cart."""\n    \n',
    "shop/paused.py": 'from shop.models import Cart\n\n\ndef first(cart: Cart) -> str:\n    """The name of the first item."""\n    \n',
}

TOTAL = "return cart.subtotal() * (1 + TAX_RATE)"


@pytest.fixture(scope="module")
def model():
    with ScriptedModel(Script()) as server:
        yield server


@pytest.fixture(scope="module")
def vscode_session(tmp_path_factory, spackle_binary, model):
    from vscode_harness import VsCode

    root = tmp_path_factory.mktemp("vscode")
    folder = root / "workspace"
    for relative, text in FILES.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    env = {"SPACKLE_BACKEND": "ollama", "SPACKLE_ENDPOINT": model.endpoint, "SPACKLE_LOG": "spackle=debug"}
    code = VsCode(CODE_SERVER, VSIX, spackle_binary, folder, root / "state", env, CHROMIUM)
    yield code
    code.close()


@pytest.fixture
def vscode(request, vscode_session, model):
    """The session's VS Code for one test, with a fresh script; a screenshot when the test failed."""
    model.script = Script()
    yield vscode_session
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        vscode_session.screenshot(ARTIFACTS / f"{request.node.name}.png")
        print(f"screenshot: {ARTIFACTS / request.node.name}.png")
    # Leave no open editor (nor any dialog) to the next test.
    vscode_session.press("Escape", "Escape")
    vscode_session.command("View: Revert and Close Editor") if vscode_session.page.locator(".tab.dirty").count() else None
    vscode_session.command("View: Close All Editors")


def requests_since(model, start: int) -> list[dict]:
    return model.generate_requests()[start:]


def test_the_extension_activates_and_starts_spackle_serve(vscode):
    vscode.open("shop/checkout.py")
    status = vscode.wait_status("ready", 90)
    assert re.search(r"spackle \d+\.\d+\.\d+: ready", status), status
    processes = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in os.listdir("/proc") if pid.isdigit()
                 and Path(f"/proc/{pid}/cmdline").exists()]
    assert any(len(argv) > 1 and argv[0].endswith(b"spackle") and argv[1] == b"serve" for argv in processes), \
        "no `spackle serve` process"


def test_typing_in_an_empty_body_shows_the_ghost_text_and_tab_accepts_it(vscode, model):
    # The prompt ends where the user typed "r"; the model writes the rest.
    model.script.rules = [Rule("    r<|fim_suffix|>", TOTAL[1:])]
    vscode.open("shop/checkout.py")
    vscode.wait_status("ready", 90)
    vscode.go_to(8, 5)
    before = len(model.generate_requests())
    vscode.type("r")
    try:
        ghost = vscode.wait_ghost()
    except AssertionError as error:
        raise AssertionError(f"{error}; the model was asked: {requests_since(model, before)}") from None
    assert ghost == TOTAL[1:], ghost
    asked = len(model.generate_requests()) - before
    # One typed character, one pause: one request to the model.
    print(f"VS Code: model requests for one typed character: {asked}")
    assert asked == 1, requests_since(model, before)
    # Typing what the suggestion predicts keeps it, without asking the model again.
    vscode.type("et", delay_ms=60)
    assert vscode.wait_ghost() == TOTAL[3:]
    vscode.press("Tab")
    vscode.until_lines(lambda lines: TOTAL in lines, "the accepted suggestion in the editor")
    after = len(model.generate_requests()) - before
    print(f"VS Code: model requests for three typed characters and Tab: {after}")
    assert after == 1, requests_since(model, before)
    assert "Last accepted suggestion: checked" in vscode.wait_status("ready", 10)
    vscode.press("Control+S")
    vscode.until_saved("shop/checkout.py", lambda text: TOTAL in text)


def test_a_hallucinated_first_answer_is_repaired_before_anything_is_shown(vscode, model):
    model.script.rules = [Rule("total_price", "return cart.subtotal() * 0.9"), Rule("Ten percent off", "return cart.total_price() * 0.9")]
    model.script.first_chunk_delay = 0.3
    vscode.open("shop/discount.py")
    vscode.wait_status("ready", 90)
    vscode.go_to(6, 5)
    before = len(model.generate_requests())
    seen: list[str] = []
    vscode.press("Alt+Backslash")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ghost = vscode.ghost_text()
        if ghost:
            seen.append(ghost)
            if "subtotal" in ghost:
                break
        time.sleep(0.05)
    assert seen and "return cart.subtotal() * 0.9" in seen[-1], seen
    assert not any("total_price" in ghost for ghost in seen), seen
    prompts = [str(request["body"]) for request in requests_since(model, before)]
    assert len(prompts) == 2 and "total_price" in prompts[1], prompts


def test_fix_with_spackle_applies_through_the_quick_fix_menu(vscode, model):
    model.script.default = "```python\nresult = total * 2\n```\n"
    vscode.open("shop/double.py")
    vscode.wait_status("ready", 90)
    vscode.page.locator(".monaco-editor.focused .squiggly-error, .monaco-editor.focused .squiggly-warning").first.wait_for(timeout=20_000)
    vscode.go_to(2, 15)
    vscode.press("Control+.")
    fix = vscode.page.locator(".action-widget .monaco-list-row", has_text="Fix with spackle").first
    fix.wait_for(timeout=15_000)
    # The menu takes keys, as a user would use it: move to the fix, then Enter.
    for _ in range(5):
        if "Fix with spackle" in (vscode.page.locator(".action-widget .monaco-list-row.focused").first.get_attribute("aria-label") or ""):
            break
        vscode.press("ArrowDown")
    vscode.press("Enter")
    vscode.until_lines(lambda lines: "result = total * 2" in lines, "the fix in the editor")
    assert "totl" not in vscode.lines()


def test_write_a_docstring_applies_through_the_command_palette(vscode, model):
    model.script.default = ('```python\ndef price(item: str, count: int = 1) -> float:\n    """The price of some items.\n\n'
                            '    Args:\n        item: The item.\n        count: How many.\n\n    Returns:\n'
                            '        The total price.\n\n    Raises:\n        ValueError: If count is negative.\n    """\n'
                            '    if count < 0:\n        raise ValueError(count)\n    return 2.0 * count\n```')
    vscode.open("shop/price.py")
    vscode.wait_status("ready", 90)
    vscode.go_to(1, 6)
    vscode.command("spackle: Write a docstring")
    vscode.until_lines(lambda lines: "The price of some items." in lines, "the docstring in the editor")
    assert "ValueError: If count is negative." in vscode.lines()


def test_ctrl_right_accepts_a_word_and_alt_down_the_rest_of_the_line(vscode, model):
    from vscode_harness import until

    rest = " = cart.subtotal()\n    return subtotal * TAX_RATE"
    model.script.rules = [Rule("    s<|fim_suffix|>", "ubtotal" + rest), Rule("    subtotal<|fim_suffix|>", rest)]
    vscode.open("shop/tax.py")
    vscode.wait_status("ready", 90)
    vscode.go_to(8, 5)
    vscode.type("s")
    assert vscode.wait_ghost().startswith("ubtotal = cart.subtotal()")
    # VS Code's own key for editor.action.inlineSuggest.acceptNextWord.
    vscode.press("Control+ArrowRight")
    until(lambda: (vscode.ghost_text() or "").lstrip().startswith("= cart"), 10, "the ghost text after the first word")
    vscode.press("Escape")
    vscode.press("Control+S")
    text = vscode.until_saved("shop/tax.py", lambda text: "subtotal" in text)
    assert text.splitlines()[7].rstrip() == "    subtotal", text
    # The extension's key for acceptNextLine: the rest of the line, not the line below.
    vscode.press("End")
    vscode.press("Alt+Backslash")
    until(lambda: "cart.subtotal()" in (vscode.ghost_text() or ""), 20, "the ghost text again")
    vscode.press("Alt+ArrowDown")
    vscode.press("Escape")
    vscode.press("Control+S")
    text = vscode.until_saved("shop/tax.py", lambda text: "cart.subtotal()" in text)
    assert text.splitlines()[7].rstrip() == "    subtotal = cart.subtotal()", text
    assert "return" not in text, text


def test_paused_suggestions_ask_the_model_nothing_until_asked_or_resumed(vscode, model):
    model.script.rules = [Rule("name of the first item", "return cart.items[0].name")]
    vscode.open("shop/paused.py")
    vscode.wait_status("ready", 90)
    vscode.go_to(6, 5)
    vscode.command("spackle: Pause automatic suggestions")
    try:
        assert "paused" in vscode.wait_status("paused", 10)
        before = len(model.generate_requests())
        vscode.type("r")
        time.sleep(2)
        assert vscode.ghost_text() is None
        assert requests_since(model, before) == []
        # Asking explicitly still works while paused.
        vscode.press("Backspace")
        vscode.press("Alt+Backslash")
        assert vscode.wait_ghost() == "return cart.items[0].name"
        vscode.press("Escape")
    finally:
        vscode.command("spackle: Resume automatic suggestions")
    vscode.wait_status("ready", 10)


def test_the_status_bar_shows_waiting_then_an_error_and_a_click_runs_doctor(vscode, model):
    model.script.rules = [Rule("How many items", "return len(cart.items)")]
    model.script.first_chunk_delay = 3
    vscode.open("shop/status.py")
    vscode.wait_status("ready", 90)
    vscode.go_to(6, 5)
    vscode.press("Alt+Backslash")
    vscode.wait_status("waiting for the model", 10)
    assert vscode.wait_ghost() == "return len(cart.items)"
    vscode.wait_status("ready", 10)
    vscode.press("Escape")
    # The model server no longer knows the model: the failure shows in the status bar.
    model.script.first_chunk_delay = 0
    model.script.models = ("another-model",)
    vscode.type("x")  # not what the last suggestion predicted, so the model is asked
    status = vscode.wait_status("qwen2.5-coder:1.5b", 20, starts="warning")
    assert status.startswith("warning"), status
    vscode.status_item().click()
    doctor = vscode.page.locator(".quick-input-list .monaco-list-row", has_text="Run spackle doctor").first
    doctor.wait_for(timeout=10_000)
    doctor.click()
    # The report's last lines: its first ones may have scrolled out of the visible output.
    report = vscode.until_output(lambda text: "model server:" in text and "(exit" in text, "the doctor report")
    assert model.endpoint.split("//")[1] in report, report

