-- email-on-failure: emails the people on call when a GitHub Actions run
-- fails. On a "workflow_run" event whose action is "completed" and whose
-- conclusion is "failure", it sends one plain-text email to ALERT_TO naming
-- the repository, the workflow, the branch, the commit and who triggered the
-- run, with a link to the run's page. Runs that succeed (or are cancelled,
-- skipped, ...), runs still queued or in progress, and other events send
-- nothing. The function is the delivery: nothing is forwarded.
--
-- Email goes through the relay's SMTP server (server.modules.smtp in
-- relay.yaml); the email module exists only where one is configured. A
-- failed send is an error, so the delivery is recorded as failed.
--
-- Config variables: ALERT_TO (required; an address or a comma-separated
-- list), ALERT_FROM (optional; when empty the relay's configured sender is
-- used, and a relay with a configured sender only lets functions send as
-- that address).

local json = require("json")
local email = require("email")

r:StopForwarding()

local to = cfg:GetValue("ALERT_TO")
if to == "" then
  error("ALERT_TO is not set")
end

local event = r.RequestHeader["X-GitHub-Event"] or ""
if event ~= "workflow_run" then
  log.info("ignoring GitHub event " .. (event ~= "" and event or "(none)"))
  return
end

local payload, err = json.decode(r.RequestBody)
if err then
  error("invalid JSON body: " .. err)
end
local run = type(payload) == "table" and payload.workflow_run
if type(run) ~= "table" then
  error("invalid workflow_run event: no workflow_run object")
end

if payload.action ~= "completed" then
  log.info("run " .. tostring(run.id) .. " is " .. tostring(payload.action) .. ": nothing to report")
  return
end
if run.conclusion ~= "failure" then
  log.info("run " .. tostring(run.id) .. " ended with " .. tostring(run.conclusion) .. ": no email")
  return
end

local repo = (payload.repository and payload.repository.full_name) or "a repository"
local workflow = run.name or (payload.workflow and payload.workflow.name) or "a workflow"
local branch = run.head_branch or "?"
local sha = type(run.head_sha) == "string" and run.head_sha:sub(1, 7) or "?"
local commit = run.display_title
if (commit == nil or commit == "") and type(run.head_commit) == "table" and type(run.head_commit.message) == "string" then
  commit = run.head_commit.message:match("^[^\n]*")
end
local actor = (run.triggering_actor and run.triggering_actor.login) or (run.actor and run.actor.login) or "someone"

local subject = string.format("[%s] %s failed on %s (run #%s)", repo, workflow, branch, tostring(run.run_number or "?"))
local lines = {
  string.format("The %s workflow of %s failed.", workflow, repo),
  "",
  "Branch:   " .. branch,
  "Commit:   " .. sha .. " " .. tostring(commit or ""),
  "Event:    " .. tostring(run.event or "?"),
  "Actor:    " .. actor,
  "Attempt:  " .. tostring(run.run_attempt or 1),
  "Finished: " .. tostring(run.updated_at or "?"),
  "",
  "Logs: " .. tostring(run.html_url or "(no link)"),
}

err = email.send({
  from = cfg:GetValue("ALERT_FROM"),
  to = to,
  subject = subject,
  text = table.concat(lines, "\n") .. "\n",
})
if err then
  error(err)
end
log.info("emailed " .. to .. " about run " .. tostring(run.id))
