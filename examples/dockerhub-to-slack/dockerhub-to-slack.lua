-- dockerhub-to-slack: announces a Docker Hub image push in Slack. Docker Hub's
-- repository webhook sends JSON with "push_data" (pusher, tag, pushed_at as
-- Unix seconds) and "repository" (repo_name, repo_url, ...); this function
-- turns it into a Slack incoming-webhook message with a plain `text` and a
-- block holding the image name linked to the repository, who pushed it and
-- when (UTC). A payload without push_data or repository is an error. Config
-- variables: SLACK_CHANNEL (optional; post to this channel instead of the
-- incoming webhook's default) and TAG_PATTERN (optional; a Lua pattern such as
-- "^v%d" -- pushes whose tag does not match it are logged and not forwarded).

local json = require("json")
local time = require("time")

local payload, err = json.decode(r.RequestBody)
if err then
  error("invalid JSON body: " .. err)
end
if type(payload) ~= "table" or type(payload.push_data) ~= "table" or type(payload.repository) ~= "table" then
  error("not a Docker Hub push: push_data and repository are required")
end

local push = payload.push_data
local repo = payload.repository
local tag = push.tag or "latest"
local image = (repo.repo_name or "unknown") .. ":" .. tag

local tag_pattern = cfg:GetValue("TAG_PATTERN")
if tag_pattern ~= "" and not tag:find(tag_pattern) then
  log.info("ignoring push of " .. image .. ": tag does not match " .. tag_pattern)
  r:StopForwarding()
  return
end

-- Slack's mrkdwn treats &, < and > as markup.
local function escape(s)
  return (tostring(s or ""):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

local pusher = push.pusher or "someone"
local when = ""
if type(push.pushed_at) == "number" then
  when = " at " .. time.format(push.pushed_at, "2006-01-02 15:04 MST")
end

local image_md = escape(image)
if repo.repo_url then
  image_md = "<" .. repo.repo_url .. "|" .. image_md .. ">"
end

local message = {
  text = escape(string.format("%s pushed %s", pusher, image)),
  blocks = {
    {
      type = "section",
      text = {
        type = "mrkdwn",
        text = string.format(":whale: *%s* pushed %s%s", escape(pusher), image_md, when),
      },
    },
  },
}
local channel = cfg:GetValue("SLACK_CHANNEL")
if channel ~= "" then
  message.channel = channel
end

local body, encode_err = json.encode(message)
if encode_err then
  error("cannot encode Slack message: " .. encode_err)
end
r:SetRequestBody(body)
r:SetRequestHeader("Content-Type", "application/json")
