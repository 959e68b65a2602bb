// Package spec is the spec format and runner behind `fnctl test`.
//
// A spec is a YAML file that names a Lua function and lists tests: a
// request to run the function with and what to expect of the result.
// Webhook Relay's `relay function test` specs work unchanged; relayfn adds
// a few keys (marked ext below).
//
//	version: v1
//	filename: github_to_slack.lua     # relative to the spec
//	driver: lua                       # lua (the default); nothing else runs here
//	config: {SLACK_CHANNEL: "#ci"}    # ext: configuration variables (cfg:GetValue)
//	tests:
//	  - name: push to main becomes a Slack message
//	    request:
//	      method: POST                # POST when left out
//	      header: {X-GitHub-Event: push}
//	      body: '{"ref":"refs/heads/main"}'
//	      body_file: push.json        # ext: relative to the spec; not with body
//	      path: /hooks                # ext
//	      query: "a=1"                # ext
//	      metadata: {bucket_name: ci} # ext
//	    http:                         # ext: answers for the function's HTTP calls
//	      - match: {method: GET, url: "https://api.example.com/users/1",
//	                headers: {Authorization: "Bearer t"}}   # headers: ext, optional
//	        respond: {status: 200, headers: {Content-Type: application/json}, body: '{}'}
//	    bigquery:                     # ext: rows record_exists finds
//	      - {table: payments, row: {id: "pi_1"}}
//	    expect:
//	      error: false                # ext; or errorContains: "…"
//	      stopForwarding: false       # ext
//	      request:
//	        modified: true
//	        bodyModified: true
//	        bodyContains: "refs/heads/main"
//	        bodyEquals: "…"
//	        headerModified: true
//	        headerEquals: {Content-Type: application/json}
//	        methodModified: false
//	        methodEquals: POST
//	        pathModified: false       # ext
//	        pathEquals: /hooks
//	        pathContains: hook
//	        queryModified: false      # ext
//	        queryEquals: "a=1"        # ext
//	        queryContains: "a=1"
//	        json: {"text": "pushed"}  # ext: gjson path → expected JSON value
//	      response:
//	        modified: true            # ext
//	        statusEquals: 200
//	        bodyContains: ok
//	        bodyEquals: ok
//	        headerEquals: {X-Handled: "yes"}  # ext
//	      logsContain: ["received push"]     # ext
//	      http: [{method: GET, url: "https://api.example.com/users/1"}]  # ext
//	      bigquery: [{table: events, row: {id: "42"}}]                  # ext
//	      emails: [{to: "ops@example.com", subjectContains: "failed"}]  # ext
//
// [Load] decodes strictly: an unknown key is an error (with a suggestion
// when only its spelling differs from a known one), and every error names
// the file, the field path and the line.
//
// # Semantics
//
// Assertions left out are not checked. A function error fails a test unless
// the test expects one (error: true, or errorContains); error: false asserts
// that the function ran to the end. When the function fails unexpectedly
// that is the only failure reported for the test; when an error is expected
// the other assertions are checked as well.
//
// Header names compare case-insensitively; a header's values compare as
// they would appear on one line (joined by ", "), and an expected empty
// value asserts that the header is absent or empty. Methods compare
// case-insensitively, everything else exactly. logsContain entries are
// substrings of the invocation's log. json assertions look the path up in
// the forwarded request body with gjson (https://github.com/tidwall/gjson)
// and compare JSON values: 1 equals 1.0, a YAML true equals a JSON true,
// objects and arrays compare deeply, and a path that does not exist fails.
//
// expect.http lists the HTTP calls the function made, in order and all of
// them (an empty list asserts none); each entry's method and url are
// compared, and bodyContains when given. expect.bigquery lists the inserted
// rows in order: the table must be equal and every key given in row must
// hold an equal JSON value (other columns are not checked). expect.emails
// lists the emails sent, in order, each compared on the fields given.
//
// # Side effects
//
// An http entry answers the calls whose method and URL match and, when
// match.headers is given, that carry those header values. A test's bigquery
// rows are what bigquery.record_exists finds, besides the rows the test
// itself inserted.
//
// The http answers and the http, bigquery and emails expectations need
// modules that record calls instead of making them. [Options.Sandbox]
// provides them for each test, with the [Calls] they record into. Without a
// sandbox, a test that uses any of these keys fails with a "not supported
// by this build" reason and its function is not run.
package spec
