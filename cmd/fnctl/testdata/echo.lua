-- echo.lua describes the request it got as the body it forwards.
print("event " .. (r.RequestHeader["x-event"] or "none"))
r:SetRequestBody(string.format("%s %s?%s bucket=%s secret=%s body=%s",
  r.RequestMethod, r.RequestPath, r.RequestRawQuery,
  r.Metadata["bucket_name"], cfg:GetValue("SECRET"), r.RequestBody))
r:SetRequestHeader("X-Echo", "1")
if r.RequestHeader["x-event"] == "ping" then
  r:SetResponseStatusCode(200)
  r:SetResponseHeader("X-Pong", "yes")
  r:SetResponseBody("pong")
  r:StopForwarding()
end
