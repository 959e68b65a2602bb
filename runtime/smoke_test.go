package runtime

import (
	"context"
	"net/http"
	"testing"
)

func TestSmoke(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	fn, err := e.Compile("fn.lua", []byte(`
print("hi", r.RequestHeader["x-github-event"], r.RequestMethod)
local s = string.upper("x") .. ("y"):upper()
r:SetRequestBody(s .. r.RequestBody)
r:SetRequestHeader("X-A", "1")
string.upper = nil
x = 1
`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		res := e.Run(context.Background(), fn, &Input{Request: Request{Method: "POST", Header: http.Header{"X-Github-Event": {"push"}}, Body: []byte("!")}})
		t.Logf("%+v", res)
	}
}
