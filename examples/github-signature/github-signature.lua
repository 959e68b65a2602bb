-- github-signature: verifies that a webhook really comes from GitHub before it
-- is forwarded. GitHub signs the raw body with the webhook's secret and sends
-- "sha256=<hex HMAC-SHA256>" in the X-Hub-Signature-256 header; this function
-- computes the same HMAC and compares the two in constant time. A missing,
-- malformed or wrong signature gets a 401 "invalid signature" answer and the
-- webhook is not forwarded; the reason is logged (the secret never is). A
-- valid webhook is forwarded unchanged. Config variables: GITHUB_WEBHOOK_SECRET
-- (required; the secret set on the GitHub webhook). Without it the function
-- fails rather than let unverified webhooks through.

local crypto = require("crypto")

local secret = cfg:GetValue("GITHUB_WEBHOOK_SECRET")
if secret == "" then
  error("GITHUB_WEBHOOK_SECRET is not set")
end

local delivery = r.RequestHeader["X-GitHub-Delivery"] or "unknown"

local function refuse(reason)
  log.warn("refusing delivery " .. delivery .. ": " .. reason)
  r:SetResponseStatusCode(401)
  r:SetResponseBody("invalid signature")
  r:StopForwarding()
end

local header = r.RequestHeader["X-Hub-Signature-256"]
if header == nil or header == "" then
  refuse("missing X-Hub-Signature-256 header")
  return
end

-- Exactly "sha256=" followed by 64 hex digits (GitHub sends lowercase).
local given = header:match("^sha256=(" .. string.rep("%x", 64) .. ")$")
if not given then
  refuse("malformed X-Hub-Signature-256 header")
  return
end

local expected, err = crypto.hmac("sha256", r.RequestBody, secret)
if err then
  error("cannot compute HMAC: " .. err)
end

if not crypto.equal(expected, given:lower()) then
  refuse("signature mismatch")
  return
end

log.info("signature verified for delivery " .. delivery)
