-- subscription-challenge: answers the verification request that Meta
-- (Facebook, Instagram, WhatsApp Cloud API) and other WebSub-style senders
-- make before they start delivering webhooks. They send
-- GET ?hub.mode=subscribe&hub.challenge=<random>&hub.verify_token=<token>
-- and expect the challenge echoed back with 200 when the token is the one
-- configured on their side; this function answers that itself (403 when the
-- token is wrong, 400 when the request is incomplete) and never forwards the
-- GET. Every other request (the POSTed events) passes through untouched.
-- Config variables: VERIFY_TOKEN (required; the "verify token" entered in the
-- sender's webhook settings).

local crypto = require("crypto")

if r.RequestMethod ~= "GET" then
  return
end

-- Verification requests are answered here and never reach the destination.
r:StopForwarding()

local function answer(status, body)
  r:SetResponseStatusCode(status)
  r:SetResponseHeader("Content-Type", "text/plain; charset=utf-8")
  r:SetResponseBody(body)
end

local expected_token = cfg:GetValue("VERIFY_TOKEN")
if expected_token == "" then
  error("VERIFY_TOKEN is not set")
end

local query = r.RequestQuery
local mode = query["hub.mode"]
local challenge = query["hub.challenge"]
local token = query["hub.verify_token"] or ""

if mode ~= "subscribe" then
  log.warn("refusing verification: hub.mode is " .. (mode or "missing"))
  answer(403, "forbidden")
  return
end

if not crypto.equal(token, expected_token) then
  log.warn("refusing verification: wrong hub.verify_token")
  answer(403, "forbidden")
  return
end

if challenge == nil or challenge == "" then
  log.warn("refusing verification: no hub.challenge")
  answer(400, "missing hub.challenge")
  return
end

log.info("answered subscription challenge")
answer(200, challenge)
