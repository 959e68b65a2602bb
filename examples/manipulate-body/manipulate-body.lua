-- manipulate-body: reshapes a JSON webhook before it is forwarded. It adds
-- "received_at" (the time the relay saw it, RFC 3339 in UTC) and "source" (the
-- name of the input it arrived on, or "unknown"), removes sensitive fields such
-- as passwords and card data wherever they appear (nested objects and arrays
-- included) so they never reach the destination, renames "email_address" to
-- "email", and sets Content-Type to application/json. Only field names are
-- logged, never their values. A JSON null decodes to nil, so fields whose
-- value is null are dropped on the way through. Config variables:
-- REDACT_FIELDS (optional; a comma-separated list of field names to remove,
-- default "password,password_confirmation,card,cvc,ssn").

local json = require("json")
local time = require("time")

local DEFAULT_REDACT_FIELDS = "password,password_confirmation,card,cvc,ssn"

-- Top-level fields to rename: old name -> new name.
local RENAMES = {
  email_address = "email",
}

-- "a, b,c" -> { a = true, b = true, c = true }
local function name_set(list)
  local set = {}
  for name in list:gmatch("[^,%s]+") do
    set[name] = true
  end
  return set
end

local redact_list = cfg:GetValue("REDACT_FIELDS")
if redact_list == "" then
  redact_list = DEFAULT_REDACT_FIELDS
end
local sensitive = name_set(redact_list)

-- Removes sensitive keys from a decoded JSON value at any depth, recording
-- each removed name once in `removed`.
local function scrub(value, removed)
  if type(value) ~= "table" then
    return
  end
  for key, child in pairs(value) do
    if type(key) == "string" and sensitive[key] then
      value[key] = nil -- clearing a field during pairs() is allowed in Lua
      removed[key] = true
    else
      scrub(child, removed)
    end
  end
end

local payload, err = json.decode(r.RequestBody)
if err then
  error("invalid JSON body: " .. err)
end
if type(payload) ~= "table" or payload[1] ~= nil then
  error("invalid payload: expected a JSON object")
end

local removed = {}
scrub(payload, removed)

for old, new in pairs(RENAMES) do
  if payload[old] ~= nil then
    payload[new] = payload[old]
    payload[old] = nil
  end
end

local source = r.Metadata.input_name
if source == nil or source == "" then
  source = "unknown"
end
payload.source = source
payload.received_at = time.format(time.unix(), "2006-01-02T15:04:05Z07:00")

local names = {}
for name in pairs(removed) do
  table.insert(names, name)
end
if #names > 0 then
  table.sort(names)
  log.info(string.format("removed %d sensitive field name(s): %s", #names, table.concat(names, ", ")))
end

local body, encode_err = json.encode(payload)
if encode_err then
  error("cannot encode body: " .. encode_err)
end
r:SetRequestBody(body)
r:SetRequestHeader("Content-Type", "application/json")
