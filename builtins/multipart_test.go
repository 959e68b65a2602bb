package builtins_test

import (
	"strings"
	"testing"
)

// multipartDump prints a decoded form: fields in name order, then files.
const multipartDump = `
local function dump(form)
  local names = {}
  for k in pairs(form.fields) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = form.fields[k]
    if type(v) == "table" then v = "[" .. table.concat(v, ",") .. "]" end
    print("field", k, v)
  end
  for i, f in ipairs(form.files) do
    print("file", i, f.field, f.filename, f.content_type, (f.content:gsub("\r\n", "<CRLF>")))
  end
end
`

func TestMultipartDecode(t *testing.T) {
	body := codecTestdata(t, true, "multipart", "upload.txt")
	src := multipartDump + `
local form, err = multipart.decode(r.RequestBody, "multipart/form-data; boundary=------------------------d74496d66958873e")
if err then error(err) end
dump(form)
`
	res := codecRun(t, src, body)
	want := []string{
		"field\tnote\tAčiū, café",
		"field\ttag\t[a,b]",
		"field\ttitle\tInvoice 42",
		"file\t1\tdocument\tinvoice.txt\ttext/plain\tline one<CRLF>line two",
		"file\t2\tavatar\tme \"small\".png\timage/png\tPNG-DATA",
		"file\t3\tnotes\tnotes.md\ttext/plain\t# Notes",
	}
	if strings.Join(res.Logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(res.Logs, "\n"), strings.Join(want, "\n"))
	}
}

// multipartForm is the form encode.golden holds.
const multipartForm = `
local form = {
  fields = {title = "Invoice 42", tag = {"a", "b"}, note = "Ačiū"},
  files = {
    {field = "document", filename = "invoice.txt", content_type = "text/plain", content = "line one\r\nline two"},
    {field = "blob", filename = 'say "hi".bin', content = "raw bytes"},
  },
}
`

func TestMultipartEncodeGolden(t *testing.T) {
	src := multipartForm + `
form.boundary = "relayfn-test-boundary"
local body, ct = multipart.encode(form)
if not body then error(ct) end
print(ct)
r:SetRequestBody(body)
`
	res := codecRun(t, src, "")
	if want := "multipart/form-data; boundary=relayfn-test-boundary"; len(res.Logs) != 1 || res.Logs[0] != want {
		t.Errorf("content type %q, want %q", res.Logs, want)
	}
	want := codecTestdata(t, true, "multipart", "encode.golden")
	if res.Request.Body != want {
		t.Errorf("body:\n%q\nwant:\n%q", res.Request.Body, want)
	}
}

func TestMultipartRoundTrip(t *testing.T) {
	src := multipartDump + multipartForm + `
local body, ct = multipart.encode(form)
if not body then error(ct) end
-- the default boundary comes from the content: same form, same bytes
local body2, ct2 = multipart.encode(form)
print(body == body2, ct == ct2, ct:match("^multipart/form%-data; boundary=relayfn%-%x+$") ~= nil)
form.fields.title = "Invoice 43"
local body3, ct3 = multipart.encode(form)
print(ct3 ~= ct)
dump(assert(multipart.decode(body, ct)))
-- fields only, and files only
print(multipart.decode(multipart.encode({fields = {a = 1}})).fields.a)
print(#multipart.decode(multipart.encode({files = {{field = "f", content = "x"}}})).files)
local empty = assert(multipart.decode(multipart.encode({})))
print(next(empty.fields), #empty.files)
`
	codecExpect(t, src,
		"true\ttrue\ttrue",
		"true",
		"field\tnote\tAčiū",
		"field\ttag\t[a,b]",
		"field\ttitle\tInvoice 42",
		"file\t1\tdocument\tinvoice.txt\ttext/plain\tline one<CRLF>line two",
		"file\t2\tblob\tsay \"hi\".bin\tapplication/octet-stream\traw bytes",
		"1",
		"1",
		"nil\t0",
	)
}

func TestMultipartErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`print(multipart.decode("x", "application/json"))`, `nil	multipart.decode: content type "application/json" is not multipart`},
		{`print(multipart.decode("x", "multipart/form-data"))`, `nil	multipart.decode: content type "multipart/form-data" has no boundary parameter`},
		{`print(multipart.decode("x", ""))`, "nil\tmultipart.decode: content type is empty: pass the request's Content-Type header, which carries the boundary"},
		{`print(multipart.decode("x", "multipart/form-data; boundary"))`, `nil	multipart.decode: content type "multipart/form-data; boundary": mime: invalid media parameter`},
		{`print(multipart.decode("x", nil))`, "nil\tmultipart.decode: argument #2 (content_type) must be a string, got nil"},
		{`print(multipart.decode(nil, "multipart/form-data; boundary=b"))`, "nil\tmultipart.decode: argument #1 (body) must be a string, got nil"},
		{`print(multipart.decode("no parts here", "multipart/form-data; boundary=b"))`, "nil\tmultipart.decode: part 1: multipart: NextPart: EOF"},
		{`print(multipart.decode("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated", "multipart/form-data; boundary=b"))`, "nil\tmultipart.decode: part 1: unexpected EOF"},
		{`
local parts = {}
for i = 1, 1001 do parts[i] = "--b\r\nContent-Disposition: form-data; name=\"f" .. i .. "\"\r\n\r\nv\r\n" end
print(multipart.decode(table.concat(parts) .. "--b--\r\n", "multipart/form-data; boundary=b"))`, "nil\tmultipart.decode: more than 1000 parts"},
		{`print(multipart.encode(nil))`, "nil\tmultipart.encode: argument #1 (form) must be a table, got nil"},
		{`print(multipart.encode({fields = "a=1"}))`, "nil\tmultipart.encode: fields must be a table, got string"},
		{`print(multipart.encode({fields = {a = print}}))`, `nil	multipart.encode: fields: value of "a" is a function, not a string`},
		{`print(multipart.encode({fields = {["a\r\nX-Evil: 1"] = "v"}}))`, `nil	multipart.encode: field name "a\r\nX-Evil: 1" contains a line break`},
		{`print(multipart.encode({files = "f"}))`, "nil\tmultipart.encode: files must be an array, got string"},
		{`print(multipart.encode({files = {x = {}}}))`, "nil\tmultipart.encode: files must be an array of tables"},
		{`print(multipart.encode({files = {"f"}}))`, "nil\tmultipart.encode: files[1] is a string, not a table"},
		{`print(multipart.encode({files = {{content = "x"}}}))`, "nil\tmultipart.encode: files[1].field is missing"},
		{`print(multipart.encode({files = {{field = "f", content = {}}}}))`, "nil\tmultipart.encode: files[1].content is a table, not a string"},
		{`print(multipart.encode({files = {{field = "f", filename = "a\nb"}}}))`, `nil	multipart.encode: files[1].filename "a\nb" contains a line break`},
		{`print(multipart.encode({files = {{field = "f", content_type = "text/plain\r\nX: y"}}}))`, `nil	multipart.encode: files[1].content_type "text/plain\r\nX: y" contains a line break`},
		{`print(multipart.encode({boundary = "a@b"}))`, `nil	multipart.encode: boundary "a@b": mime: invalid boundary character`},
		{`print(multipart.encode({boundary = 5}))`, "nil\tmultipart.encode: boundary must be a string, got number"},
		{`print(multipart.encode({boundary = "xyz", fields = {a = "1xyz2"}}))`, `nil	multipart.encode: field "a" contains the boundary`},
		{`print(multipart.encode({boundary = "xyz", files = {{field = "f", content = "--xyz"}}}))`, "nil\tmultipart.encode: files[1] contains the boundary"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}
