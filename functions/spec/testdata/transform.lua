-- transform.lua rewrites a webhook into a small JSON message and answers
-- the caller. The spec tests run it with different requests.
local event = r.RequestHeader["x-event"] or "none"
print("received " .. event)
log.info("path " .. r.RequestPath)

if event == "ping" then
  r:SetResponseStatusCode(200)
  r:SetResponseBody("pong")
  r:StopForwarding()
  return
end

if event == "boom" then
  error("cannot handle boom")
end

if event == "partial" then
  r:SetResponseStatusCode(500)
  r:SetResponseBody("partial failure")
  error("failed after answering")
end

local body = string.format(
  '{"event":"%s","channel":"%s","bucket":"%s","query":"%s","size":%d,"count":1.0,"ok":true,"tags":["a","b"],"nested":{"x":1,"y":[1,2.5]},"none":null}',
  event, cfg:GetValue("CHANNEL"), r.Metadata["bucket_name"], r.RequestRawQuery, string.len(r.RequestBody))
r:SetRequestBody(body)
r:SetRequestHeader("Content-Type", "application/json")
r:DeleteRequestHeader("X-Secret")
r:SetRequestMethod("PUT")
local base = r.RequestPath
if base == "/" then base = "" end
r:SetRequestPath(base .. "/forwarded")
r:SetRequestRawQuery("seen=1&" .. r.RequestRawQuery)
r:SetResponseHeader("X-Handled", "yes")
r:SetResponseStatusCode(202)
r:SetResponseBody("accepted " .. event)
