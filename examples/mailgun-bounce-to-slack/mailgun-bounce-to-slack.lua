-- mailgun-bounce-to-slack: posts a Slack message when Mailgun could not
-- deliver an email. Mailgun's webhook is JSON with a "signature" object
-- (timestamp, token, and the HMAC-SHA256 of timestamp..token with the
-- domain's HTTP webhook signing key) and the event in "event-data". The
-- signature is checked first: a bad or missing one is answered with 401 and
-- not forwarded. A "failed" event (or the legacy "bounced") becomes a Slack
-- message naming the recipient, the subject, the severity and the receiving
-- server's answer; every other event (delivered, opened, clicked, ...) is
-- logged and not forwarded. Config variables: MAILGUN_SIGNING_KEY (required;
-- the HTTP webhook signing key from the Mailgun dashboard) and SLACK_CHANNEL
-- (optional; post to this channel instead of the incoming webhook's default).

local json = require("json")
local crypto = require("crypto")

local signing_key = cfg:GetValue("MAILGUN_SIGNING_KEY")
if signing_key == "" then
  error("MAILGUN_SIGNING_KEY is not set")
end

local payload, err = json.decode(r.RequestBody)
if err then
  error("invalid JSON body: " .. err)
end
if type(payload) ~= "table" then
  error("invalid Mailgun payload: expected a JSON object")
end

local function refuse(reason)
  log.warn("refusing Mailgun webhook: " .. reason)
  r:SetResponseStatusCode(401)
  r:SetResponseBody("invalid signature")
  r:StopForwarding()
end

-- Mailgun signs timestamp .. token (both strings) with the signing key.
local function signature_valid(sig)
  if type(sig) ~= "table" or type(sig.timestamp) ~= "string"
      or type(sig.token) ~= "string" or type(sig.signature) ~= "string" then
    return false, "missing or incomplete signature object"
  end
  local expected, hmac_err = crypto.hmac("sha256", sig.timestamp .. sig.token, signing_key)
  if hmac_err then
    error("cannot compute HMAC: " .. hmac_err)
  end
  if not crypto.equal(expected, sig.signature:lower()) then
    return false, "signature mismatch"
  end
  return true
end

local ok, reason = signature_valid(payload.signature)
if not ok then
  refuse(reason)
  return
end

local event = payload["event-data"]
if type(event) ~= "table" then
  error("invalid Mailgun payload: no event-data")
end

if event.event ~= "failed" and event.event ~= "bounced" then
  log.info("ignoring Mailgun event " .. tostring(event.event))
  r:StopForwarding()
  return
end

-- Slack's mrkdwn treats &, < and > as markup.
local function escape(s)
  return (tostring(s or ""):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

local status = event["delivery-status"] or {}
local headers = (event.message and event.message.headers) or {}
local recipient = event.recipient or "unknown recipient"
local severity = event.severity or "permanent"
local subject = headers.subject or "(no subject)"
-- The receiving server's answer, led by its SMTP code: "550 5.1.1 The email
-- account ... does not exist." Some messages already start with the code.
local answer = status.message
if answer == nil or answer == "" then
  answer = status.description
end
if answer == nil or answer == "" then
  answer = event.reason or "no reason given"
end
local code = status.code and tostring(status.code)
if code and answer:sub(1, #code) ~= code then
  answer = code .. " " .. answer
end

local text = escape(string.format("Email to %s failed (%s): %s", recipient, severity, answer))

local message = {
  text = text,
  blocks = {
    { type = "section", text = { type = "mrkdwn", text = ":warning: *" .. text .. "*" } },
    {
      type = "section",
      fields = {
        { type = "mrkdwn", text = "*Recipient*\n" .. escape(recipient) },
        { type = "mrkdwn", text = "*Subject*\n" .. escape(subject) },
        { type = "mrkdwn", text = "*From*\n" .. escape(headers.from or "unknown") },
        { type = "mrkdwn", text = "*Reason*\n" .. escape(event.reason or event.event) },
      },
    },
  },
}
local channel = cfg:GetValue("SLACK_CHANNEL")
if channel ~= "" then
  message.channel = channel
end

local body, encode_err = json.encode(message)
if encode_err then
  error("cannot encode Slack message: " .. encode_err)
end
r:SetRequestBody(body)
r:SetRequestHeader("Content-Type", "application/json")
