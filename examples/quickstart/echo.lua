-- echo: answers the caller with the request it received. The quickstart's
-- "inbox" input runs it, so the relay's own destination shows what was
-- delivered to it.
r:SetResponseStatusCode(200)
r:SetResponseHeader("Content-Type", r.RequestHeader["Content-Type"] or "text/plain")
r:SetResponseBody(r.RequestBody)
r:StopForwarding()
