-- passthrough.lua only logs: the request is forwarded unchanged.
print("method " .. r.RequestMethod)
print("body " .. r.RequestBody)
