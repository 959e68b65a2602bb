-- twilio-form-to-json: turns Twilio's incoming-message webhook (an
-- application/x-www-form-urlencoded POST with MessageSid, From, To, Body,
-- NumMedia, MediaUrl0..., FromCity, ...) into a JSON document with the fields
-- a destination usually wants: message and account ids, sender, recipient,
-- text, segment count, the sender's location, and for MMS the list of media
-- (URL and content type). It also answers Twilio with an empty TwiML
-- <Response/>, so Twilio sends no reply SMS and logs no error. A body that is
-- not a form, or a form that is not a Twilio message, is an error.
-- Config variables: none.

local json = require("json")
local urlencoded = require("urlencoded")

local TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

local content_type = r.RequestHeader["Content-Type"] or ""
if not content_type:lower():find("application/x-www-form-urlencoded", 1, true) then
  if content_type == "" then
    content_type = "no Content-Type"
  end
  error("expected an application/x-www-form-urlencoded body, got " .. content_type)
end

local form, err = urlencoded.decode(r.RequestBody)
if err then
  error("invalid form body: " .. err)
end

-- A repeated key decodes to an array; Twilio sends each key once, so the
-- first value is the one that counts.
local function field(name)
  local value = form[name]
  if type(value) == "table" then
    value = value[1]
  end
  return value
end

local message_sid = field("MessageSid") or field("SmsMessageSid")
if message_sid == nil or message_sid == "" then
  error("not a Twilio message: MessageSid is missing")
end

local num_media = tonumber(field("NumMedia")) or 0

local message = {
  message_sid = message_sid,
  account_sid = field("AccountSid"),
  messaging_service_sid = field("MessagingServiceSid"),
  from = field("From"),
  to = field("To"),
  body = field("Body") or "",
  status = field("SmsStatus"),
  num_media = num_media,
  num_segments = tonumber(field("NumSegments")),
}

-- Twilio fills the location fields from the sender's number when it can.
if field("FromCountry") then
  message.from_location = {
    city = field("FromCity"),
    state = field("FromState"),
    zip = field("FromZip"),
    country = field("FromCountry"),
  }
end

if num_media > 0 then
  local media = {}
  for i = 0, num_media - 1 do
    table.insert(media, {
      url = field("MediaUrl" .. i),
      content_type = field("MediaContentType" .. i),
    })
  end
  message.media = media
end

local body, encode_err = json.encode(message)
if encode_err then
  error("cannot encode message: " .. encode_err)
end
r:SetRequestBody(body)
r:SetRequestHeader("Content-Type", "application/json")

r:SetResponseStatusCode(200)
r:SetResponseHeader("Content-Type", "text/xml")
r:SetResponseBody(TWIML_EMPTY)
