local json = require("json")
local event = r.RequestHeader["X-GitHub-Event"] or "unknown"
local msg = {channel = cfg:GetValue("SLACK_CHANNEL"), text = "GitHub event: " .. event}
local body, err = json.encode(msg)
if err then error(err) end
r:SetRequestBody(body)
r:SetRequestHeader("Content-Type", "application/json")
