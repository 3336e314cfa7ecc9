-- Ghost text for Neovim 0.10 and 0.11: suggestions from `textDocument/inlineCompletion` shown as
-- extmarks with virtual text at the cursor, with accept (whole, word, line), dismiss, next and
-- previous, and automatic triggering after a pause in typing.
--
-- One suggestion session per buffer. Typing cancels the request in flight ($/cancelRequest) and
-- hides the suggestion, unless what was typed is exactly the start of the suggestion, in which
-- case the rest stays on screen. Moving the cursor or leaving insert mode dismisses it.
local util = require("spackle.util")

local M = {}

M.namespace = vim.api.nvim_create_namespace("spackle_ghost")

--- Filled in by `spackle.setup`.
M.options = { auto_trigger = true, debounce_ms = 150 }

--- Per-buffer state: { request = {client, id, tick}, timer, items, index, anchor = {row, col}, tick }.
local states = {}

--- Counters the tests and :SpackleStatus read.
M.stats = { requests = 0, cancelled = 0, shown = 0, accepted = 0, dismissed = 0, stale = 0 }

--- What happened last, for :SpackleStatus: "idle", "waiting for the model", "no suggestion", ...
M.last_event = "idle"

local function state(bufnr)
  local s = states[bufnr]
  if not s then
    s = { items = {}, index = 1 }
    states[bufnr] = s
  end
  return s
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function clear_marks(bufnr)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
  end
end

local function cancel_request(s)
  if s.request then
    util.cancel(s.request.client, s.request.id)
    s.request = nil
    M.stats.cancelled = M.stats.cancelled + 1
  end
end

local function stop_timer(s)
  if s.timer then
    s.timer:stop()
    s.timer:close()
    s.timer = nil
  end
end

--- The suggestion on screen, if any: { text = remaining text to insert at the anchor, command, ... }.
function M.current(bufnr)
  local s = states[bufnr or vim.api.nvim_get_current_buf()]
  if not s or not s.anchor or #s.items == 0 then
    return nil
  end
  return s.items[s.index]
end

function M.is_visible(bufnr)
  return M.current(bufnr) ~= nil
end

local function render(bufnr)
  clear_marks(bufnr)
  local s = state(bufnr)
  local item = M.current(bufnr)
  if not item then
    return
  end
  local lines = vim.split(item.text, "\n", { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    table.insert(virt_lines, { { lines[i], "SpackleSuggestion" } })
  end
  local opts = {
    virt_text = { { lines[1], "SpackleSuggestion" } },
    virt_text_pos = "inline",
    hl_mode = "combine",
    priority = 1000,
  }
  if #virt_lines > 0 then
    opts.virt_lines = virt_lines
  end
  vim.api.nvim_buf_set_extmark(bufnr, M.namespace, s.anchor[1], s.anchor[2], opts)
end

--- Hides the suggestion and cancels the request in flight.
function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = state(bufnr)
  if s.anchor and #s.items > 0 then
    M.stats.dismissed = M.stats.dismissed + 1
  end
  cancel_request(s)
  stop_timer(s)
  s.items, s.index, s.anchor = {}, 1, nil
  clear_marks(bufnr)
end

--- Turns the server's items into suggestions relative to the cursor at (row, col): the text still
--- to insert, and how far past the cursor the item's range reaches (that text gets replaced).
local function suggestions(bufnr, client, result, row, col)
  local items = result and (result.items or result) or {}
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  local out = {}
  for _, item in ipairs(items) do
    local text = item.insertText
    if type(text) == "table" then
      -- A snippet: shown and inserted as its plain text (placeholders dropped).
      text = (text.value or ""):gsub("%${%d+:?([^}]*)}", "%1"):gsub("%$%d+", "")
    end
    local start_col, end_col = col, col
    if item.range then
      if item.range.start.line ~= row or item.range["end"].line ~= row then
        text = nil
      else
        start_col = util.byte_col(bufnr, item.range.start, client.offset_encoding)
        end_col = util.byte_col(bufnr, item.range["end"], client.offset_encoding)
      end
    end
    if text and start_col <= col then
      local typed = line:sub(start_col + 1, col)
      if text:sub(1, #typed) == typed and #text > #typed then
        table.insert(out, {
          text = text:sub(#typed + 1),
          replace_to = math.max(end_col, col),
          command = item.command,
        })
      end
    end
  end
  return out
end

--- Shows items from an inline completion result; used by the request handler.
function M.show(bufnr, client, result, row, col)
  local s = state(bufnr)
  s.items = suggestions(bufnr, client, result, row, col)
  s.index = 1
  if #s.items == 0 then
    s.anchor = nil
    M.last_event = "no suggestion"
    clear_marks(bufnr)
    return false
  end
  s.anchor = { row, col }
  s.tick = vim.api.nvim_buf_get_changedtick(bufnr)
  M.stats.shown = M.stats.shown + 1
  M.last_event = "suggestion shown"
  render(bufnr)
  return true
end

--- Asks the server for a suggestion at the cursor. `kind` is 1 (invoked) or 2 (automatic).
function M.request(bufnr, kind)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = util.client(bufnr)
  if not client then
    return false
  end
  local s = state(bufnr)
  cancel_request(s)
  local params = util.position_params(client)
  params.context = { triggerKind = kind or 2 }
  local row, col = cursor()
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local id
  id = util.request(client, "textDocument/inlineCompletion", params, function(err, result)
    if not s.request or s.request.id ~= id then
      return -- Cancelled or superseded meanwhile.
    end
    s.request = nil
    if err then
      M.last_event = "error: " .. (err.message or vim.inspect(err))
      return
    end
    local now_row, now_col = cursor()
    local current = vim.api.nvim_get_current_buf() == bufnr
    if not current or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick or now_row ~= row or now_col ~= col
        or not vim.startswith(vim.api.nvim_get_mode().mode, "i") then
      M.stats.stale = M.stats.stale + 1
      M.last_event = "suggestion arrived too late"
      return
    end
    M.show(bufnr, client, result, row, col)
  end, bufnr)
  if not id then
    return false
  end
  s.request = { client = client, id = id, tick = tick }
  M.stats.requests = M.stats.requests + 1
  M.last_event = "waiting for the model"
  return true
end

--- Schedules an automatic request after the configured pause; a newer call restarts the pause.
function M.schedule(bufnr)
  local s = state(bufnr)
  stop_timer(s)
  if not M.options.auto_trigger then
    return
  end
  s.timer = vim.uv.new_timer()
  s.timer:start(M.options.debounce_ms, 0, vim.schedule_wrap(function()
    stop_timer(s)
    if vim.api.nvim_get_current_buf() == bufnr and vim.startswith(vim.api.nvim_get_mode().mode, "i") then
      M.request(bufnr, 2)
    end
  end))
end

--- After a change in insert mode: keep the suggestion when the user typed its start, else
--- dismiss it (cancelling the request in flight) and schedule a new request.
function M.on_text_changed(bufnr)
  local s = state(bufnr)
  local item = M.current(bufnr)
  local row, col = cursor()
  if item and row == s.anchor[1] and col >= s.anchor[2] then
    local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
    local typed = line:sub(s.anchor[2] + 1, col)
    if #typed < #item.text and item.text:sub(1, #typed) == typed then
      for _, other in ipairs(s.items) do
        if other.text:sub(1, #typed) == typed then
          other.text = other.text:sub(#typed + 1)
          other.replace_to = math.max(other.replace_to + #typed, col)
        end
      end
      s.anchor = { row, col }
      s.tick = vim.api.nvim_buf_get_changedtick(bufnr)
      render(bufnr)
      return
    end
  end
  M.dismiss(bufnr)
  M.schedule(bufnr)
end

--- The cursor moved without a change: a suggestion elsewhere makes no sense any more.
function M.on_cursor_moved(bufnr)
  local s = state(bufnr)
  if not s.anchor then
    return
  end
  local row, col = cursor()
  if vim.api.nvim_buf_get_changedtick(bufnr) == s.tick and (row ~= s.anchor[1] or col ~= s.anchor[2]) then
    M.dismiss(bufnr)
  end
end

local function run_command(bufnr, command)
  if not command then
    return
  end
  local handler = vim.lsp.commands[command.command]
  local client = util.client(bufnr)
  if handler then
    handler(command, { bufnr = bufnr, client_id = client and client.id })
  elseif client then
    util.request(client, "workspace/executeCommand", { command = command.command, arguments = command.arguments }, function() end, bufnr)
  end
end

--- The part of `text` that "accept word" takes: leading blanks and one word or one run of
--- punctuation, or one line break.
local function next_word(text)
  return text:match("^[ \t]*[%w_]+") or text:match("^[ \t]*[^%w_%s]+") or text:match("^[ \t]*\n?") or text
end

--- The part of `text` that "accept line" takes: up to the end of the line, or the line break and
--- the next line when the suggestion continues on a new line.
local function next_line(text)
  local first = text:match("^[^\n]*")
  if first ~= "" then
    return first
  end
  return text:match("^\n[^\n]*") or text
end

--- Inserts `part` of the current suggestion at the cursor (everything when nil). Returns true
--- when something was inserted.
function M.accept(bufnr, how)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = state(bufnr)
  local item = M.current(bufnr)
  if not item then
    return false
  end
  local part = item.text
  if how == "word" then
    part = next_word(item.text)
  elseif how == "line" then
    part = next_line(item.text)
  end
  if part == "" then
    part = item.text
  end
  local row, col = s.anchor[1], s.anchor[2]
  local whole = part == item.text
  local replace_to = whole and item.replace_to or col
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  replace_to = math.min(replace_to, #line)
  local lines = vim.split(part, "\n", { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, row, replace_to, lines)
  local new_row = row + #lines - 1
  local new_col = (#lines == 1) and (col + #lines[1]) or #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { new_row + 1, new_col })
  if whole then
    local command = item.command
    s.items, s.index, s.anchor = {}, 1, nil
    clear_marks(bufnr)
    M.stats.accepted = M.stats.accepted + 1
    M.last_event = "suggestion accepted"
    run_command(bufnr, command)
  else
    -- Keep the rest of this suggestion on screen, anchored after what was inserted.
    item.text = item.text:sub(#part + 1)
    s.items, s.index = { item }, 1
    s.anchor = { new_row, new_col }
    s.tick = vim.api.nvim_buf_get_changedtick(bufnr)
    render(bufnr)
  end
  return true
end

--- Shows the next (`step` 1) or previous (-1) suggestion; asks the server when there is none.
function M.cycle(bufnr, step)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = state(bufnr)
  if #s.items == 0 or not s.anchor then
    return M.request(bufnr, 1)
  end
  s.index = ((s.index - 1 + step) % #s.items) + 1
  render(bufnr)
  return true
end

--- Attaches the autocommands to a buffer.
function M.attach(bufnr)
  local group = vim.api.nvim_create_augroup("spackle_ghost_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd("TextChangedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.on_text_changed(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.on_cursor_moved(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd("BufUnload", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
      states[bufnr] = nil
    end,
  })
end

return M
