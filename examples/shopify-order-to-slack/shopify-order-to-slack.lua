-- shopify-order-to-slack: verifies a Shopify webhook and announces new orders
-- in Slack. Shopify signs the raw body with the app's client secret and sends
-- the base64 of the HMAC-SHA256 in X-Shopify-Hmac-Sha256; a missing or wrong
-- value is answered with 401 and not forwarded. An "orders/create" webhook
-- (X-Shopify-Topic) becomes a Slack message with the order number linked to
-- the shop admin, the total, the customer, and one line per line item; other
-- topics are logged and not forwarded. Config variables:
-- SHOPIFY_WEBHOOK_SECRET (required; the app's client secret, or the secret
-- shown under Settings > Notifications > Webhooks for webhooks made in the
-- admin) and SLACK_CHANNEL (optional; post to this channel instead of the
-- incoming webhook's default).

local json = require("json")
local crypto = require("crypto")
local base64 = require("base64")

local secret = cfg:GetValue("SHOPIFY_WEBHOOK_SECRET")
if secret == "" then
  error("SHOPIFY_WEBHOOK_SECRET is not set")
end

local function refuse(reason)
  log.warn("refusing Shopify webhook: " .. reason)
  r:SetResponseStatusCode(401)
  r:SetResponseBody("invalid signature")
  r:StopForwarding()
end

local given = r.RequestHeader["X-Shopify-Hmac-Sha256"]
if given == nil or given == "" then
  refuse("missing X-Shopify-Hmac-Sha256 header")
  return
end

-- The trailing `true` asks for the raw digest, which Shopify sends base64-encoded.
local digest, err = crypto.hmac("sha256", r.RequestBody, secret, true)
if err then
  error("cannot compute HMAC: " .. err)
end
if not crypto.equal(base64.encode(digest), given) then
  refuse("signature mismatch")
  return
end

local topic = r.RequestHeader["X-Shopify-Topic"] or ""
if topic ~= "orders/create" then
  log.info("ignoring Shopify topic " .. (topic ~= "" and topic or "(none)"))
  r:StopForwarding()
  return
end

local order, decode_err = json.decode(r.RequestBody)
if decode_err then
  error("invalid JSON body: " .. decode_err)
end
if type(order) ~= "table" then
  error("invalid order: expected a JSON object")
end

-- Slack's mrkdwn treats &, < and > as markup.
local function escape(s)
  return (tostring(s or ""):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

local function customer_name(o)
  local c = o.customer
  if type(c) == "table" and (c.first_name or c.last_name) then
    return ((c.first_name or "") .. " " .. (c.last_name or "")):match("^%s*(.-)%s*$")
  end
  if type(o.billing_address) == "table" and o.billing_address.name then
    return o.billing_address.name
  end
  return o.email or "a guest"
end

local currency = order.currency or ""
local items = order.line_items or {}
local quantity = 0
local lines = {}
for _, item in ipairs(items) do
  quantity = quantity + (item.quantity or 0)
  table.insert(lines, string.format("%d x %s @ %s %s",
    item.quantity or 0, escape(item.name or item.title), item.price or "?", currency))
end

local shop = r.RequestHeader["X-Shopify-Shop-Domain"] or "the shop"
local order_name = order.name or ("#" .. tostring(order.order_number or order.id))
local summary = string.format("New order %s on %s: %s %s from %s (%d item%s)",
  order_name, shop, order.total_price or "?", currency, customer_name(order),
  quantity, quantity == 1 and "" or "s")
if order.test then
  summary = summary .. " [test]"
end
summary = escape(summary)

-- The order in the shop admin: https://admin.shopify.com/store/<handle>/orders/<id>
local heading = summary
local handle = shop:match("^([%w%-]+)%.myshopify%.com$")
if handle and order.id then
  local url = string.format("https://admin.shopify.com/store/%s/orders/%.0f", handle, order.id)
  heading = string.format("<%s|%s>", url, summary)
end

local blocks = {
  { type = "section", text = { type = "mrkdwn", text = ":shopping_trolley: " .. heading } },
}
if #lines > 0 then
  table.insert(blocks, { type = "section", text = { type = "mrkdwn", text = table.concat(lines, "\n") } })
end

local message = { text = summary, blocks = blocks }
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
