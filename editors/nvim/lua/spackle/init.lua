-- spackle for Neovim: starts `spackle serve` for Python buffers and shows its checked suggestions,
-- with `vim.lsp.inline_completion` on Neovim 0.12+ and with the plugin's own ghost text (extmarks)
-- on 0.10 and 0.11. See `:help spackle`.
local util = require("spackle.util")

local M = {}

local defaults = {
  -- The server command; nil means `{ <binary>, "serve" }`.
  cmd = nil,
  -- The spackle binary; nil means `spackle` from $PATH (then ~/.cargo/bin/spackle).
  binary = nil,
  -- Extra environment for the server (for example SPACKLE_BACKEND, SPACKLE_ENDPOINT).
  cmd_env = nil,
  filetypes = { "python" },
  root_markers = { "spackle.toml", "pyproject.toml", "setup.py", "setup.cfg", ".git" },
  -- spackle's settings, the same keys as spackle.toml, e.g. { model = { backend = "ollama" } }.
  -- Sent as initializationOptions; settings left out keep spackle.toml's (or the default) value.
  settings = {},
  -- Use Neovim's own inline completion on 0.12 and later.
  native = true,
  suggestion = {
    -- Ask for a suggestion after a pause in typing; otherwise only with the `trigger` key.
    auto_trigger = true,
    -- The pause, in milliseconds.
    debounce_ms = 150,
    -- Insert-mode keys; set any to false to leave that key alone.
    keymaps = {
      accept = "<Tab>",
      accept_word = "<M-Right>",
      accept_line = "<M-Down>",
      next = "<M-]>",
      prev = "<M-[>",
      dismiss = "<C-]>",
      trigger = "<M-\\>",
    },
  },
}

M.options = vim.deepcopy(defaults)

--- What the status command shows: the last message from the server and the last accepted check.
M.status = { message = nil, accepted = nil }

local function native_available()
  return M.options.native and vim.lsp.inline_completion ~= nil
end

--- The spackle binary: the `binary` option, else $PATH, else ~/.cargo/bin/spackle. Returns the
--- path, or nil and a sentence saying what was looked at.
function M.find_binary()
  local configured = M.options.binary
  if configured and configured ~= "" then
    local path = vim.fn.expand(configured)
    if vim.fn.executable(path) == 1 then
      return path
    end
    return nil, ("the `binary` option points at %s, which is not an executable"):format(path)
  end
  local found = vim.fn.exepath("spackle")
  if found ~= "" then
    return found
  end
  local cargo = vim.fn.expand("~/.cargo/bin/spackle")
  if vim.fn.executable(cargo) == 1 then
    return cargo
  end
  return nil, "`spackle` is not on $PATH (install it with `cargo install --locked --path .` in spackle's repository, or set the `binary` option)"
end

local function command()
  if M.options.cmd then
    return M.options.cmd
  end
  local binary, why = M.find_binary()
  if not binary then
    return nil, why
  end
  return { binary, "serve" }
end

--- Settings as JSON: empty tables dropped (Lua's {} would be encoded as a JSON array, which
--- spackle rightly rejects); nil when nothing is left.
local function settings_payload(settings)
  local function clean(value)
    if type(value) ~= "table" or vim.islist(value) and #value > 0 then
      return value
    end
    local out = {}
    for key, item in pairs(value) do
      local cleaned = clean(item)
      if cleaned ~= nil then
        out[key] = cleaned
      end
    end
    if next(out) == nil then
      return nil
    end
    return out
  end
  return clean(settings or {})
end
M._settings_payload = settings_payload

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.textDocument = caps.textDocument or {}
  -- Our ghost text speaks textDocument/inlineCompletion on every version.
  caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion or { dynamicRegistration = false }
  caps.general = caps.general or {}
  caps.general.positionEncodings = caps.general.positionEncodings or { "utf-8", "utf-16", "utf-32" }
  return caps
end

local function record_message(err, result, ctx, config)
  if result and result.message then
    M.status.message = result.message
  end
  return vim.lsp.handlers[ctx.method](err, result, ctx, config)
end

local function map_keys(bufnr)
  local keys = M.options.suggestion.keymaps or {}
  local ghost = require("spackle.ghost")
  local function map(lhs, fn, desc)
    if not lhs then
      return
    end
    vim.keymap.set("i", lhs, function()
      if not fn() then
        vim.api.nvim_feedkeys(vim.keycode(lhs), "n", false)
      end
    end, { buffer = bufnr, desc = desc, silent = true })
  end
  if native_available() then
    local inline = vim.lsp.inline_completion
    map(keys.accept, function() return inline.get() end, "spackle: accept the suggestion")
    map(keys.next, function() inline.select({ count = 1 }) return true end, "spackle: next suggestion")
    map(keys.prev, function() inline.select({ count = -1 }) return true end, "spackle: previous suggestion")
    return
  end
  map(keys.accept, function() return ghost.accept(bufnr) end, "spackle: accept the suggestion")
  map(keys.accept_word, function() return ghost.accept(bufnr, "word") end, "spackle: accept a word")
  map(keys.accept_line, function() return ghost.accept(bufnr, "line") end, "spackle: accept a line")
  map(keys.next, function() return ghost.cycle(bufnr, 1) end, "spackle: next suggestion")
  map(keys.prev, function() return ghost.cycle(bufnr, -1) end, "spackle: previous suggestion")
  map(keys.dismiss, function()
    local visible = ghost.is_visible(bufnr)
    ghost.dismiss(bufnr)
    return visible
  end, "spackle: dismiss the suggestion")
  map(keys.trigger, function() return ghost.request(bufnr, 1) end, "spackle: ask for a suggestion")
end

local function on_attach(client, bufnr)
  if native_available() then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  else
    require("spackle.ghost").attach(bufnr)
  end
  map_keys(bufnr)
end

--- Starts (or reuses) the server for `bufnr`. Returns the client id, or nil.
function M.start(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local cmd, why = command()
  if not cmd then
    if not M._warned_missing then
      M._warned_missing = true
      vim.notify("spackle: " .. why .. ". See :help spackle-install", vim.log.levels.WARN)
    end
    return nil
  end
  local path = vim.api.nvim_buf_get_name(bufnr)
  local root = vim.fs.root(path ~= "" and path or vim.fn.getcwd(), M.options.root_markers)
    or vim.fs.dirname(path ~= "" and path or vim.fn.getcwd() .. "/x")
  return vim.lsp.start({
    name = "spackle",
    cmd = cmd,
    cmd_env = M.options.cmd_env,
    root_dir = root,
    init_options = settings_payload(M.options.settings),
    capabilities = capabilities(),
    handlers = {
      ["window/showMessage"] = record_message,
    },
    on_attach = on_attach,
  }, { bufnr = bufnr })
end

--- Sends new settings to the running servers (`workspace/didChangeConfiguration`).
function M.configure(settings)
  M.options.settings = vim.tbl_deep_extend("force", M.options.settings or {}, settings or {})
  local payload = settings_payload(M.options.settings) or vim.empty_dict()
  for _, client in ipairs(vim.lsp.get_clients({ name = "spackle" })) do
    util.notify(client, "workspace/didChangeConfiguration", { settings = payload })
  end
end

local function executes(client, name)
  local provider = client.server_capabilities.executeCommandProvider
  return provider and vim.tbl_contains(provider.commands or {}, name)
end

--- Asks the server to run one of its commands at the cursor (`spackle.generateDocstring`,
--- `spackle.comment`); the server answers with a workspace/applyEdit.
function M.execute(name)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = util.client(bufnr)
  if not client then
    vim.notify("spackle: no spackle server is attached to this buffer", vim.log.levels.WARN)
    return false
  end
  if not executes(client, name) then
    vim.notify(("spackle: this spackle server does not offer `%s` yet (update spackle)"):format(name), vim.log.levels.WARN)
    return false
  end
  local params = util.position_params(client)
  util.request(client, "workspace/executeCommand", { command = name, arguments = { params } }, function(err)
    if err then
      vim.notify(("spackle: %s failed: %s"):format(name, err.message), vim.log.levels.WARN)
    end
  end, bufnr)
  return true
end

--- Applies spackle's quick fix at the cursor, if it offers one.
function M.fix()
  local client = util.client()
  if not client then
    vim.notify("spackle: no spackle server is attached to this buffer", vim.log.levels.WARN)
    return false
  end
  if not client.server_capabilities.codeActionProvider then
    vim.notify("spackle: this spackle server does not offer code actions yet (update spackle)", vim.log.levels.WARN)
    return false
  end
  vim.lsp.buf.code_action({
    apply = true,
    context = { only = { "quickfix" }, diagnostics = {} },
    filter = function(_, client_id)
      return client_id == nil or client_id == client.id
    end,
  })
  return true
end

--- The lines :SpackleStatus prints.
function M.status_lines()
  local lines = {}
  local clients = vim.lsp.get_clients({ name = "spackle" })
  if #clients == 0 then
    local binary, why = M.find_binary()
    table.insert(lines, "spackle: not running" .. (binary and (" (binary: " .. binary .. ")") or (": " .. why)))
  end
  for _, client in ipairs(clients) do
    local info = client.server_info or {}
    table.insert(lines, ("spackle %s: client %d, root %s, positions %s"):format(
      info.version or "?", client.id, client.root_dir or client.config.root_dir or "?", client.offset_encoding))
  end
  local ghost = require("spackle.ghost")
  if native_available() then
    table.insert(lines, "suggestions: vim.lsp.inline_completion")
  else
    local s = ghost.stats
    table.insert(lines, ("suggestions: ghost text, %s; %d requested, %d shown, %d accepted, %d cancelled"):format(
      ghost.last_event, s.requests, s.shown, s.accepted, s.cancelled))
  end
  if M.status.accepted then
    table.insert(lines, "last accepted: " .. M.status.accepted)
  end
  if M.status.message then
    table.insert(lines, "last message: " .. M.status.message)
  end
  return lines
end

--- Shows what would be sent to the model for the cursor (the `spackle/context` request).
function M.show_context()
  local client = util.client()
  if not client then
    vim.notify("spackle: no spackle server is attached to this buffer", vim.log.levels.WARN)
    return
  end
  local params = util.position_params(client)
  util.request(client, "spackle/context", params, function(err, result)
    if err then
      vim.notify("spackle: " .. err.message, vim.log.levels.WARN)
      return
    end
    local lines = {}
    for _, part in ipairs(result.parts or {}) do
      table.insert(lines, ("── %s · %s"):format(part.name, part.why))
      vim.list_extend(lines, vim.split(part.text, "\n", { plain = true }))
    end
    vim.cmd("botright new")
    local buf = vim.api.nvim_get_current_buf()
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].bufhidden = "wipe"
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    vim.bo[buf].modifiable = false
  end)
end

local function create_commands()
  local command = vim.api.nvim_create_user_command
  command("SpackleDocstring", function() M.execute("spackle.generateDocstring") end, { desc = "spackle: write a docstring for the function at the cursor" })
  command("SpackleComment", function() M.execute("spackle.comment") end, { desc = "spackle: comment the code at the cursor" })
  command("SpackleFix", function() M.fix() end, { desc = "spackle: apply spackle's fix at the cursor" })
  command("SpackleStatus", function()
    vim.notify(table.concat(M.status_lines(), "\n"), vim.log.levels.INFO)
  end, { desc = "spackle: show the server and suggestion status" })
  command("SpackleContext", function() M.show_context() end, { desc = "spackle: show what would be sent to the model" })
  command("SpackleToggle", function()
    local ghost = require("spackle.ghost")
    M.options.suggestion.auto_trigger = not M.options.suggestion.auto_trigger
    ghost.options.auto_trigger = M.options.suggestion.auto_trigger
    if native_available() then
      vim.lsp.inline_completion.enable(M.options.suggestion.auto_trigger)
    end
    vim.notify("spackle: automatic suggestions " .. (M.options.suggestion.auto_trigger and "on" or "off"))
  end, { desc = "spackle: turn automatic suggestions on or off" })
end

--- Configures the plugin and starts the server for matching buffers.
function M.setup(opts)
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  local ghost = require("spackle.ghost")
  ghost.options.auto_trigger = M.options.suggestion.auto_trigger
  ghost.options.debounce_ms = M.options.suggestion.debounce_ms
  vim.api.nvim_set_hl(0, "SpackleSuggestion", { link = "Comment", default = true })

  vim.lsp.commands["spackle.accepted"] = function(cmd)
    local verification = cmd.arguments and cmd.arguments[1]
    M.status.accepted = cmd.title or vim.inspect(verification)
  end

  create_commands()
  local group = vim.api.nvim_create_augroup("spackle", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.options.filetypes,
    callback = function(args)
      M.start(args.buf)
    end,
  })
  -- Buffers already open when setup runs (lazy loading).
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(M.options.filetypes, vim.bo[bufnr].filetype) then
      M.start(bufnr)
    end
  end
end

return M
