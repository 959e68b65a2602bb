-- enrich-from-api: adds the GitHub profile of whoever pushed to a push event
-- before it is forwarded. On a "push" event the function looks the sender up
-- with GitHub's REST API (GET https://api.github.com/users/{login}, with the
-- token of GITHUB_TOKEN) and adds two top-level fields to the forwarded JSON
-- body: "sender_name" (the profile's name, or the login when the
-- profile has none) and "sender_company" (the profile's company, or null).
-- The rest of the body is forwarded byte for byte.
--
-- When GitHub answers 404 (the account was deleted, or the sender is an app
-- without a user profile) the event is forwarded as it came, and the reason
-- is logged. Any other answer (401 for a bad token, 403 when rate-limited,
-- 5xx) or a failed call is an error: the event is not forwarded, and the
-- delivery is recorded as failed with GitHub's status, so it can be
-- replayed. Other events pass through untouched and make no call.
--
-- Config variables: GITHUB_TOKEN (required; a fine-grained token with no
-- permissions reads public profiles, at 5,000 requests an hour).

local json = require("json")
local http = require("http")

local token = cfg:GetValue("GITHUB_TOKEN")
if token == "" then
  error("GITHUB_TOKEN is not set")
end

local event = r.RequestHeader["X-GitHub-Event"] or ""
if event ~= "push" then
  log.info("not a push (" .. (event ~= "" and event or "no event header") .. "): forwarded as is")
  return
end

local payload, err = json.decode(r.RequestBody)
if err then
  error("invalid JSON body: " .. err)
end
local login = type(payload) == "table" and type(payload.sender) == "table" and payload.sender.login
if type(login) ~= "string" or login == "" then
  error("push event without sender.login")
end

-- Logins are letters, digits and dashes, but apps push as "name[bot]".
local escaped = login:gsub("[^%w%-_.~]", function(c)
  return string.format("%%%02X", c:byte())
end)

local resp, http_err = http.get("https://api.github.com/users/" .. escaped, {
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Accept"] = "application/vnd.github+json",
    ["X-GitHub-Api-Version"] = "2022-11-28",
  },
  timeout = "5s",
})
if http_err then
  error("GitHub API request failed: " .. http_err)
end
if resp.status_code == 404 then
  log.warn("GitHub user " .. login .. " not found: forwarded without enrichment")
  return
end
if resp.status_code ~= 200 then
  error(string.format("GitHub API answered HTTP %d for user %s", resp.status_code, login))
end

local user, user_err = json.decode(resp.body)
if user_err or type(user) ~= "table" then
  error("GitHub API answered with invalid JSON: " .. tostring(user_err))
end

local name = user.name
if type(name) ~= "string" or name == "" then
  name = login
end
local company = user.company
if type(company) ~= "string" or company == "" then
  company = nil -- encoded as null
end

local body, set_err = json.set(r.RequestBody, "sender_name", name)
if set_err then
  error("cannot add sender_name: " .. set_err)
end
body, set_err = json.set(body, "sender_company", company)
if set_err then
  error("cannot add sender_company: " .. set_err)
end
r:SetRequestBody(body)
log.info("enriched push by " .. login)
