// Benchmarks of the GitHub push → Slack transform (examples/github-push-to-slack)
// on a 9 KB push payload, three ways in one file so they run on the same
// machine in the same run:
//
//   - pooled: the engine (compiled once, pooled states, fresh environment);
//   - naive: a new lua.NewState() with every library and DoString per call,
//     the baseline the engine must beat by 5x;
//   - plain-go: the same transform in Go with encoding/json into
//     map[string]any, the baseline the engine must match.
//
// go test ./examples -run XXX -bench . -benchmem
package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

const pushFn = "github-push-to-slack/github-push-to-slack.lua"

func loadPush(tb testing.TB) (src, payload []byte) {
	tb.Helper()
	src, err := os.ReadFile(pushFn)
	if err != nil {
		tb.Fatal(err)
	}
	payload, err = os.ReadFile("../testdata/github/push.json")
	if err != nil {
		tb.Fatal(err)
	}
	return src, payload
}

func pushInput(payload []byte) *runtime.Input {
	return &runtime.Input{Request: runtime.Request{
		Method: "POST",
		Header: http.Header{"X-Github-Event": {"push"}, "Content-Type": {"application/json"}},
		Body:   payload,
	}}
}

func newEngine(tb testing.TB) *runtime.Engine {
	e, err := runtime.New(runtime.Options{Modules: builtins.PureModules()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	return e
}

// pooled runs the transform through the engine.
func pooled(tb testing.TB) func() string {
	src, payload := loadPush(tb)
	e := newEngine(tb)
	fn, err := e.Compile("github-push-to-slack.lua", src)
	if err != nil {
		tb.Fatal(err)
	}
	in := pushInput(payload)
	return func() string {
		res := e.Run(context.Background(), fn, in)
		if res.Err != nil {
			tb.Fatal(res.Err)
		}
		return res.Request.Body
	}
}

// naive runs the transform the way a first attempt would: a new state with
// every library, the json module preloaded, r and cfg as plain tables, and
// DoString compiling the source on every call.
func naive(tb testing.TB) func() string {
	src, payload := loadPush(tb)
	jsonMod := builtins.JSON()
	return func() string {
		L := lua.NewState()
		defer L.Close()
		L.PreloadModule("json", func(L *lua.LState) int {
			L.Push(jsonMod.Open(L))
			return 1
		})
		var out string
		r := L.NewTable()
		r.RawSetString("RequestBody", lua.LString(payload))
		hdr := L.NewTable()
		hdr.RawSetString("X-GitHub-Event", lua.LString("push"))
		r.RawSetString("RequestHeader", hdr)
		r.RawSetString("SetRequestBody", L.NewFunction(func(L *lua.LState) int { out = L.CheckString(2); return 0 }))
		r.RawSetString("SetRequestHeader", L.NewFunction(func(L *lua.LState) int { return 0 }))
		r.RawSetString("StopForwarding", L.NewFunction(func(L *lua.LState) int { return 0 }))
		L.SetGlobal("r", r)
		cfg := L.NewTable()
		cfg.RawSetString("GetValue", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("")); return 1 }))
		L.SetGlobal("cfg", cfg)
		logT := L.NewTable()
		logT.RawSetString("info", L.NewFunction(func(L *lua.LState) int { return 0 }))
		L.SetGlobal("log", logT)
		if err := L.DoString(string(src)); err != nil {
			tb.Fatal(err)
		}
		return out
	}
}

// plainGo is the same transform in Go with encoding/json.
func plainGo(tb testing.TB) func() string {
	_, payload := loadPush(tb)
	return func() string {
		out, err := pushToSlackGo(payload)
		if err != nil {
			tb.Fatal(err)
		}
		return string(out)
	}
}

func pushToSlackGo(payload []byte) ([]byte, error) {
	var push map[string]any
	if err := json.Unmarshal(payload, &push); err != nil {
		return nil, fmt.Errorf("invalid JSON body: %w", err)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	obj := func(m map[string]any, k string) map[string]any { o, _ := m[k].(map[string]any); return o }
	escape := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	link := func(url, label string) string { return "<" + url + "|" + escape(label) + ">" }
	firstLine := func(msg string) string {
		if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
			msg = msg[:i]
		}
		if len(msg) > 100 {
			msg = strings.ToValidUTF8(msg[:97], "") + "..."
		}
		return msg
	}
	repo := obj(push, "repository")
	repoName := str(repo, "full_name")
	repoURL := str(repo, "html_url")
	ref := str(push, "ref")
	refName := strings.TrimPrefix(ref, "refs/heads/")
	pusher := str(obj(push, "pusher"), "name")
	commits, _ := push["commits"].([]any)
	noun := "commits"
	if len(commits) == 1 {
		noun = "commit"
	}
	summary := escape(fmt.Sprintf("%s pushed %d %s to %s in %s", pusher, len(commits), noun, refName, repoName))
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": fmt.Sprintf("*%s*\n%s", link(repoURL, repoName), summary)}}}
	var lines []string
	for i, c := range commits {
		if i == 10 {
			lines = append(lines, fmt.Sprintf("... and %d more", len(commits)-10))
			break
		}
		cm, _ := c.(map[string]any)
		id := str(cm, "id")
		if len(id) > 7 {
			id = id[:7]
		}
		lines = append(lines, fmt.Sprintf("%s %s - %s", link(str(cm, "url"), id), escape(firstLine(str(cm, "message"))), escape(str(obj(cm, "author"), "name"))))
	}
	if len(lines) > 0 {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Join(lines, "\n")}})
	}
	if cmp := str(push, "compare"); cmp != "" {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": link(cmp, "Compare changes")}}})
	}
	return json.Marshal(map[string]any{"text": summary, "blocks": blocks, "unfurl_links": false})
}

// TestBaselinesAgree makes sure the three ways do the same work: their
// messages are the same JSON value.
func TestBaselinesAgree(t *testing.T) {
	var want any
	for i, run := range []func(testing.TB) func() string{pooled, naive, plainGo} {
		var got any
		if err := json.Unmarshal([]byte(run(t)()), &got); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want = got
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("baseline %d differs:\n got %v\nwant %v", i, got, want)
		}
	}
}

func BenchmarkGitHubPushToSlack(b *testing.B) {
	for _, bm := range []struct {
		name string
		run  func(testing.TB) func() string
	}{{"pooled", pooled}, {"naive", naive}, {"plain-go", plainGo}} {
		b.Run(bm.name, func(b *testing.B) {
			run := bm.run(b)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				run()
			}
		})
	}
}

// BenchmarkFirstInvocation is the cost of a function the engine has never
// seen: compile plus first run on a pooled state, for the largest example
// (144 lines) and a typical one (50 lines); and, as the relay has it (it
// compiles when a version is saved), the first run of a function loaded
// just before.
func BenchmarkFirstInvocation(b *testing.B) {
	_, payload := loadPush(b)
	for _, bm := range []struct {
		name, file  string
		compileTime bool
	}{
		{"compile+run/github-push-to-slack", pushFn, true},
		{"compile+run/github-signature", "github-signature/github-signature.lua", true},
		{"run-after-load/github-push-to-slack", pushFn, false},
	} {
		b.Run(bm.name, func(b *testing.B) {
			src, err := os.ReadFile(bm.file)
			if err != nil {
				b.Fatal(err)
			}
			e := newEngine(b)
			in := pushInput(payload)
			in.Config = map[string]string{"GITHUB_WEBHOOK_SECRET": "s3cr3t"}
			warm, _ := e.Compile("warm.lua", src)
			e.Run(context.Background(), warm, in)
			i := 0
			b.ResetTimer()
			for b.Loop() {
				i++
				fresh := fmt.Appendf(append([]byte{}, src...), "\n-- version %d\n", i)
				if !bm.compileTime {
					b.StopTimer()
				}
				fn, err := e.Compile("fn.lua", fresh)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if res := e.Run(context.Background(), fn, in); res.Err != nil {
					b.Fatal(res.Err)
				}
			}
		})
	}
}

// BenchmarkIdleFunctionMemory reports the heap an idle compiled function
// holds (B/function), measured over many distinct versions.
func BenchmarkIdleFunctionMemory(b *testing.B) {
	src, _ := loadPush(b)
	const n = 200
	for b.Loop() {
		e := newEngine(b)
		keep := make([]*runtime.Function, 0, n)
		var before, after goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&before)
		for i := 0; i < n; i++ {
			fn, err := e.Compile(fmt.Sprintf("fn%d.lua", i), fmt.Appendf(append([]byte{}, src...), "\n-- %d\n", i))
			if err != nil {
				b.Fatal(err)
			}
			keep = append(keep, fn)
		}
		goruntime.GC()
		goruntime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/function")
		goruntime.KeepAlive(keep)
	}
}

// BenchmarkGitHubPushToSlackInterleaved runs the three ways in turn within
// each iteration, so a machine whose load drifts during the run slows them
// alike, and reports each one's time per call and the ratios the targets
// are stated in (plain-go/pooled ≥ 1, naive/pooled ≥ 5).
func BenchmarkGitHubPushToSlackInterleaved(b *testing.B) {
	runs := []func() string{pooled(b), plainGo(b), naive(b)}
	var spent [3]time.Duration
	n := 0
	for b.Loop() {
		for i, run := range runs {
			start := time.Now()
			run()
			spent[i] += time.Since(start)
		}
		n++
	}
	per := func(i int) float64 { return float64(spent[i].Microseconds()) / float64(n) }
	b.ReportMetric(per(0), "pooled-us")
	b.ReportMetric(per(1), "plain-go-us")
	b.ReportMetric(per(2), "naive-us")
	b.ReportMetric(per(1)/per(0), "plain/pooled")
	b.ReportMetric(per(2)/per(0), "naive/pooled")
}
