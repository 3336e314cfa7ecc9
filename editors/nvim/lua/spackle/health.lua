-- `:checkhealth spackle`: the binary, its version, and what `spackle doctor` finds.
local M = {}

function M.check()
  local health = vim.health
  local spackle = require("spackle")
  health.start("spackle")
  -- The version without its build metadata ("0.11.4", not "0.11.4+v0.11.4").
  local v = vim.version()
  local neovim = ("%d.%d.%d"):format(v.major, v.minor, v.patch)
  if vim.fn.has("nvim-0.10") == 0 then
    health.error("Neovim 0.10 or later is needed")
  elseif vim.lsp.inline_completion and spackle.options.native then
    health.ok("suggestions use vim.lsp.inline_completion (Neovim " .. neovim .. ")")
  else
    health.ok("suggestions use spackle's ghost text (Neovim " .. neovim .. ")")
  end

  local binary, why
  if spackle.options.cmd then
    binary = spackle.options.cmd[1]
  else
    binary, why = spackle.find_binary()
  end
  if not binary then
    -- Advice items are whole sentences, one per way out; help links are written |tag|, as
    -- :checkhealth turns `:help tag` into a link of its own and breaks text around it.
    health.error("spackle binary not found: " .. why, {
      "Install it with `cargo install --locked --path .` in spackle's repository (see |spackle-install|).",
      "Or point the `binary` option of require('spackle').setup() at it.",
    })
    return
  end
  health.ok("binary: " .. binary)

  local version = vim.system({ binary, "--version" }, { text = true }):wait(5000)
  if version.code == 0 then
    health.ok("version: " .. vim.trim(version.stdout))
  else
    health.error("`" .. binary .. " --version` failed: " .. vim.trim(version.stderr or ""))
    return
  end

  local env = spackle.options.cmd_env
  -- :checkhealth runs in its own buffer; diagnose the workspace of the running server, if any.
  local running = vim.lsp.get_clients({ name = "spackle" })[1]
  local folder = (running and running.root_dir) or vim.fn.getcwd()
  local doctor = vim.system({ binary, "doctor", folder }, { text = true, env = env }):wait(20000)
  local lines = vim.split(vim.trim(doctor.stdout or ""), "\n", { plain = true })
  for _, line in ipairs(lines) do
    if line:match("^warning") then
      health.warn("doctor: " .. line)
    elseif doctor.code ~= 0 and line:match("^model server:") then
      -- The reason, with the fix spackle doctor gives for it.
      health.warn("doctor: " .. line)
    elseif line ~= "" then
      health.info("doctor: " .. line)
    end
  end
  if doctor.code == 0 then
    health.ok("spackle doctor: the model server answers")
  elseif doctor.code == 3 then
    health.warn("spackle doctor: the model server does not answer (exit 3)", {
      "Start a model server, or configure one in spackle.toml: see |spackle-models|.",
    })
  else
    health.error(("spackle doctor failed (exit %s): %s"):format(tostring(doctor.code), vim.trim(doctor.stderr or "")))
  end

  local clients = vim.lsp.get_clients({ name = "spackle" })
  if #clients > 0 then
    for _, line in ipairs(spackle.status_lines()) do
      health.info(line)
    end
  else
    health.info("no spackle server is running (open a Python file)")
  end
end

return M
