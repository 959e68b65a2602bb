package main

import (
	"bytes"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Functions written as Webhook Relay's documentation writes them run
// unchanged through fnctl run: form fields from r.RequestFormData, and
// json used without require.
func TestRunWebhookRelaySnippets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	var form bytes.Buffer
	w := multipart.NewWriter(&form)
	w.WriteField("username", "john")
	w.WriteField("email", "john@example.com")
	w.Close()
	formFile := write("form.txt", form.String())
	fn := write("form.lua", `
local username = r.RequestFormData.username[1]
local email = r.RequestFormData.email[1]
r:SetRequestBody(json.encode({username = username, email = email}))
r:SetRequestHeader("Content-Type", "application/json")
`)
	out, errOut, code := fnctl(t, "", "run", fn, "-H", "Content-Type: "+w.FormDataContentType(), "--body-file", formFile)
	wantCode(t, code, 0, out, errOut)
	if !strings.Contains(out, `{"email":"john@example.com","username":"john"}`) {
		t.Errorf("form: output lacks the JSON body:\n%s", out)
	}

	fn = write("decode.lua", `
local api_response, err = json.decode(r.RequestBody)
if err then error(err) end
r:SetRequestBody(api_response.firstname .. " " .. api_response.lastname)
`)
	out, errOut, code = fnctl(t, "", "run", fn, "--body", `{"firstname":"luke","lastname":"skywalker"}`)
	wantCode(t, code, 0, out, errOut)
	if !strings.Contains(out, "luke skywalker") {
		t.Errorf("json without require: output:\n%s", out)
	}

	urlencoded := write("twilio.lua", `print(r.RequestFormData.From[1], #r.RequestFormData.MediaUrl)`)
	out, errOut, code = fnctl(t, "", "run", urlencoded, "-H", "Content-Type: application/x-www-form-urlencoded",
		"--body", "From=%2B15551234567&MediaUrl=a&MediaUrl=b")
	wantCode(t, code, 0, out, errOut)
	if !strings.Contains(out, "+15551234567\t2") {
		t.Errorf("urlencoded: output:\n%s", out)
	}
}
