r:SetRequestBody("other")
