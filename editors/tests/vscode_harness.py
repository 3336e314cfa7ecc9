"""Drives real VS Code (code-server 4.100.3) in headless Chromium through Playwright, for
test_vscode.py: a fresh user-data folder and extensions folder per session, the spackle extension
installed from its .vsix, and helpers that act as a user would (keys, the command palette, the
status bar) and read what a user sees (ghost text, the editor's lines, output panels).

code-server runs in its own process group, so stopping the group also stops the extension host
and the `spackle serve` it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

SETTINGS = {
    "workbench.startupEditor": "none",
    "workbench.enableExperiments": False,
    "workbench.tips.enabled": False,
    "files.hotExit": "off",
    "files.autoSave": "off",
    "security.workspace.trust.enabled": False,
    "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
    "editor.suggestOnTriggerCharacters": False,
    "editor.wordBasedSuggestions": "off",
    "editor.autoClosingBrackets": "never",
    "editor.autoClosingQuotes": "never",
    "editor.inlineSuggest.enabled": True,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "update.mode": "none",
    "git.enabled": False,
    "chat.disableAIFeatures": True,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Timeout(AssertionError):
    pass


def until(check, timeout: float, what: str, interval: float = 0.1):
    """Polls `check` until it returns something truthy; fails with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class VsCode:
    """One code-server with one browser page on a workspace folder."""

    def __init__(self, code_server: str, vsix: str, spackle: str, folder: Path, state: Path, env: dict[str, str],
                 chromium: str):
        self.folder = folder
        self.state = state
        self.log_path = state / "code-server.log"
        user_data = state / "user-data"
        (user_data / "User").mkdir(parents=True)
        (user_data / "User" / "settings.json").write_text(json.dumps(dict(SETTINGS, **{"spackle.path": spackle})))
        self.env = dict(os.environ, XDG_DATA_HOME=str(state / "xdg"), XDG_CONFIG_HOME=str(state / "xdg"),
                        XDG_CACHE_HOME=str(state / "xdg-cache"), **env)
        common = [code_server, "--config", str(state / "config.yaml"), "--user-data-dir", str(user_data),
                  "--extensions-dir", str(state / "extensions")]
        subprocess.run(common + ["--install-extension", vsix], check=True, capture_output=True, env=self.env, timeout=120)
        port = free_port()
        self.process = subprocess.Popen(
            common + ["--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
                      "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override",
                      str(folder)],
            env=self.env, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        self.page: Page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        url = f"http://127.0.0.1:{port}/?folder={folder}"
        until(lambda: self._goto(url), 60, "code-server to answer")
        self.page.wait_for_selector(".monaco-workbench", timeout=60_000)
        self.page.wait_for_selector(".explorer-folders-view .monaco-list-row", timeout=60_000)

    def _goto(self, url: str) -> bool:
        try:
            self.page.goto(url)
            return True
        except Exception:  # code-server is not listening yet
            return False

    def close(self) -> None:
        try:
            self.browser.close()
            self.playwright.stop()
        finally:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path))

    # Acting as a user.

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def type(self, text: str, delay_ms: float = 0) -> None:
        self.page.keyboard.type(text, delay=delay_ms)

    def command(self, title: str) -> None:
        """Runs a command by its title through the command palette (F1)."""
        self.press("F1")
        self.page.wait_for_selector(".quick-input-widget .quick-input-box input", timeout=10_000)
        self.type(title)
        row = self.page.locator(".quick-input-list .monaco-list-row", has_text=title).first
        row.wait_for(timeout=10_000)
        self.press("Enter")

    def open(self, relative: str) -> None:
        """Opens a file with Quick Open (Ctrl+P) and waits for its editor to have focus."""
        self.press("Control+P")
        self.page.wait_for_selector(".quick-input-widget .quick-input-box input", timeout=10_000)
        self.type(relative)
        name = relative.rsplit("/", 1)[-1]
        self.page.locator(".quick-input-list .monaco-list-row", has_text=name).first.wait_for(timeout=15_000)
        self.press("Enter")
        self.page.locator(f".tab.active[aria-label*='{name}']").first.wait_for(timeout=15_000)
        self.page.wait_for_selector(".monaco-editor.focused", timeout=15_000)

    def go_to(self, line: int, column: int) -> None:
        """Puts the cursor at 1-based `line` and `column` with Go to Line (Ctrl+G)."""
        self.press("Control+G")
        self.page.wait_for_selector(".quick-input-widget .quick-input-box input", timeout=10_000)
        self.type(f"{line}:{column}")
        self.press("Enter")
        self.page.wait_for_selector(".monaco-editor.focused", timeout=10_000)

    def save_and_close(self) -> None:
        self.press("Control+S")
        time.sleep(0.3)
        self.command("View: Close All Editors")
        until(lambda: self.page.locator(".tab").count() == 0, 10, "the editors to close")

    # Reading what a user sees.

    def ghost_text(self) -> str | None:
        """The suggestion shown as ghost text: its part on the cursor's line, then its lines below."""
        editor = self.page.locator(".monaco-editor.focused")
        inline = "".join(editor.locator(".ghost-text-decoration").all_text_contents())
        below = editor.locator(".ghost-text .view-line").all_text_contents()
        text = "\n".join([inline, *below]) if below else inline
        return text.replace("\u00a0", " ") or None

    def wait_ghost(self, timeout: float = 20) -> str:
        return until(self.ghost_text, timeout, "ghost text")

    def lines(self) -> str:
        return self.page.locator(".monaco-editor.focused .view-lines").first.inner_text().replace("\u00a0", " ")

    def status_item(self):
        return self.page.locator(".statusbar-item:has(a[aria-label*='spackle']), .statusbar-item[aria-label*='spackle']").first

    def status(self) -> str:
        """The spackle status bar item's accessible label (its text and tooltip)."""
        item = self.page.locator("#spackle\\.spackle\\.status").first
        if item.count() == 0:
            item = self.status_item()
        label = item.get_attribute("aria-label") or ""
        inner = item.locator("a").first
        if inner.count():
            label += " " + (inner.get_attribute("aria-label") or "")
        return label

    def output_text(self) -> str:
        return self.page.locator(".panel .monaco-editor .view-lines").first.inner_text().replace("\u00a0", " ")

    def wait_status(self, fragment: str, timeout: float, starts: str = "") -> str:
        """Waits until the status bar item's label contains `fragment` (and starts with `starts`:
        its icon); returns the label. The item's outer and inner labels are read separately and
        VS Code updates them one after the other, so a label may briefly hold two states."""
        return until(lambda: (label := self.status()) and fragment in label
                     and label.startswith(starts) and label, timeout,
                     f"the status bar to say {fragment!r} (it says {self.status()!r})")

    def until_lines(self, check, what: str, timeout: float = 20) -> str:
        return until(lambda: check(lines := self.lines()) and lines, timeout, what)

    def until_saved(self, relative: str, check, timeout: float = 10) -> str:
        path = self.folder / relative
        return until(lambda: check(text := path.read_text()) and text, timeout, f"{relative} saved")

    def until_output(self, check, what: str, timeout: float = 30) -> str:
        return until(lambda: check(text := self.output_text()) and text, timeout, what)
