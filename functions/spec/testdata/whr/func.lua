-- A function in Webhook Relay's documented style.
r:SetResponseBody("thanks-from-function")
r:SetRequestBody("a brand new body")
r:SetRequestMethod("POST")
r:SetRequestHeader("Authorization", "Bearer abc")
r:SetRequestPath("/v2/events")
r:SetRequestRawQuery("source=relay&page=2")
