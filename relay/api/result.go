package api

import (
	"fmt"
	"net/http"
	"strings"
)

// Result is what one run of a function did: the answer of the invoke
// endpoint, and what `fnctl run -o json` prints.
type Result struct {
	Request        RequestResult  `json:"request"`
	Response       ResponseResult `json:"response"`
	StopForwarding bool           `json:"stop_forwarding"`
	// Error is the function's error text ("" when it ran to the end). A
	// failed function's request is not forwarded.
	Error      string   `json:"error"`
	Logs       []string `json:"logs"`
	DurationMS float64  `json:"duration_ms"`
}

// RequestResult is the request as the function left it, with what changed.
type RequestResult struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	RawQuery string      `json:"raw_query"`
	Headers  http.Header `json:"headers"`
	// Body is the body to forward.
	Body             string `json:"body"`
	Modified         bool   `json:"modified"`
	BodyModified     bool   `json:"body_modified"`
	MethodModified   bool   `json:"method_modified"`
	PathModified     bool   `json:"path_modified"`
	RawQueryModified bool   `json:"raw_query_modified"`
	HeaderModified   bool   `json:"header_modified"`
}

// ResponseResult is the answer an input function set for the caller.
type ResponseResult struct {
	Modified bool        `json:"modified"`
	Status   int         `json:"status"`
	Headers  http.Header `json:"headers"`
	Body     string      `json:"body"`
}

// Report is what applying a relay.yaml did (POST /v1/admin/apply, fnctl
// apply), or on a dry run what it would do.
type Report struct {
	// DryRun is set on a dry run's report: nothing was written.
	DryRun  bool     `json:"dry_run,omitempty"`
	Changes []Change `json:"changes"`
	// Warnings are things that work but are likely not what was meant.
	Warnings []string `json:"warnings,omitempty"`
}

// Change is what happened to one object.
type Change struct {
	// Kind is function, config, bucket, input or output.
	Kind string `json:"kind"`
	// Name names the object: "github-to-slack" for a function or a bucket,
	// "ci/github" for an input or output of bucket ci, and
	// "github-to-slack/SLACK_CHANNEL" for a configuration variable.
	Name string `json:"name"`
	// ID is the object's ID (empty for a configuration variable, and for
	// an object a dry run would create).
	ID string `json:"id,omitempty"`
	// Action is created, updated, deleted or unchanged.
	Action string `json:"action"`
	// Fields lists what an update changed ("source", "timeout", …).
	Fields []string `json:"fields,omitempty"`
	// Version is a function's current version.
	Version int `json:"version,omitempty"`
}

// Actions a Change reports.
const (
	Created   = "created"
	Updated   = "updated"
	Deleted   = "deleted"
	Unchanged = "unchanged"
)

// Kinds of objects a Change reports on.
const (
	KindFunction = "function"
	KindConfig   = "config"
	KindBucket   = "bucket"
	KindInput    = "input"
	KindOutput   = "output"
)

// String returns the change as a line of text, such as
// "updated output ci/slack (destination, timeout)".
func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", c.Action, c.Kind, c.Name)
	if c.Version > 0 {
		fmt.Fprintf(&b, " v%d", c.Version)
	}
	if len(c.Fields) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(c.Fields, ", "))
	}
	return b.String()
}

// Changed reports whether anything was (or, for a dry run, would be)
// created, updated or deleted.
func (r *Report) Changed() bool {
	for _, c := range r.Changes {
		if c.Action != Unchanged {
			return true
		}
	}
	return false
}

// Count returns how many changes have the given action.
func (r *Report) Count(action string) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == action {
			n++
		}
	}
	return n
}
