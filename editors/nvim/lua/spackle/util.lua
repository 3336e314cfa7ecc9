-- Small helpers shared by the plugin's modules: client calls that differ between Neovim 0.10,
-- 0.11 and 0.12, and LSP position <-> byte column conversion.
local M = {}

M.has_011 = vim.fn.has("nvim-0.11") == 1

--- Sends a request; returns the request id or nil. Works with the 0.10 (`client.request`) and
--- 0.11+ (`client:request`) calling conventions.
function M.request(client, method, params, handler, bufnr)
  local ok, id
  if M.has_011 then
    ok, id = client:request(method, params, handler, bufnr)
  else
    ok, id = client.request(method, params, handler, bufnr)
  end
  if ok then
    return id
  end
  return nil
end

--- Cancels a request; the client sends `$/cancelRequest`.
function M.cancel(client, id)
  if M.has_011 then
    client:cancel_request(id)
  else
    client.cancel_request(id)
  end
end

function M.notify(client, method, params)
  if M.has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

--- The spackle client attached to `bufnr` (default: the current buffer), if any.
function M.client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return vim.lsp.get_clients({ name = "spackle", bufnr = bufnr })[1]
end

--- The byte column of an LSP `position` in `bufnr`, given the client's offset encoding.
function M.byte_col(bufnr, position, encoding)
  if encoding == "utf-8" then
    return position.character
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, position.line, position.line + 1, false)[1] or ""
  local ok, col
  if M.has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, position.character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, position.character, encoding == "utf-16")
  end
  if ok and col then
    return col
  end
  return #line
end

--- The params of a text-document-position request at the cursor of the current window.
function M.position_params(client)
  return vim.lsp.util.make_position_params(0, client.offset_encoding)
end

return M
