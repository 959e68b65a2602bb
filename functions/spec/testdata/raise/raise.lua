local t = nil
print("before")
r:SetRequestBody(t.missing)
