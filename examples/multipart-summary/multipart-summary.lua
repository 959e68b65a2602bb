-- multipart-summary: replaces a multipart/form-data upload with a small JSON
-- summary of it, for destinations that want to know what was sent without
-- receiving the files: {"fields": {name: value, ...}, "file_count": n,
-- "files": [{"field", "filename", "content_type", "size", "sha256"}, ...]}
-- with the files in the order they were sent. "fields" and "files" are left
-- out when there are none. A request that is not multipart/form-data, or a
-- body that cannot be parsed, is an error. Config variables: none.

local json = require("json")
local crypto = require("crypto")
local multipart = require("multipart")

local upload_size = #r.RequestBody
local content_type = r.RequestHeader["Content-Type"] or ""
if not content_type:lower():find("^%s*multipart/form%-data") then
  if content_type == "" then
    content_type = "no Content-Type"
  end
  error("expected a multipart/form-data body, got " .. content_type)
end

local form, err = multipart.decode(r.RequestBody, content_type)
if err then
  error("invalid multipart body: " .. err)
end

local summary = { file_count = 0 }

-- Only set "fields" when there is at least one, so it is always an object.
if next(form.fields or {}) ~= nil then
  summary.fields = form.fields
end

local files = {}
for _, file in ipairs(form.files or {}) do
  local content = file.content or ""
  table.insert(files, {
    field = file.field,
    filename = file.filename,
    content_type = file.content_type,
    size = #content,
    sha256 = crypto.sha256(content),
  })
end
if #files > 0 then
  summary.files = files
  summary.file_count = #files
end

local body, encode_err = json.encode(summary)
if encode_err then
  error("cannot encode summary: " .. encode_err)
end
r:SetRequestBody(body)
r:SetRequestHeader("Content-Type", "application/json")
log.info(string.format("summarised %d file(s) from a %d-byte upload", #files, upload_size))
