package runtime_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// curlForm is the body `curl -F username=john -F password=secret -F
// tags=a -F tags=b -F file=@note.txt` sends, with its Content-Type.
func curlForm(t *testing.T) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, kv := range [][2]string{{"username", "john"}, {"password", "secret"}, {"tags", "a"}, {"tags", "b"}} {
		if err := w.WriteField(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	f, err := w.CreateFormFile("file", "note.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("file content"))
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

func formInput(body []byte, contentType string) *runtime.Input {
	return &runtime.Input{Request: runtime.Request{
		Method: "POST",
		Header: http.Header{"Content-Type": {contentType}},
		Body:   body,
	}}
}

// TestRequestFormDataWebhookRelayExample runs Webhook Relay's documented
// multipart example: form fields read as r.RequestFormData.name[1].
func TestRequestFormDataWebhookRelayExample(t *testing.T) {
	e := newEngine(t, runtime.Options{Modules: []runtime.Module{builtins.JSON()}})
	body, ct := curlForm(t)
	res := run(t, e, `
local json = require("json")
local username = r.RequestFormData.username[1]
local password = r.RequestFormData.password[1]
r:SetRequestBody(json.encode({username = username, has_password = password ~= nil}))
r:SetRequestHeader("Content-Type", "application/json")
`, formInput(body, ct))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	eq(t, res.Request.Body, `{"has_password":true,"username":"john"}`)
}

func TestRequestFormData(t *testing.T) {
	e := newEngine(t, runtime.Options{})
	dump := `
local names = {}
for name in pairs(r.RequestFormData) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do print(name .. "=" .. table.concat(r.RequestFormData[name], ",")) end
print("#" .. #names)
`
	body, ct := curlForm(t)
	upload, err := os.ReadFile("../testdata/multipart/upload.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ct, body string
		want           []string
	}{
		{"multipart fields, files left out", ct, string(body), []string{"password=secret", "tags=a,b", "username=john", "#3"}},
		{"multipart with CRLF in a value", "multipart/form-data; boundary=----relayfnFormBoundary7MA4YWxkTrZu0gW", string(upload),
			[]string{"description=Numbers for Q2.\r\nReviewed by finance.", "title=Quarterly report", "#2"}},
		{"urlencoded", "application/x-www-form-urlencoded", "To=%2B15551234567&Body=hi+there&Media=1&Media=2&bad=%zz&&",
			[]string{"Body=hi there", "Media=1,2", "To=+15551234567", "#3"}},
		{"urlencoded with charset", "application/x-www-form-urlencoded; charset=utf-8", "a=1", []string{"a=1", "#1"}},
		{"JSON body", "application/json", `{"username":"john"}`, []string{"#0"}},
		{"no content type", "", "username=john", []string{"#0"}},
		{"multipart without boundary", "multipart/form-data", string(body), []string{"#0"}},
		{"truncated multipart keeps what parsed", ct, string(body[:bytes.Index(body, []byte("name=\"password\""))+30]), []string{"username=john", "#1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, e, dump, formInput([]byte(tc.body), tc.ct))
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if strings.Join(res.Logs, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("logs = %q, want %q", res.Logs, tc.want)
			}
		})
	}

	// It follows the request as rewritten so far.
	res := run(t, e, `
print(#(r.RequestFormData.a or {}))
r:SetRequestHeader("Content-Type", "application/x-www-form-urlencoded")
print(r.RequestFormData.a[1])
r:SetRequestBody("a=2")
print(r.RequestFormData.a[1])
`, formInput([]byte("a=1"), "text/plain"))
	if res.Err != nil || strings.Join(res.Logs, " ") != "0 1 2" {
		t.Fatalf("rewritten: %v %q", res.Err, res.Logs)
	}
}
