-- calls.lua makes the side-effecting calls a sandbox records.
local http = require("http")
local resp, err = http.get("https://api.example.com/users/1")
if err then error(err) end
print("status " .. resp.status_code)
r:SetRequestBody(resp.body)

local bigquery = require("bigquery")
bigquery.insert("events", {id = "42", kind = "push", n = 3})

local email = require("email")
email.send({from = "relay@example.com", to = "ops@example.com", subject = "build failed", text = "see the logs"})
