package builtins

import (
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// luaFunc annotates one Lua-callable function for lua-language-server.
// Params are "name type" ("name? type" when optional); returns are
// "type name".
type luaFunc struct {
	doc     string
	params  []string
	returns []string
}

// valueErr is the `value, err` convention's second result.
const valueErr = "string? err"

// moduleAnnotations are the parameter and return types of every module
// function, by module and function name. LuaDefinitions fails for a
// registered function missing here, so a new function cannot ship without
// its types.
var moduleAnnotations = map[string]map[string]luaFunc{
	"json": {
		"decode": {"Decodes a JSON text into Lua values (objects and arrays become tables, null becomes nil).", []string{"s string"}, []string{"any value", valueErr}},
		"encode": {"Encodes a Lua value as JSON, object keys sorted.", []string{"v any"}, []string{"string? json", valueErr}},
		"get":    {"Reads the value at a gjson path of a JSON text, without decoding the rest.", []string{"s string", "path string"}, []string{"any value", valueErr}},
		"set":    {"Sets the value at an sjson path of a JSON text and returns the new text.", []string{"s string", "path string", "v any"}, []string{"string? json", valueErr}},
	},
	"crypto": {
		"md5":               {"MD5 of data, hex (raw bytes when raw is true).", []string{"data string", "raw? boolean"}, []string{"string? digest", valueErr}},
		"sha1":              {"SHA-1 of data, hex (raw bytes when raw is true).", []string{"data string", "raw? boolean"}, []string{"string? digest", valueErr}},
		"sha256":            {"SHA-256 of data, hex (raw bytes when raw is true).", []string{"data string", "raw? boolean"}, []string{"string? digest", valueErr}},
		"sha512":            {"SHA-512 of data, hex (raw bytes when raw is true).", []string{"data string", "raw? boolean"}, []string{"string? digest", valueErr}},
		"hmac":              {"HMAC of data with key; alg is md5, sha1, sha256 or sha512. Hex (raw bytes when raw is true).", []string{"alg string", "data string", "key string", "raw? boolean"}, []string{"string? mac", valueErr}},
		"crc32":             {"CRC-32 (IEEE) of data, hex (raw bytes when raw is true).", []string{"data string", "raw? boolean"}, []string{"string? checksum", valueErr}},
		"base64_encode":     {"Standard base64, padded.", []string{"data string"}, []string{"string? encoded", valueErr}},
		"base64_decode":     {"Decodes standard base64, padded or not.", []string{"data string"}, []string{"string? decoded", valueErr}},
		"base64_url_encode": {"URL-safe base64, padded.", []string{"data string"}, []string{"string? encoded", valueErr}},
		"base64_url_decode": {"Decodes URL-safe base64, padded or not.", []string{"data string"}, []string{"string? decoded", valueErr}},
		"equal":             {"Compares two strings in constant time (for signatures).", []string{"a string", "b string"}, []string{"boolean equal", valueErr}},
		"encrypt":           {"Encrypts with aes-256-gcm or aes-256-cbc; key is 32 bytes raw, hex or base64. Returns base64.", []string{"alg string", "key string", "plaintext string"}, []string{"string? ciphertext", valueErr}},
		"decrypt":           {"Decrypts what encrypt made.", []string{"alg string", "key string", "ciphertext string"}, []string{"string? plaintext", valueErr}},
		"random_bytes":      {"n random bytes, hex (raw bytes when raw is true).", []string{"n integer", "raw? boolean"}, []string{"string? bytes", valueErr}},
	},
	"base64": {
		"encode":     {"Standard base64, padded.", []string{"data string"}, []string{"string? encoded", valueErr}},
		"decode":     {"Decodes standard base64, padded or not.", []string{"data string"}, []string{"string? decoded", valueErr}},
		"url_encode": {"URL-safe base64, padded unless pad is false.", []string{"data string", "pad? boolean"}, []string{"string? encoded", valueErr}},
		"url_decode": {"Decodes URL-safe base64, padded or not.", []string{"data string"}, []string{"string? decoded", valueErr}},
	},
	"time": {
		"unix":        {"The current Unix time in seconds, with a fraction.", nil, []string{"number seconds"}},
		"format":      {"Formats a Unix time with a Go layout (such as time.RFC3339) in zone (UTC by default).", []string{"ts number", "layout string", "zone? string"}, []string{"string? formatted", valueErr}},
		"parse":       {"Parses a time with a Go layout in zone (UTC by default) into a Unix time.", []string{"s string", "layout string", "zone? string"}, []string{"number? ts", valueErr}},
		"now_rfc3339": {"The current time in RFC 3339, UTC.", nil, []string{"string now"}},
	},
	"urlencoded": {
		"decode": {"Decodes an application/x-www-form-urlencoded body: name → value, or a list of values when repeated.", []string{"data string"}, []string{"table<string, string|string[]>? form", valueErr}},
		"encode": {"Encodes a table of name → value (or list of values), names sorted.", []string{"form table<string, any>"}, []string{"string? body", valueErr}},
	},
	"multipart": {
		"decode": {"Decodes a multipart/form-data body given its Content-Type header.", []string{"body string", "content_type string"}, []string{"relayfn.multipart.Form? form", valueErr}},
		"encode": {"Encodes a form as multipart/form-data; returns the body and its Content-Type.", []string{"form relayfn.multipart.Form"}, []string{"string? body", "string? content_type_or_err"}},
	},
	"jwt": {
		"authenticate": {"Verifies the request's Bearer token with key (a secret or a PEM public key).", []string{"key string"}, []string{valueErr}},
		"validate":     {"Verifies token with key.", []string{"token string", "key string"}, []string{valueErr}},
		"decode":       {"Verifies token with key and returns its claims.", []string{"token string", "key string"}, []string{"table<string, any>? claims", valueErr}},
		"sign":         {"Signs claims with key; alg defaults from the key (HS256 for a secret).", []string{"claims table<string, any>", "key string", "alg? string"}, []string{"string? token", valueErr}},
	},
	"http": {
		"request":       {"Sends a request through the relay's egress.", []string{"method string", "url string", "opts? relayfn.http.Options"}, []string{"relayfn.http.Response? response", valueErr}},
		"get":           {"Sends a GET request.", []string{"url string", "opts? relayfn.http.Options"}, []string{"relayfn.http.Response? response", valueErr}},
		"post":          {"Sends a POST request.", []string{"url string", "opts? relayfn.http.Options"}, []string{"relayfn.http.Response? response", valueErr}},
		"put":           {"Sends a PUT request.", []string{"url string", "opts? relayfn.http.Options"}, []string{"relayfn.http.Response? response", valueErr}},
		"patch":         {"Sends a PATCH request.", []string{"url string", "opts? relayfn.http.Options"}, []string{"relayfn.http.Response? response", valueErr}},
		"delete":        {"Sends a DELETE request.", []string{"url string", "opts? relayfn.http.Options"}, []string{"relayfn.http.Response? response", valueErr}},
		"head":          {"Sends a HEAD request.", []string{"url string", "opts? relayfn.http.Options"}, []string{"relayfn.http.Response? response", valueErr}},
		"request_batch": {"Sends requests {method, url, opts} concurrently; responses and errors by position.", []string{"requests table[]"}, []string{"(relayfn.http.Response?)[] responses", "(string?)[]? errors"}},
	},
	"bigquery": {
		"initialize":    {"Connects to a dataset with a service account's JSON key.", []string{"project_id string", "dataset_id string", "credentials_json string"}, []string{valueErr}},
		"insert":        {"Inserts one row (column → value) into table.", []string{"table string", "row table<string, any>"}, []string{valueErr}},
		"record_exists": {"Whether table has a row whose column equals value.", []string{"table string", "column string", "value any"}, []string{"boolean exists", valueErr}},
	},
	"mailgun": {
		"initialize": {"Sets the Mailgun domain, API key and region (us or eu).", []string{"domain string", "api_key string", "region? string"}, []string{valueErr}},
		"send":       {"Sends an email through Mailgun.", []string{"from string", "to string|string[]", "subject string", "text string", "html? string"}, []string{valueErr}},
	},
	"email": {
		"send": {"Sends an email over the operator's SMTP server.", []string{"msg relayfn.email.Message"}, []string{valueErr}},
	},
}

// requestAPI is r, by Webhook Relay's names; runtime serves it.
const requestAPI = `---The request being handled, as rewritten so far.
---@class relayfn.Request
---@field RequestBody string the body
---@field RequestMethod string the method (POST, GET, ...)
---@field RequestPath string the extra path after the input's address, "/" when none
---@field RequestRawQuery string the query without "?"
---@field RequestHeader table<string, string> header name → first value; lookup is case-insensitive
---@field RequestQuery table<string, string> query name → first value
---@field RequestFormData table<string, string[]> form field name → values, for multipart/form-data and application/x-www-form-urlencoded bodies
---@field Metadata relayfn.Metadata where the webhook came from and goes to
local Request = {}

---Replaces the body forwarded.
---@param body string
function Request:SetRequestBody(body) end

---Replaces the method forwarded.
---@param method string
function Request:SetRequestMethod(method) end

---Replaces the extra path forwarded.
---@param path string
function Request:SetRequestPath(path) end

---Replaces the query forwarded.
---@param query string
function Request:SetRequestRawQuery(query) end

---Sets a header forwarded.
---@param name string
---@param value string
function Request:SetRequestHeader(name, value) end

---Removes a header from what is forwarded.
---@param name string
function Request:DeleteRequestHeader(name) end

---Sets the body answered to the caller (input functions).
---@param body string
function Request:SetResponseBody(body) end

---Sets the status answered to the caller (input functions).
---@param status integer
function Request:SetResponseStatusCode(status) end

---Sets a header answered to the caller (input functions).
---@param name string
---@param value string
function Request:SetResponseHeader(name, value) end

---Delivers nothing; the function runs on to its end.
function Request:StopForwarding() end

---@class relayfn.Metadata
---@field bucket_id string
---@field bucket_name string
---@field input_id string
---@field input_name string
---@field output_id string
---@field output_name string
---@field output_url string

---The function's configuration variables (secrets).
---@class relayfn.Config
local Config = {}

---A configuration variable, "" when unset.
---@param key string
---@return string
function Config:GetValue(key) end

---The invocation's log, shown by fnctl and stored with the delivery.
---@class relayfn.log
log = {}

---@param ... any
function log.debug(...) end

---@param ... any
function log.info(...) end

---@param ... any
function log.warn(...) end

---@param ... any
function log.error(...) end

---The request being handled.
---@type relayfn.Request
r = nil

---The function's configuration.
---@type relayfn.Config
cfg = nil

---The sandbox's os: time, date and clock only.
---@class relayfn.os
os = {}

---@param t? table
---@return integer
function os.time(t) end

---@param format? string
---@param t? integer
---@return string|table
function os.date(format, t) end

---@return number
function os.clock() end

---@class relayfn.http.Options
---@field headers? table<string, string>
---@field query? string|table<string, string>
---@field body? string
---@field form? table<string, string|string[]>
---@field cookies? table<string, string>
---@field timeout? string|number a Go duration ("5s") or seconds

---@class relayfn.http.Response
---@field status_code integer
---@field body string
---@field body_size integer
---@field url string the final URL, after redirects
---@field headers table<string, string> lookup is case-insensitive
---@field cookies table<string, string>

---@class relayfn.multipart.File
---@field field string
---@field filename string
---@field content_type string
---@field content string

---@class relayfn.multipart.Form
---@field fields? table<string, string|string[]>
---@field files? relayfn.multipart.File[]

---@class relayfn.email.Message
---@field from? string
---@field to string|string[]
---@field cc? string|string[]
---@field bcc? string|string[]
---@field reply_to? string
---@field subject string
---@field text? string
---@field html? string
`

// LuaDefinitions returns a lua-language-server definition file (---@meta)
// of the Lua API: r, cfg, log, the sandbox's os, and every module in mods
// as a global table, each function with its parameter and return types.
// The members are read from the modules themselves, so the file cannot
// drift from what functions get; a function without an annotation is an
// error.
func LuaDefinitions(mods []runtime.Module) (string, error) {
	var b strings.Builder
	b.WriteString("---@meta\n-- luacheck: ignore\n")
	b.WriteString("-- relayfn's Lua API (Lua 5.1) for lua-language-server, generated by\n")
	b.WriteString("-- `fnctl types` from the modules relayfn registers. Regenerate it after\n")
	b.WriteString("-- upgrading fnctl rather than editing it.\n\n")
	b.WriteString(requestAPI)

	sorted := append([]runtime.Module(nil), mods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var missing []string
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, m := range sorted {
		notes := moduleAnnotations[m.Name]
		t := m.Open(L)
		var funcs, fields []string
		t.ForEach(func(k, v lua.LValue) {
			name, ok := k.(lua.LString)
			if !ok {
				return
			}
			if _, ok := v.(*lua.LFunction); ok {
				funcs = append(funcs, string(name))
			} else {
				fields = append(fields, string(name))
			}
		})
		sort.Strings(funcs)
		sort.Strings(fields)
		fmt.Fprintf(&b, "\n---The %s module: local %s = require(%q), or the global %s.\n", m.Name, m.Name, m.Name, m.Name)
		fmt.Fprintf(&b, "---@class relayfn.%s\n", m.Name)
		for _, f := range fields {
			fmt.Fprintf(&b, "---@field %s %s\n", f, t.RawGetString(f).Type())
		}
		fmt.Fprintf(&b, "%s = {}\n", m.Name)
		for _, f := range funcs {
			a, ok := notes[f]
			if !ok {
				missing = append(missing, m.Name+"."+f)
				continue
			}
			b.WriteString("\n")
			if a.doc != "" {
				fmt.Fprintf(&b, "---%s\n", a.doc)
			}
			names := make([]string, 0, len(a.params))
			for _, p := range a.params {
				fmt.Fprintf(&b, "---@param %s\n", p)
				names = append(names, strings.TrimSuffix(strings.Fields(p)[0], "?"))
			}
			for _, r := range a.returns {
				fmt.Fprintf(&b, "---@return %s\n", r)
			}
			fmt.Fprintf(&b, "function %s.%s(%s) end\n", m.Name, f, strings.Join(names, ", "))
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("lua types: no annotation for %s (add it to moduleAnnotations in builtins/types.go)", strings.Join(missing, ", "))
	}
	return b.String(), nil
}

// LuaModuleStub is a definition file named after a module (name.lua) that
// makes lua-language-server resolve require(name) to the module's global
// declared by LuaDefinitions.
func LuaModuleStub(name string) string {
	return fmt.Sprintf("---@meta %s\n-- luacheck: ignore\n-- Generated by `fnctl types`: require(%q) is the %s table of relayfn.lua.\nreturn %s\n", name, name, name, name)
}
