-- tag.lua marks the request, greets with a configuration variable, and
-- fails on request.
print("tagging " .. r.RequestPath)
r:SetRequestHeader("X-Tagged", "yes")
local greeting = cfg:GetValue("GREETING")
if greeting ~= nil and greeting ~= "" then
  r:SetRequestHeader("X-Greeting-Set", "yes")
end
if r.RequestBody == "boom" then
  error("boom requested")
end
