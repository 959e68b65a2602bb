-- stripe-signature: verifies Stripe's webhook signature before the event is
-- forwarded. Stripe sends "Stripe-Signature: t=<unix time>,v1=<hex>[,v1=...]",
-- where each v1 is the HMAC-SHA256 of "<t>.<raw body>" with the endpoint's
-- signing secret (there are several v1 values while a secret is being rolled);
-- the webhook is genuine when any of them matches. To stop replays, the
-- timestamp must also be within a tolerance of the current time. A missing or
-- malformed header is answered with 400, a wrong signature or a stale
-- timestamp with 401, and in both cases the webhook is not forwarded. Config
-- variables: STRIPE_WEBHOOK_SECRET (required; the endpoint's "whsec_..."
-- secret) and TOLERANCE_SECONDS (optional, default 300; 0 turns the timestamp
-- check off, which only makes sense when replaying saved events).

local crypto = require("crypto")
local time = require("time")

local secret = cfg:GetValue("STRIPE_WEBHOOK_SECRET")
if secret == "" then
  error("STRIPE_WEBHOOK_SECRET is not set")
end

local tolerance = 300
local configured_tolerance = cfg:GetValue("TOLERANCE_SECONDS")
if configured_tolerance ~= "" then
  tolerance = tonumber(configured_tolerance)
  if not tolerance or tolerance < 0 then
    error("TOLERANCE_SECONDS must be a number of seconds, not " .. configured_tolerance)
  end
end

local function refuse(status, body, reason)
  log.warn("refusing Stripe webhook: " .. reason)
  r:SetResponseStatusCode(status)
  r:SetResponseBody(body)
  r:StopForwarding()
end

-- Splits "t=123,v1=abc,v1=def,v0=..." into the timestamp and the list of v1
-- signatures. Unknown schemes (v0) are skipped, as Stripe's libraries do.
-- The timestamp is returned as sent, since that text is what was signed.
-- Returns nil, nil and a reason when the header cannot be used.
local function parse_signature_header(header)
  local timestamp
  local signatures = {}
  for item in header:gmatch("[^,]+") do
    local key, value = item:match("^%s*([%w_]+)=(.-)%s*$")
    if not key then
      return nil, nil, "malformed item '" .. item .. "'"
    end
    if key == "t" then
      if not value:match("^%d+$") then
        return nil, nil, "timestamp is not a number"
      end
      timestamp = value
    elseif key == "v1" then
      table.insert(signatures, value:lower())
    end
  end
  if not timestamp then
    return nil, nil, "no timestamp"
  end
  if #signatures == 0 then
    return nil, nil, "no v1 signature"
  end
  return timestamp, signatures
end

local header = r.RequestHeader["Stripe-Signature"]
if header == nil or header == "" then
  refuse(400, "missing Stripe-Signature header", "missing Stripe-Signature header")
  return
end

local timestamp, signatures, reason = parse_signature_header(header)
if not signatures then
  refuse(400, "malformed Stripe-Signature header", "malformed Stripe-Signature header: " .. reason)
  return
end

-- The signed payload is the timestamp as sent, a dot, and the raw body.
local expected, err = crypto.hmac("sha256", timestamp .. "." .. r.RequestBody, secret)
if err then
  error("cannot compute HMAC: " .. err)
end

local matched = false
for _, signature in ipairs(signatures) do
  if crypto.equal(expected, signature) then
    matched = true
    break
  end
end
if not matched then
  refuse(401, "invalid signature", "no v1 signature matches")
  return
end

if tolerance > 0 then
  local age = time.unix() - tonumber(timestamp)
  if math.abs(age) > tolerance then
    refuse(401, "invalid signature", string.format(
      "timestamp %s is outside the tolerance of %d seconds", timestamp, tolerance))
    return
  end
end

log.info("verified Stripe signature (t=" .. timestamp .. ")")
