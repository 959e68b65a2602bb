-- github-push-to-slack: turns a GitHub "push" webhook into a Slack
-- incoming-webhook message. The message has a plain `text` (what notifications
-- and old clients show) and Block Kit `blocks`: a header line with the
-- repository, the branch or tag and who pushed, one line per commit (short id
-- linked to the commit, first line of its message, author), and a link to the
-- compare view. Branch and tag deletions are reported as such. Any other GitHub
-- event (ping, issues, pull_request, ...) is logged and not forwarded.
-- Config variables: SLACK_CHANNEL (optional; post to this channel instead of
-- the incoming webhook's default) and MAX_COMMITS (optional, default 10; how
-- many commits to list before summarising the rest as "... and N more").

local json = require("json")

local event = r.RequestHeader["X-GitHub-Event"] or ""
if event ~= "push" then
  if event == "" then
    log.info("ignoring a request without an X-GitHub-Event header")
  else
    log.info("ignoring GitHub event " .. event)
  end
  r:StopForwarding()
  return
end

local push, err = json.decode(r.RequestBody)
if err then
  error("invalid JSON body: " .. err)
end
if type(push) ~= "table" then
  error("invalid push payload: expected a JSON object")
end

local max_commits = tonumber(cfg:GetValue("MAX_COMMITS")) or 10

-- Slack's mrkdwn treats &, < and > as markup; user text must have them escaped.
local function escape(s)
  return (tostring(s or ""):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

-- A Slack link: <url|label>.
local function link(url, label)
  return "<" .. url .. "|" .. escape(label) .. ">"
end

-- The first line of a commit message, cut to a length Slack shows on one line
-- (without leaving half of a UTF-8 character at the cut).
local function first_line(message)
  local line = (message or ""):match("^[^\r\n]*")
  if #line > 100 then
    line = line:sub(1, 97):gsub("[\192-\255][\128-\191]*$", "") .. "..."
  end
  return line
end

local function plural(n, word)
  if n == 1 then
    return "1 " .. word
  end
  return n .. " " .. word .. "s"
end

-- "refs/heads/main" -> "branch", "main"; "refs/tags/v1.0" -> "tag", "v1.0".
local function describe_ref(ref)
  local name = ref:match("^refs/heads/(.+)$")
  if name then
    return "branch", name
  end
  name = ref:match("^refs/tags/(.+)$")
  if name then
    return "tag", name
  end
  return "ref", ref
end

local repo = push.repository or {}
local repo_name = repo.full_name or repo.name or "unknown repository"
local repo_url = repo.html_url or ("https://github.com/" .. repo_name)
local ref_kind, ref_name = describe_ref(push.ref or "")
local pusher = (push.pusher and push.pusher.name)
  or (push.sender and push.sender.login)
  or "someone"
local commits = push.commits or {}

-- The one-line summary: "mona pushed 3 commits to main in mona/demo".
local summary
if push.deleted then
  summary = string.format("%s deleted %s %s in %s", pusher, ref_kind, ref_name, repo_name)
elseif #commits == 0 then
  summary = string.format("%s pushed %s %s in %s", pusher, ref_kind, ref_name, repo_name)
else
  summary = string.format("%s pushed %s to %s in %s",
    pusher, plural(#commits, "commit"), ref_name, repo_name)
end

-- Slack reads the top-level text as mrkdwn too, so it is escaped like the rest.
summary = escape(summary)

local header = string.format("*%s*\n%s", link(repo_url, repo_name), summary)
local blocks = {
  { type = "section", text = { type = "mrkdwn", text = header } },
}

if #commits > 0 then
  local lines = {}
  for i, commit in ipairs(commits) do
    if i > max_commits then
      table.insert(lines, string.format("... and %d more", #commits - max_commits))
      break
    end
    local short_id = (commit.id or ""):sub(1, 7)
    if commit.url then
      short_id = link(commit.url, short_id)
    end
    local author = commit.author and (commit.author.name or commit.author.username) or "unknown"
    table.insert(lines, string.format("%s %s - %s",
      short_id, escape(first_line(commit.message)), escape(author)))
  end
  table.insert(blocks, { type = "section", text = { type = "mrkdwn", text = table.concat(lines, "\n") } })
end

if push.compare and not push.deleted then
  table.insert(blocks, {
    type = "context",
    elements = { { type = "mrkdwn", text = link(push.compare, "Compare changes") } },
  })
end

local message = {
  text = summary,
  blocks = blocks,
  unfurl_links = false,
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
