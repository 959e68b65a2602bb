-- route-by-metadata: one function attached to several outputs of a bucket,
-- doing something different for each, chosen by r.Metadata.output_name. For
-- the Slack output it reshapes the JSON webhook into a Slack message
-- ("New <type> on <bucket>/<input> (<id>)", using the payload's "type" or
-- "event" and "id" when present); for the archive output it forwards the raw
-- body unchanged with an X-Archived-From: <bucket>/<input> header; on any
-- other output, or when run on an input (where output_name is empty), the
-- webhook is logged and not forwarded. Config variables: SLACK_OUTPUT and
-- ARCHIVE_OUTPUT (optional; the output names to match, default "slack" and
-- "archive").

local json = require("json")

local function config_or(key, default)
  local value = cfg:GetValue(key)
  if value == "" then
    return default
  end
  return value
end

local function name_or_unknown(name)
  if name == nil or name == "" then
    return "unknown"
  end
  return name
end

local slack_output = config_or("SLACK_OUTPUT", "slack")
local archive_output = config_or("ARCHIVE_OUTPUT", "archive")

local meta = r.Metadata
local output = meta.output_name or ""
local origin = name_or_unknown(meta.bucket_name) .. "/" .. name_or_unknown(meta.input_name)

-- Slack's mrkdwn treats &, < and > as markup.
local function escape(s)
  return (tostring(s or ""):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

local function to_slack()
  local payload, err = json.decode(r.RequestBody)
  if err then
    error("invalid JSON body: " .. err)
  end
  if type(payload) ~= "table" then
    error("invalid payload: expected a JSON object")
  end
  local text = string.format("New %s on %s", payload.type or payload.event or "webhook", origin)
  if payload.id ~= nil then
    text = text .. " (" .. tostring(payload.id) .. ")"
  end
  local body, encode_err = json.encode({ text = escape(text) })
  if encode_err then
    error("cannot encode Slack message: " .. encode_err)
  end
  r:SetRequestBody(body)
  r:SetRequestHeader("Content-Type", "application/json")
end

if output == slack_output then
  to_slack()
elseif output == archive_output then
  r:SetRequestHeader("X-Archived-From", origin)
else
  if output == "" then
    log.info("not on an output; nothing to forward for " .. origin)
  else
    log.info("no route for output " .. output .. "; not forwarding")
  end
  r:StopForwarding()
end
