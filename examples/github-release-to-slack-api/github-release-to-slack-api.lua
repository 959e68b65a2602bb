-- github-release-to-slack-api: announces a published GitHub release in Slack
-- by calling Slack's Web API (chat.postMessage with a bot token) itself,
-- rather than forwarding the webhook anywhere: the function is the delivery.
-- A "release" event whose action is "published" becomes a message naming who
-- published which release (linked to its page) in which repository, marked
-- as a pre-release when it is one. Other events and actions (created, edited,
-- deleted, ...) are logged and dropped. A failed call, or an answer from
-- Slack that is not {"ok": true}, is an error, so the delivery is recorded as
-- failed. Config variables: SLACK_BOT_TOKEN (required; the bot's "xoxb-..."
-- token, with the chat:write scope) and SLACK_CHANNEL (required; the channel
-- name or id to post to).

local json = require("json")
local http = require("http")

local SLACK_POST_MESSAGE = "https://slack.com/api/chat.postMessage"

-- Nothing is forwarded: either the message is posted here or the event is dropped.
r:StopForwarding()

local function required_config(key)
  local value = cfg:GetValue(key)
  if value == "" then
    error(key .. " is not set")
  end
  return value
end

local token = required_config("SLACK_BOT_TOKEN")
local channel = required_config("SLACK_CHANNEL")

local event = r.RequestHeader["X-GitHub-Event"] or ""
if event ~= "release" then
  log.info("ignoring GitHub event " .. (event ~= "" and event or "(none)"))
  return
end

local payload, err = json.decode(r.RequestBody)
if err then
  error("invalid JSON body: " .. err)
end
if type(payload) ~= "table" or type(payload.release) ~= "table" then
  error("invalid release event: no release object")
end

if payload.action ~= "published" then
  log.info("ignoring release action " .. tostring(payload.action))
  return
end

-- Slack's mrkdwn treats &, < and > as markup.
local function escape(s)
  return (tostring(s or ""):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

local release = payload.release
local repo_name = (payload.repository and payload.repository.full_name) or "a repository"
local who = (payload.sender and payload.sender.login) or "someone"
local title = release.name
if title == nil or title == "" then
  title = release.tag_name or "a release"
end
local label = escape(title)
if release.html_url then
  label = "<" .. release.html_url .. "|" .. label .. ">"
end

local text = string.format("%s published %s in %s", escape(who), label, escape(repo_name))
if release.prerelease then
  text = text .. " (pre-release)"
end

local body, encode_err = json.encode({ channel = channel, text = text, unfurl_links = false })
if encode_err then
  error("cannot encode Slack message: " .. encode_err)
end

local resp, http_err = http.post(SLACK_POST_MESSAGE, {
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json; charset=utf-8",
  },
  body = body,
  timeout = "5s",
})
if http_err then
  error("Slack API request failed: " .. http_err)
end
if resp.status_code ~= 200 then
  error(string.format("Slack API answered HTTP %d", resp.status_code))
end

-- Slack answers 200 even when it refuses; the verdict is in "ok" and "error".
local answer, answer_err = json.decode(resp.body)
if answer_err then
  error("Slack API answered with invalid JSON: " .. answer_err)
end
if type(answer) ~= "table" or answer.ok ~= true then
  error("Slack API error: " .. tostring(type(answer) == "table" and answer.error or answer))
end

log.info(string.format("posted %s to Slack (channel %s, ts %s)",
  release.tag_name or title, tostring(answer.channel), tostring(answer.ts)))
