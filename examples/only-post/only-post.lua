-- only-post: lets only POST requests through. Anything else (a GET from a
-- browser or a crawler, a HEAD from an uptime checker, ...) is answered with
-- 405 Method Not Allowed and an Allow header listing what is accepted, and is
-- not forwarded. Config variables: ALLOWED_METHODS (optional; a comma- or
-- space-separated list such as "POST, PUT" to accept more than POST).

local function allowed_methods()
  local configured = cfg:GetValue("ALLOWED_METHODS")
  if configured == "" then
    return { "POST" }
  end
  local methods = {}
  for method in configured:gmatch("[^,%s]+") do
    table.insert(methods, method:upper())
  end
  return methods
end

local methods = allowed_methods()
for _, method in ipairs(methods) do
  if r.RequestMethod == method then
    return
  end
end

local allow = table.concat(methods, ", ")
log.info(string.format("refusing %s %s: only %s allowed", r.RequestMethod, r.RequestPath, allow))
r:SetResponseStatusCode(405)
r:SetResponseHeader("Allow", allow)
r:SetResponseHeader("Content-Type", "text/plain; charset=utf-8")
r:SetResponseBody("method not allowed")
r:StopForwarding()
