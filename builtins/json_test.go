package builtins_test

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

var updateJSONGolden = flag.Bool("json.update", false, "rewrite the golden files under testdata/json")

// jsonEngine is an engine with the json module and a "jsontest" module
// whose show(v) renders any Lua value in one canonical line:
// {1=1,3="x",["a"]={}} (number keys first, ascending, then string keys).
func jsonEngine(t testing.TB) *runtime.Engine {
	t.Helper()
	show := runtime.Module{Name: "jsontest", Open: func(L *lua.LState) *lua.LTable {
		t := L.NewTable()
		t.RawSetString("show", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LString(showLua(L.Get(1))))
			return 1
		}))
		return t
	}}
	e, err := runtime.New(runtime.Options{Modules: []runtime.Module{builtins.JSON(), show}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

const jsonPrelude = `local json = require("json"); local show = require("jsontest").show; `

// runJSON runs src (after jsonPrelude) with body as r.RequestBody.
func runJSON(t testing.TB, e *runtime.Engine, src, body string) *runtime.Result {
	t.Helper()
	fn, err := e.Compile("fn.lua", []byte(jsonPrelude+src))
	if err != nil {
		t.Fatal(err)
	}
	return e.Run(context.Background(), fn, &runtime.Input{Request: runtime.Request{Method: "POST", Body: []byte(body)}})
}

// runJSONLogs runs src and returns its print output, failing on an error.
func runJSONLogs(t testing.TB, e *runtime.Engine, src, body string) []string {
	t.Helper()
	res := runJSON(t, e, src, body)
	if res.Err != nil {
		t.Fatalf("function failed: %v", res.Err)
	}
	return res.Logs
}

func showLua(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LNumber:
		return showNumber(float64(x))
	case lua.LString:
		return strconv.Quote(string(x))
	case *lua.LTable:
		var nums []float64
		var strs []string
		x.ForEach(func(k, _ lua.LValue) {
			switch kk := k.(type) {
			case lua.LNumber:
				nums = append(nums, float64(kk))
			case lua.LString:
				strs = append(strs, string(kk))
			default:
				strs = append(strs, "?"+k.String())
			}
		})
		slices.Sort(nums)
		slices.Sort(strs)
		parts := make([]string, 0, len(nums)+len(strs))
		for _, n := range nums {
			parts = append(parts, showNumber(n)+"="+showLua(x.RawGet(lua.LNumber(n))))
		}
		for _, s := range strs {
			parts = append(parts, "["+strconv.Quote(s)+"]="+showLua(x.RawGetString(s)))
		}
		return "{" + strings.Join(parts, ",") + "}"
	default:
		return v.String()
	}
}

func showNumber(f float64) string {
	if f == 0 && math.Signbit(f) {
		return "-0"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func TestJSONDecode(t *testing.T) {
	e := jsonEngine(t)
	deep := strings.Repeat("[", 512) + strings.Repeat("]", 512)
	tests := []struct {
		name, in, want string
	}{
		// Structure.
		{"empty object", `{}`, `{}`},
		{"empty array", `[]`, `{}`},
		{"array", `[1,"two",true,false]`, `{1=1,2="two",3=true,4=false}`},
		{"object", `{"b":1,"a":{"c":[]}}`, `{["a"]={["c"]={}},["b"]=1}`},
		{"nested arrays", `[[1,[2]],[[]]]`, `{1={1=1,2={1=2}},2={1={}}}`},
		{"whitespace", " \t\r\n[ 1 ,\n2 ] \n", `{1=1,2=2}`},
		{"numeric string key stays a string", `{"1":"x","2":"y"}`, `{["1"]="x",["2"]="y"}`},
		{"empty key", `{"":1}`, `{[""]=1}`},
		{"escaped key", `{"a\u0062\n":1}`, `{["ab\n"]=1}`},
		{"duplicate key: last wins", `{"a":1,"a":2}`, `{["a"]=2}`},
		{"depth 512", deep, strings.Repeat("{1=", 511) + "{}" + strings.Repeat("}", 511)},

		// null.
		{"top-level null", `null`, `nil`},
		{"null member is absent", `{"a":null,"b":1}`, `{["b"]=1}`},
		{"all members null", `{"a":null}`, `{}`},
		{"null undoes a duplicate", `{"a":1,"a":null}`, `{}`},
		{"null element leaves a hole", `[1,null,3]`, `{1=1,3=3}`},
		{"only nulls", `[null,null]`, `{}`},

		// Scalars at the top.
		{"true", `true`, `true`},
		{"false", ` false `, `false`},
		{"string", `"x"`, `"x"`},
		{"number", `42`, `42`},

		// Numbers.
		{"zero", `0`, `0`},
		{"negative zero", `-0`, `-0`},
		{"negative zero float", `-0.0`, `-0`},
		{"negative", `-12`, `-12`},
		{"fraction", `0.1`, `0.1`},
		{"exponent", `1.5e-7`, `1.5e-07`},
		{"capital exponent", `1E22`, `1e+22`},
		{"positive exponent", `2e+3`, `2000`},
		{"max float", `1.7976931348623157e308`, `1.7976931348623157e+308`},
		{"1e308", `1e308`, `1e+308`},
		{"-1e308", `-1e308`, `-1e+308`},
		{"smallest denormal", `5e-324`, `5e-324`},
		{"underflow is zero", `1e-400`, `0`},
		{"integral float", `1.0`, `1`},
		{"2^53", `9007199254740992`, `9007199254740992`},
		{"2^53+1 rounds", `9007199254740993`, `9007199254740992`},
		{"15 digits exact", `999999999999999`, `999999999999999`},
		{"16 digits", `1234567890123456`, `1234567890123456`},
		{"big integer", `123456789012345678901234567890`, `1.2345678901234568e+29`},
		{"big negative integer", `-237462374673276894279832749832423479823246327846`, `-2.374623746732769e+47`},

		// Strings.
		{"all short escapes", `"\"\\\/\b\f\n\r\t"`, strconv.Quote("\"\\/\b\f\n\r\t")},
		{"unicode escape", `"caf\u00e9"`, `"café"`},
		{"escaped quote", `"\u0022"`, `"\""`},
		{"NUL escape", `"a\u0000b"`, strconv.Quote("a\x00b")},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"surrogate pair mixed case", `"\uD834\uDd1e"`, `"𝄞"`},
		{"lone high surrogate", `"\ud800"`, `"�"`},
		{"lone low surrogate", `"\udc00x"`, `"�x"`},
		{"high surrogate then text", `"\ud800abc"`, `"�abc"`},
		{"high surrogate then other escape", `"\ud800\u0041"`, `"�A"`},
		{"two high surrogates", `"\ud800\ud800\udc00"`, `"�𐀀"`},
		{"noncharacter", `"\uFFFF"`, `"\uffff"`},
		{"raw UTF-8", `"€𝄞 Zoë"`, `"€𝄞 Zoë"`},
		{"invalid UTF-8 kept", "\"a\xffb\"", `"a\xffb"`},
		{"DEL is allowed", "\"\x7f\"", `"\x7f"`},
		{"escape after text", `"abc\ndef"`, `"abc\ndef"`},
		{"long string", `"` + strings.Repeat("x", 1000) + `"`, strconv.Quote(strings.Repeat("x", 1000))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := runJSONLogs(t, e, `local v, err = json.decode(r.RequestBody); print(show(v), tostring(err))`, tc.in)
			if want := tc.want + "\tnil"; len(logs) != 1 || logs[0] != want {
				t.Errorf("decode(%q)\n got %q\nwant %q", tc.in, logs, want)
			}
		})
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	e := jsonEngine(t)
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, `empty input at offset 0`},
		{"only whitespace", "  \n", `unexpected end of input at offset 3`},
		{"byte order mark", "\xef\xbb\xbf{}", `unexpected byte 0xef looking for a value at offset 0`},

		// Truncated.
		{"truncated array", `[1,2`, `unexpected end of input at offset 4`},
		{"truncated after comma", `[1,`, `unexpected end of input at offset 3`},
		{"truncated open bracket", `[`, `unexpected end of input at offset 1`},
		{"truncated object", `{"a":1`, `unexpected end of input at offset 6`},
		{"truncated after key", `{"a"`, `unexpected end of input at offset 4`},
		{"truncated after colon", `{"a":`, `unexpected end of input at offset 5`},
		{"truncated string", `"abc`, `unterminated string at offset 0`},
		{"truncated string in array", `["abc`, `unterminated string at offset 1`},
		{"truncated escaped string", `"a\nbc`, `unterminated string at offset 0`},
		{"truncated escape", `"ab\`, `unexpected end of input at offset 4`},
		{"truncated unicode escape", `"\u12`, `invalid \u escape (expected 4 hex digits) at offset 1`},
		{"truncated literal", `tru`, `invalid literal (expected true) at offset 0`},
		{"truncated number", `-`, `invalid number (expected a digit after '-') at offset 0`},

		// Bad literals.
		{"bad literal", `nul`, `invalid literal (expected null) at offset 0`},
		{"capitalised literal", `True`, `unexpected 'T' looking for a value at offset 0`},
		{"literal in array", `[fals]`, `invalid literal (expected false) at offset 1`},
		{"NaN", `NaN`, `unexpected 'N' looking for a value at offset 0`},
		{"Infinity", `[Infinity]`, `unexpected 'I' looking for a value at offset 1`},
		{"-Infinity", `[-Infinity]`, `invalid number (expected a digit after '-') at offset 1`},
		{"single quotes", `['a']`, `unexpected "'" looking for a value at offset 1`},
		{"comment", `/* x */ {}`, `unexpected '/' looking for a value at offset 0`},

		// Bad numbers.
		{"leading zero", `[012]`, `expected ',' or ']' after array element, found '1' at offset 2`},
		{"negative leading zero", `-01`, `unexpected '1' after the top-level value at offset 2`},
		{"plus sign", `+1`, `unexpected '+' looking for a value at offset 0`},
		{"leading dot", `.5`, `unexpected '.' looking for a value at offset 0`},
		{"trailing dot", `[1.]`, `invalid number (expected a digit after '.') at offset 1`},
		{"empty exponent", `1e`, `invalid number (expected a digit in the exponent) at offset 0`},
		{"signed empty exponent", `1e+`, `invalid number (expected a digit in the exponent) at offset 0`},
		{"hex", `0x1`, `unexpected 'x' after the top-level value at offset 1`},
		{"out of range", `1e400`, `number 1e400 out of range at offset 0`},
		{"negative out of range", `[-1e400]`, `number -1e400 out of range at offset 1`},
		{"huge exponent", `[1e99999999999999999999]`, `number 1e99999999999999999999 out of range at offset 1`},

		// Structure.
		{"trailing comma in array", `[1,]`, `unexpected ']' looking for a value at offset 3`},
		{"trailing comma in object", `{"a":1,}`, `expected a string for an object key, found '}' at offset 7`},
		{"missing comma", `[1 2]`, `expected ',' or ']' after array element, found '2' at offset 3`},
		{"missing comma in object", `{"a":1 "b":2}`, `expected ',' or '}' after object value, found '"' at offset 7`},
		{"unquoted key", `{a:1}`, `expected a string for an object key, found 'a' at offset 1`},
		{"number key", `{1:1}`, `expected a string for an object key, found '1' at offset 1`},
		{"missing colon", `{"a" 1}`, `expected ':' after object key, found '1' at offset 5`},
		{"missing value", `{"a":}`, `unexpected '}' looking for a value at offset 5`},
		{"leading comma", `[,1]`, `unexpected ',' looking for a value at offset 1`},
		{"mismatched close", `[1}`, `expected ',' or ']' after array element, found '}' at offset 2`},

		// Trailing data.
		{"trailing garbage", `[1] x`, `unexpected 'x' after the top-level value at offset 4`},
		{"two values", `{} {}`, `unexpected '{' after the top-level value at offset 3`},
		{"extra close", `[1]]`, `unexpected ']' after the top-level value at offset 3`},
		{"trailing NUL", "1\x00", `unexpected byte 0x00 after the top-level value at offset 1`},
		{"trailing literal", `truex`, `unexpected 'x' after the top-level value at offset 4`},

		// Strings.
		{"bad escape", `"a\x"`, `invalid escape '\x' in string at offset 2`},
		{"escaped single quote", `"\'"`, `invalid escape '\'' in string at offset 1`},
		{"capital U escape", `"\U0041"`, `invalid escape '\U' in string at offset 1`},
		{"bad hex digit", `"\u12G4"`, `invalid \u escape (expected 4 hex digits) at offset 1`},
		{"escaped control byte", "\"\\\x01\"", `invalid escape '\' followed by byte 0x01 in string at offset 1`},
		{"raw tab", "\"a\tb\"", `control character 0x09 in string (must be escaped) at offset 2`},
		{"raw newline", "[\"a\nb\"]", `control character 0x0a in string (must be escaped) at offset 3`},
		{"raw NUL", "\"\x00\"", `control character 0x00 in string (must be escaped) at offset 1`},
		{"control after escape", "\"\\n\x1f\"", `control character 0x1f in string (must be escaped) at offset 3`},

		// Depth.
		{"array depth 513", strings.Repeat("[", 513) + strings.Repeat("]", 513), `nesting deeper than 512 levels at offset 512`},
		{"object depth 513", strings.Repeat(`{"a":`, 513) + "1" + strings.Repeat("}", 513), `nesting deeper than 512 levels at offset 2560`},
		{"stack bomb", strings.Repeat("[", 1<<20), `nesting deeper than 512 levels at offset 512`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := runJSONLogs(t, e, `local v, err = json.decode(r.RequestBody); print(show(v), err)`, tc.in)
			if want := "nil\tjson.decode: " + tc.want; len(logs) != 1 || logs[0] != want {
				t.Errorf("decode(%.40q)\n got %q\nwant %q", tc.in, logs, want)
			}
			var v any
			if json.Unmarshal([]byte(tc.in), &v) == nil && !strings.HasPrefix(tc.want, "nesting") {
				t.Errorf("encoding/json accepts %.40q", tc.in)
			}
		})
	}
}

// TestJSONSuiteVectors runs cases named after nst/JSONTestSuite's files:
// y_ must be accepted, n_ refused; for i_ (implementation-defined) the
// expected outcome is ours.
func TestJSONSuiteVectors(t *testing.T) {
	e := jsonEngine(t)
	vectors := []struct {
		name string
		in   string
		ok   bool
	}{
		{"y_array_arraysWithSpaces", `[[]   ]`, true},
		{"y_array_empty-string", `[""]`, true},
		{"y_array_heterogeneous", `[null, 1, "1", {}]`, true},
		{"y_array_with_leading_space", ` [1]`, true},
		{"y_number_0e+1", `[0e+1]`, true},
		{"y_number_0e1", `[0e1]`, true},
		{"y_number_after_space", `[ 4]`, true},
		{"y_number_double_close_to_zero", `[-0.000000000000000000000000000000000000000000000000000000000000000000000000000001]`, true},
		{"y_number_int_with_exp", `[20e1]`, true},
		{"y_number_minus_zero", `[-0]`, true},
		{"y_number_negative_one", `[-1]`, true},
		{"y_number_real_capital_e_neg_exp", `[1E-2]`, true},
		{"y_number_real_fraction_exponent", `[123.456e78]`, true},
		{"y_number_simple_real", `[123.456789]`, true},
		{"y_object_duplicated_key_and_value", `{"a":"b","a":"b"}`, true},
		{"y_object_escaped_null_in_key", `{"foo\u0000bar": 42}`, true},
		{"y_object_long_strings", `{"x":[{"id": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}], "id": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`, true},
		{"y_object_string_unicode", `{"title":"\u041f\u043e\u043b\u0442\u043e\u0440\u0430 \u0417\u0435\u043c\u043b\u0435\u043a\u043e\u043f\u0430" }`, true},
		{"y_string_1_2_3_bytes_UTF-8_sequences", `["\u0060\u012a\u12AB"]`, true},
		{"y_string_accepted_surrogate_pairs", `["\ud83d\ude39\ud83d\udc8d"]`, true},
		{"y_string_backslash_and_u_escaped_zero", `["\\u0000"]`, true},
		{"y_string_comments", `["a/*b*/c/*d//e"]`, true},
		{"y_string_in_array_with_leading_space", `[ "asd"]`, true},
		{"y_string_uescaped_newline", `["new\u000Aline"]`, true},
		{"y_string_unicode_U+FDD0_nonchar", `["\uFDD0"]`, true},
		{"y_structure_lonely_false", `false`, true},
		{"y_structure_lonely_string", `"asd"`, true},
		{"y_structure_trailing_newline", "[\"a\"]\n", true},
		{"y_structure_whitespace_array", ` [] `, true},
		{"i_number_real_underflow", `[123e-10000000]`, true},
		{"i_number_very_big_negative_int", `[-237462374673276894279832749832423479823246327846]`, true},
		{"i_string_1st_surrogate_but_2nd_missing", `["\uDADA"]`, true},
		{"i_string_invalid_utf-8", "[\"\xff\"]", true},
		{"i_string_inverted_surrogates_U+1D11E", `["\uDd1e\uD834"]`, true},
		{"i_number_huge_exp", `[0.4e00669999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999969999999006]`, false},
		{"i_number_real_pos_overflow", `[123123e100000]`, false},
		{"i_structure_UTF-8_BOM_empty_object", "\xef\xbb\xbf{}", false},
		{"n_array_1_true_without_comma", `[1 true]`, false},
		{"n_array_colon_instead_of_comma", `["": 1]`, false},
		{"n_array_double_comma", `[1,,2]`, false},
		{"n_array_extra_close", `["x"]]`, false},
		{"n_array_inner_array_no_comma", `[3[4]]`, false},
		{"n_array_items_separated_by_semicolon", `[1:2]`, false},
		{"n_array_unclosed_with_new_lines", "[1,\n1\n,1", false},
		{"n_incomplete_false", `[fals]`, false},
		{"n_number_-01", `[-01]`, false},
		{"n_number_0.e1", `[0.e1]`, false},
		{"n_number_2.e+3", `[2.e+3]`, false},
		{"n_number_expression", `[1+2]`, false},
		{"n_number_hex_2_digits", `[0x42]`, false},
		{"n_number_minus_sign_with_trailing_garbage", `[-foo]`, false},
		{"n_number_neg_with_garbage_at_end", `[-1x]`, false},
		{"n_number_with_alpha_char", `[1.8011670033376514H-308]`, false},
		{"n_object_bad_value", `["x", truth]`, false},
		{"n_object_missing_semicolon", `{"a" "b"}`, false},
		{"n_object_non_string_key", `{1:1}`, false},
		{"n_object_single_quote", `{'a':0}`, false},
		{"n_object_trailing_comment", `{"a":"b"}/**/`, false},
		{"n_object_with_trailing_garbage", `{"a": true} "x"`, false},
		{"n_single_space", ` `, false},
		{"n_string_escape_x", `["\x00"]`, false},
		{"n_string_escaped_emoji", "[\"\\\U0001F300\"]", false},
		{"n_string_incomplete_surrogate_escape_invalid", `["\uD800\uD800\x"]`, false},
		{"n_string_invalid_unicode_escape", `["\uqqqq"]`, false},
		{"n_string_no_quotes_with_bad_escape", `[\n]`, false},
		{"n_string_single_doublequote", `"`, false},
		{"n_string_unescaped_tab", "[\"\t\"]", false},
		{"n_structure_close_unopened_array", `1]`, false},
		{"n_structure_lone-open-bracket", `[`, false},
		{"n_structure_no_data", ``, false},
		{"n_structure_null-byte-outside-string", "[\x00]", false},
		{"n_structure_object_with_comment", `{"a":/*comment*/"b"}`, false},
		{"n_structure_trailing_#", `{"a":"b"}#{}`, false},
		{"n_structure_whitespace_formfeed", "[\f]", false},
	}
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			logs := runJSONLogs(t, e, `local v, err = json.decode(r.RequestBody); print(err == nil, err)`, v.in)
			if len(logs) != 1 || strings.HasPrefix(logs[0], "true") != v.ok {
				t.Errorf("decode(%.60q): %q, want ok=%v", v.in, logs, v.ok)
			}
		})
	}
}

// TestJSONDecodedTablesAreOrdinary uses decoded tables as Lua code does:
// pairs, ipairs, #, table functions, new and removed keys.
func TestJSONDecodedTablesAreOrdinary(t *testing.T) {
	e := jsonEngine(t)
	logs := runJSONLogs(t, e, `
local o = assert(json.decode('{"b":1,"a":null,"c":[10,20,30],"a":2,"d":{}}'))
local keys = {}
for k in pairs(o) do keys[#keys + 1] = k end
table.sort(keys)
print(table.concat(keys, ","), next(o.d))
local sum = 0
for i, v in ipairs(o.c) do sum = sum + i * v end
print(#o.c, sum)
table.insert(o.c, 40)
table.remove(o.c, 1)
o.b = nil
o.e = "new"
o.d[1] = true
print((assert(json.encode(o))))
local arr = assert(json.decode('[1,null,3]'))
local n = 0
for _ in pairs(arr) do n = n + 1 end
print(n, arr[3])
`, "")
	want := []string{
		"a,b,c,d\tnil",
		"3\t140",
		`{"a":2,"c":[20,30,40],"d":[true],"e":"new"}`,
		"2\t3",
	}
	if !slices.Equal(logs, want) {
		t.Errorf("got  %q\nwant %q", logs, want)
	}
}

func TestJSONDecodeArgument(t *testing.T) {
	e := jsonEngine(t)
	res := runJSON(t, e, `json.decode(nil)`, "")
	if res.Err == nil || !strings.Contains(res.Err.Error(), "string expected, got nil") {
		t.Errorf("decode(nil): %v", res.Err)
	}
	// A number is a string to Lua.
	if logs := runJSONLogs(t, e, `print(json.decode(12))`, ""); logs[0] != "12" {
		t.Errorf("decode(12): %q", logs)
	}
}

func TestJSONEncode(t *testing.T) {
	e := jsonEngine(t)
	tests := []struct {
		name, expr, want string
	}{
		{"nil", `nil`, `null`},
		{"true", `true`, `true`},
		{"false", `false`, `false`},

		// Numbers, formatted as encoding/json formats a float64.
		{"zero", `0`, `0`},
		{"negative zero", `0/-1`, `-0`},
		{"integer", `42`, `42`},
		{"negative integer", `-7`, `-7`},
		{"integral float", `3.0`, `3`},
		{"fraction", `0.1`, `0.1`},
		{"third", `1/3`, `0.3333333333333333`},
		{"negative fraction", `-12.5`, `-12.5`},
		{"2^53", `2^53`, `9007199254740992`},
		{"big integer", `123456789012345678`, `123456789012345680`},
		{"1e20", `1e20`, `100000000000000000000`},
		{"1e21", `1e21`, `1e+21`},
		{"1e308", `1e308`, `1e+308`},
		{"1e-6", `0.000001`, `0.000001`},
		{"1.5e-7", `1.5e-7`, `1.5e-7`},
		{"1e-7", `1e-7`, `1e-7`},
		{"smallest denormal", `5e-324`, `5e-324`},

		// Strings, escaped as encoding/json escapes them.
		{"string", `"hello"`, `"hello"`},
		{"empty string", `""`, `""`},
		{"short escapes", `"\"\\/\b\f\n\r\t"`, `"\"\\/\b\f\n\r\t"`},
		{"control characters", `"\0\1\31"`, `"\u0000\u0001\u001f"`},
		{"HTML characters", `"<a href='x'>&</a>"`, `"\u003ca href='x'\u003e\u0026\u003c/a\u003e"`},
		{"UTF-8 kept", `"Zoë → 😀"`, `"Zoë → 😀"`},
		{"invalid UTF-8", `"a\255b\192"`, `"a\ufffdb\ufffd"`},
		{"line separators", `"\226\128\168\226\128\169"`, `"\u2028\u2029"`},
		{"DEL", `"\127"`, "\"\x7f\""},

		// Tables.
		{"empty table", `{}`, `[]`},
		{"array", `{1, "two", true}`, `[1,"two",true]`},
		{"nested array", `{{}, {{1}}}`, `[[],[[1]]]`},
		{"object", `{b = 1, a = {c = "x"}}`, `{"a":{"c":"x"},"b":1}`},
		{"sorted keys", `{b = 1, B = 2, a = 3, ["é"] = 4, ["10"] = 5, ["9"] = 6, [""] = 7}`, `{"":7,"10":5,"9":6,"B":2,"a":3,"b":1,"é":4}`},
		{"mixed keys", `{10, 20, x = 1}`, `{"1":10,"2":20,"x":1}`},
		{"float key in object", `{[1.5] = 1, a = 2}`, `{"1.5":1,"a":2}`},
		{"negative key in object", `{[-1] = 1, a = 2}`, `{"-1":1,"a":2}`},
		{"hole", `{1, nil, 3}`, `[1,null,3]`},
		{"sparse", `{[1] = 1, [3] = 3}`, `[1,null,3]`},
		{"leading hole", `{[2] = "b"}`, `[null,"b"]`},
		{"holes up to 10", `{[10] = 1}`, `[null,null,null,null,null,null,null,null,null,1]`},
		{"half full", `{[1] = 1, [12] = 12, [5] = 5, [6] = 6, [7] = 7, [8] = 8}`, `[1,null,null,null,5,6,7,8,null,null,null,12]`},
		{"shared table", `(function() local s = {1}; return {a = s, b = {s}} end)()`, `{"a":[1],"b":[[1]]}`},
		{"metatable ignored", `setmetatable({a = 1}, {__index = function() return 2 end})`, `{"a":1}`},
		{"decoded array with nulls", `json.decode('[null,1,null,2]')`, `[null,1,null,2]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := runJSONLogs(t, e, `local s, err = json.encode(`+tc.expr+`); print(s, tostring(err))`, "")
			if want := tc.want + "\tnil"; len(logs) != 1 || logs[0] != want {
				t.Errorf("encode(%s)\n got %q\nwant %q", tc.expr, logs, want)
			}
		})
	}
}

func TestJSONEncodeErrors(t *testing.T) {
	e := jsonEngine(t)
	tests := []struct {
		name, src, want string
	}{
		{"cycle", `local t = {}; t.self = t; v = t`, `table contains a cycle (at .self)`},
		{"cycle at the top", `local t = {}; t[1] = t; v = t`, `table contains a cycle (at [1])`},
		{"indirect cycle", `local a = {}; local b = {x = {a}}; a.b = b; v = {a}`, `table contains a cycle (at [1].b.x[1])`},
		{"function", `v = print`, `cannot encode a function`},
		{"nested function", `v = {handlers = {1, function() end}}`, `cannot encode a function (at .handlers[2])`},
		{"function under odd key", `v = {["a b"] = {f = print}}`, `cannot encode a function (at ["a b"].f)`},
		{"function in sparse array", `v = {[1] = 1, [3] = print}`, `cannot encode a function (at [3])`},
		{"userdata", `v = {req = r}`, `cannot encode a userdata (at .req)`},
		{"NaN", `v = {n = 0/0}`, `cannot encode the number NaN (at .n)`},
		{"Inf", `v = 1/0`, `cannot encode the number +Inf`},
		{"-Inf", `v = {-1/0}`, `cannot encode the number -Inf (at [1])`},
		{"boolean key", `v = {[true] = 1}`, `cannot encode a table with a boolean key`},
		{"table key", `v = {[{}] = 1, a = 1}`, `cannot encode a table with a table key`},
		{"zero key", `v = {[0] = 1}`, `cannot encode a table with the number key 0 (array keys are 1..n; use string keys for an object)`},
		{"negative key", `v = {[-1] = 1, [1] = 1}`, `cannot encode a table with the number key -1 (array keys are 1..n; use string keys for an object)`},
		{"float key", `v = {[1.5] = 1}`, `cannot encode a table with the number key 1.5 (array keys are 1..n; use string keys for an object)`},
		{"too sparse", `v = {[1] = 1, [100] = 2}`, `cannot encode a sparse array (2 values, highest index 100)`},
		{"number and string key collide", `v = {[1] = "n", ["1"] = "s"}`, `cannot encode a table with both the number key 1 and the string key "1"`},
		{"infinite key in object", `v = {[1/0] = 1, a = 1}`, `cannot encode a table with the number key +Inf`},
		{"too deep", `local t = {}; v = t; for i = 1, 600 do t[1] = {}; t = t[1] end`, `nesting deeper than 512 levels (at ` + strings.Repeat("[1]", 40) + `…)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := runJSONLogs(t, e, `local v; `+tc.src+`; local s, err = json.encode(v); print(tostring(s), err)`, "")
			if want := "nil\tjson.encode: " + tc.want; len(logs) != 1 || logs[0] != want {
				t.Errorf("got  %q\nwant %q", logs, want)
			}
		})
	}
}

// TestJSONEncodeMatchesEncodingJSON checks strings and numbers against
// encoding/json byte for byte.
func TestJSONEncodeMatchesEncodingJSON(t *testing.T) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	encode := jsonModuleFunc(L, "encode")
	check := func(v lua.LValue, goV any) {
		t.Helper()
		want, err := json.Marshal(goV)
		if err != nil {
			t.Fatal(err)
		}
		got, msg := callJSON(L, encode, v)
		if msg != lua.LNil || string(got.(lua.LString)) != string(want) {
			t.Fatalf("encode(%#v) = %v, %v; encoding/json: %s", goV, got, msg, want)
		}
	}
	for c := 0; c < 256; c++ {
		s := "a" + string([]byte{byte(c)}) + "b"
		check(lua.LString(s), s)
	}
	for _, s := range []string{"\u2028", "\u2029", "\ufffd", "\xed\xa0\x80", "\xf4\x90\x80\x80", "é\xc3", "\xe2\x82", "😀"} {
		check(lua.LString(s), s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		check(lua.LString(b), string(b))
	}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e20, 1e21, 1e-6, 1e-7, 9.999999999999999e20, 123456789, math.MaxFloat64, math.SmallestNonzeroFloat64, -math.MaxFloat64, 1 << 53, 1<<53 + 2}
	for range 20000 {
		f := math.Float64frombits(rng.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			floats = append(floats, f)
		}
		floats = append(floats, float64(rng.Int64N(1<<60)-1<<59), rng.Float64()*math.Pow(10, float64(rng.IntN(60)-30)))
	}
	for _, f := range floats {
		check(lua.LNumber(f), f)
	}
}

// callJSON calls a json module function with args and returns its two
// results.
func callJSON(L *lua.LState, fn lua.LValue, args ...lua.LValue) (lua.LValue, lua.LValue) {
	top := L.GetTop()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	L.Call(len(args), 2)
	v, err := L.Get(top+1), L.Get(top+2)
	L.SetTop(top)
	return v, err
}

func TestJSONRoundTrip(t *testing.T) {
	e := jsonEngine(t)
	tests := []struct{ in, want string }{
		{`{"b":[1,2,{"c":null}],"a":"x"}`, `{"a":"x","b":[1,2,[]]}`},
		{`[1,null,3]`, `[1,null,3]`},
		{`{"a":{}}`, `{"a":[]}`},
		{`"\ud83d\ude00 \u00e9 \u2028 <b>"`, `"😀 é \u2028 \u003cb\u003e"`},
		{`[-0,0.1,1e21,1.5e-7,1E2,100000000000000000000]`, `[-0,0.1,1e+21,1.5e-7,100,100000000000000000000]`},
		{`{"z":1,"y":{"x":[true,false]},"1":"one"}`, `{"1":"one","y":{"x":[true,false]},"z":1}`},
		{` [ "a" , { } ] `, `["a",[]]`},
	}
	for _, tc := range tests {
		logs := runJSONLogs(t, e, `local v = assert(json.decode(r.RequestBody)); print((assert(json.encode(v))))`, tc.in)
		if logs[0] != tc.want {
			t.Errorf("encode(decode(%s))\n got %s\nwant %s", tc.in, logs[0], tc.want)
		}
	}
}

// TestJSONGitHubPush decodes a GitHub push payload in a function, reads
// it, and encodes it back; the encoding is kept in a golden file.
func TestJSONGitHubPush(t *testing.T) {
	e := jsonEngine(t)
	payload := loadGitHubPush(t)
	res := runJSON(t, e, `
local p, err = json.decode(r.RequestBody)
if err then error(err) end
print(p.ref, p.repository.full_name, #p.commits, p.commits[2].author.name, p.head_commit.id == p.after)
print(p.repository.owner.email == nil, p.base_ref == nil, p.repository.created_at, p.forced, #p.head_commit.added)
print(p.commits[1].message)
local out, err = json.encode(p)
if err then error(err) end
r:SetRequestBody(out)
`, string(payload))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	wantLogs := []string{
		"refs/heads/main\tacme/hooks\t3\tZoë Müller\ttrue",
		"true\ttrue\t1718031120\tfalse\t0",
		"Decode Stripe events straight into tables\n\nSee #41.",
	}
	if !slices.Equal(res.Logs, wantLogs) {
		t.Errorf("logs\n got %q\nwant %q", res.Logs, wantLogs)
	}
	checkJSONGolden(t, "testdata/json/github_push.golden.json", res.Request.Body)

	// The encoding is the same document, less its nulls, with empty
	// objects and arrays alike as [].
	var orig, back any
	if err := json.Unmarshal(payload, &orig); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(res.Request.Body), &back); err != nil {
		t.Fatal(err)
	}
	if want, got := mustMarshal(t, dropJSONNulls(orig)), mustMarshal(t, back); want != got {
		t.Errorf("round trip changed the document:\n got %s\nwant %s", got, want)
	}
}

func mustMarshal(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dropJSONNulls removes null members and turns empty objects into empty
// arrays: what a decode and encode do to a document.
func dropJSONNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return []any{}
		}
		out := map[string]any{}
		for k, e := range x {
			if e != nil {
				out[k] = dropJSONNulls(e)
			}
		}
		if len(out) == 0 {
			return []any{}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = dropJSONNulls(e)
		}
		return out
	}
	return v
}

func checkJSONGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateJSONGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -json.update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -json.update after checking):\n got %s\nwant %s", path, got, want)
	}
}

func TestJSONGet(t *testing.T) {
	e := jsonEngine(t)
	payload := string(loadGitHubPush(t))
	tests := []struct{ path, want string }{
		{"ref", `"refs/heads/main"`},
		{"repository.owner.login", `"acme"`},
		{"repository.size", `1843`},
		{"repository.private", `false`},
		{"repository.has_issues", `true`},
		{"repository.topics", `{1="github-webhooks",2="lua",3="webhooks"}`},
		{"repository.license", `{["key"]="apache-2.0",["name"]="Apache License 2.0",["node_id"]="MDc6TGljZW5zZTI=",["spdx_id"]="Apache-2.0",["url"]="https://api.github.com/licenses/apache-2.0"}`},
		{"commits.#", `3`},
		{"commits.1.author.name", `"Zoë Müller"`},
		{"commits.1.message", `"Handle \"ping\" events & empty commit lists ✅"`},
		{"commits.#.author.username", `{1="zoe-m",2="zoe-m",3="zoe-m"}`},
		{`commits.#(message%"Merge*").id`, `"54563f95fefa691baa82a522156322c21f7d6df3"`},
		{"head_commit.added", `{}`},
		{"head_commit.modified.0", `"functions/stripe_to_slack.lua"`},
		{"base_ref", `nil`},
		{"repository.homepage", `nil`},
		{"missing", `nil`},
		{"commits.9.id", `nil`},
		{"repository.owner.login.deeper", `nil`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			logs := runJSONLogs(t, e, `local v, err = json.get(r.RequestBody, `+strconv.Quote(tc.path)+`); print(show(v), tostring(err))`, payload)
			if want := tc.want + "\tnil"; logs[0] != want {
				t.Errorf("get(%q)\n got %q\nwant %q", tc.path, logs[0], want)
			}
		})
	}

	errs := []struct{ doc, want string }{
		{`{"a":`, `json.get: unexpected end of input at offset 5`},
		{`{"a":1}x`, `json.get: unexpected 'x' after the top-level value at offset 7`},
		{`{"a":1e400}`, `json.get: number 1e400 out of range at offset 5`},
		{``, `json.get: empty input at offset 0`},
		{strings.Repeat("[", 600), `json.get: nesting deeper than 512 levels at offset 512`},
	}
	for _, tc := range errs {
		logs := runJSONLogs(t, e, `local v, err = json.get(r.RequestBody, "a"); print(show(v), err)`, tc.doc)
		if want := "nil\t" + tc.want; logs[0] != want {
			t.Errorf("get(%.30q)\n got %q\nwant %q", tc.doc, logs[0], want)
		}
	}
	// Strings come back unescaped.
	logs := runJSONLogs(t, e, `print(show(json.get(r.RequestBody, "a")))`, `{"a":"caf\u00e9\n\ud83d\ude00"}`)
	if logs[0] != `"café\n😀"` {
		t.Errorf("escaped string: %q", logs[0])
	}
	logs = runJSONLogs(t, e, `print(show(json.get(r.RequestBody, "a.1")))`, `{"a":["x","\ud800\u0041"]}`)
	if logs[0] != `"�A"` {
		t.Errorf("lone surrogate: %q", logs[0])
	}
}

func TestJSONSet(t *testing.T) {
	e := jsonEngine(t)
	tests := []struct {
		name, doc, path, value, want string
	}{
		{"add member", `{"a":1}`, "b", `"x"`, `{"a":1,"b":"x"}`},
		{"replace member", `{"a":1,"b":2}`, "a", `true`, `{"a":true,"b":2}`},
		{"table value", `{"a":1}`, "a", `{z = 1, y = {1, 2}}`, `{"a":{"y":[1,2],"z":1}}`},
		{"empty table", `{"a":1}`, "a", `{}`, `{"a":[]}`},
		{"nil writes null", `{"a":1}`, "a", `nil`, `{"a":null}`},
		{"number", `{}`, "n", `1.5e-7`, `{"n":1.5e-7}`},
		{"escaped string", `{}`, "s", `"<&>"`, `{"s":"\u003c\u0026\u003e"}`},
		{"nested path created", `{"a":{}}`, "a.b.c", `1`, `{"a":{"b":{"c":1}}}`},
		{"array index", `{"list":[1,2]}`, "list.0", `9`, `{"list":[9,2]}`},
		{"append", `{"list":[1,2]}`, "list.-1", `3`, `{"list":[1,2,3]}`},
		{"empty document", ``, "a.b", `true`, `{"a":{"b":true}}`},
		{"blank document", "  \n", "0", `"x"`, `["x"]`},
		{"rest kept byte for byte", "{ \"b\" : [1, 2],\n  \"a\": 1 }", "a", `2`, "{ \"b\" : [1, 2],\n  \"a\": 2 }"},
		{"escaped key", `{}`, `a\.b`, `1`, `{"a.b":1}`},
		{"query matching nothing", `{"a":[1]}`, `a.#(b==1).c`, `1`, `{"a":[1]}`},
		{"query", `{"a":[{"b":1,"c":0},{"b":2,"c":0}]}`, `a.#(b==2).c`, `{true}`, `{"a":[{"b":1,"c":0},{"b":2,"c":[true]}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runJSON(t, e, `local s, err = json.set(r.RequestBody, `+strconv.Quote(tc.path)+`, `+tc.value+`)
if err then error(err) end
r:SetRequestBody(s)`, tc.doc)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Request.Body != tc.want {
				t.Errorf("set(%q, %q, %s)\n got %s\nwant %s", tc.doc, tc.path, tc.value, res.Request.Body, tc.want)
			}
		})
	}

	errs := []struct{ doc, value, want string }{
		{`{"a" 1}`, `1`, `json.set: expected ':' after object key, found '1' at offset 5`},
		{`{"a":1}}`, `1`, `json.set: unexpected '}' after the top-level value at offset 7`},
		{`{}`, `print`, `json.set: cannot encode a function`},
		{`{}`, `{f = {print}}`, `json.set: cannot encode a function (at .f[1])`},
		{`{}`, `(function() local t = {}; t.t = t; return t end)()`, `json.set: table contains a cycle (at .t)`},
	}
	for _, tc := range errs {
		logs := runJSONLogs(t, e, `local s, err = json.set(r.RequestBody, "a", `+tc.value+`); print(tostring(s), err)`, tc.doc)
		if want := "nil\t" + tc.want; logs[0] != want {
			t.Errorf("set(%q, %s)\n got %q\nwant %q", tc.doc, tc.value, logs[0], want)
		}
	}
}

// TestJSONModuleIsolation checks that a function cannot change the module
// for the next invocation, and that the per-state scratch space does not
// leak values between calls.
func TestJSONModuleIsolation(t *testing.T) {
	e := jsonEngine(t)
	runJSONLogs(t, e, `json.decode = nil; json.encode = function() return "x" end`, "")
	for i := 0; i < 3; i++ {
		logs := runJSONLogs(t, e, `
local v, err = json.decode('[1,{"a":[2,3]},4')
print(v, err ~= nil)
print(json.encode(json.decode('{"x":[1,2,{"y":[3]}]}')))`, "")
		if want := []string{"nil\ttrue", `{"x":[1,2,{"y":[3]}]}`}; !slices.Equal(logs, want) {
			t.Fatalf("run %d: %q, want %q", i, logs, want)
		}
	}
}

// FuzzJSONDecode checks json.decode against encoding/json: an input is
// accepted exactly when json.Unmarshal accepts it (up to our depth limit),
// both decode to the same value, and an accepted value that encodes
// decodes back to itself.
func FuzzJSONDecode(f *testing.F) {
	f.Add([]byte(`{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00","d":-0.5e-3}`))
	f.Add([]byte(`[1,null,3]`))
	f.Add([]byte("\"a\xffb\\ud800\""))
	f.Add([]byte(`{"a":1,"a":null}`))
	f.Add([]byte("{\"\x84\":0,\"\x82\":null}"))
	f.Add([]byte(`1e400`))
	f.Add([]byte(`[012]`))
	f.Add([]byte(` "\/\b\f" `))
	if payload, err := os.ReadFile("testdata/json/github_push.json"); err == nil {
		f.Add(payload)
	}
	// One state for all inputs: the fuzz function is the state's only user.
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	mod := builtins.JSON().Open(L)
	decode, encode := mod.RawGetString("decode"), mod.RawGetString("encode")
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		defer mu.Unlock()

		v, msg := callJSON(L, decode, lua.LString(data))
		var goV any
		goErr := json.Unmarshal(data, &goV)
		if msg != lua.LNil {
			m := msg.String()
			if !strings.HasPrefix(m, "json.decode: ") || !strings.Contains(m, " at offset ") {
				t.Fatalf("error message %q", m)
			}
			if strings.Contains(m, "nesting deeper than") {
				return
			}
			if goErr == nil {
				t.Fatalf("decode(%q) failed with %s; encoding/json accepts it", data, m)
			}
			return
		}
		if goErr != nil {
			t.Fatalf("decode(%q) = %s; encoding/json refuses it: %v", data, showLua(v), goErr)
		}
		// Raw bytes that are not UTF-8 are kept, where encoding/json
		// replaces them (and keys that differ only in them become one):
		// compare values only for UTF-8 input.
		if utf8.Valid(data) && !jsonMatchesGo(goV, v) {
			t.Fatalf("decode(%q) = %s; encoding/json: %#v", data, showLua(v), goV)
		}
		s, msg := callJSON(L, encode, v)
		if msg != lua.LNil {
			if !strings.Contains(msg.String(), "sparse array") {
				t.Fatalf("encode(decode(%q)): %s", data, msg)
			}
			return
		}
		if !json.Valid([]byte(s.(lua.LString))) {
			t.Fatalf("encode(decode(%q)) = %s: not valid JSON", data, s)
		}
		back, msg := callJSON(L, decode, s)
		if msg != lua.LNil {
			t.Fatalf("decode(encode(decode(%q))): %s", data, msg)
		}
		norm, ok := normLua(L, v)
		if !ok {
			return // keys that differ only in invalid UTF-8 became one
		}
		if a, b := showLua(norm), showLua(back); a != b {
			t.Fatalf("round trip of %q:\n got %s\nwant %s", data, b, a)
		}
	})
}

// normUTF8 replaces each byte that is not valid UTF-8 with U+FFFD, as
// encoding/json does.
func normUTF8(s string) string { return string([]rune(s)) }

// normLua copies v with its strings as normUTF8 leaves them; ok is false
// when two keys of a table become one.
func normLua(L *lua.LState, v lua.LValue) (norm lua.LValue, ok bool) {
	switch x := v.(type) {
	case lua.LString:
		return lua.LString(normUTF8(string(x))), true
	case *lua.LTable:
		t := L.NewTable()
		ok = true
		x.ForEach(func(k, e lua.LValue) {
			if ks, isStr := k.(lua.LString); isStr {
				k = lua.LString(normUTF8(string(ks)))
			}
			if t.RawGet(k) != lua.LNil {
				ok = false
			}
			ne, eok := normLua(L, e)
			ok = ok && eok
			t.RawSet(k, ne)
		})
		return t, ok
	}
	return v, true
}

// jsonMatchesGo reports whether the Lua value got is what json.decode
// should make of the encoding/json value want.
func jsonMatchesGo(want any, got lua.LValue) bool {
	switch w := want.(type) {
	case nil:
		return got == lua.LNil
	case bool:
		b, ok := got.(lua.LBool)
		return ok && bool(b) == w
	case float64:
		n, ok := got.(lua.LNumber)
		return ok && float64(n) == w && math.Signbit(float64(n)) == math.Signbit(w)
	case string:
		s, ok := got.(lua.LString)
		return ok && string(s) == w
	case []any:
		t, ok := got.(*lua.LTable)
		if !ok {
			return false
		}
		n := 0
		for i, e := range w {
			if e != nil {
				n++
			}
			if !jsonMatchesGo(e, t.RawGetInt(i+1)) {
				return false
			}
		}
		return n == jsonCountEntries(t)
	case map[string]any:
		t, ok := got.(*lua.LTable)
		if !ok {
			return false
		}
		n := 0
		for k, e := range w {
			if e != nil {
				n++
			}
			if !jsonMatchesGo(e, t.RawGetString(k)) {
				return false
			}
		}
		return n == jsonCountEntries(t)
	}
	return false
}

func jsonCountEntries(t *lua.LTable) int {
	n := 0
	t.ForEach(func(lua.LValue, lua.LValue) { n++ })
	return n
}

// TestJSONDecodedIteration checks iteration over decoded objects, whose
// iteration index is built only when something iterates them: pairs and
// next walk the members in document order, with members added or removed
// since taken into account, at every depth.
func TestJSONDecodedIteration(t *testing.T) {
	e := jsonEngine(t)
	body := `{"z":1,"a":{"y":2,"b":3},"m":[{"q":1,"p":2}],"dup":1,"dup":2,"gone":null}`
	tests := []struct{ name, src, want string }{
		{"pairs in document order", `
local o = json.decode(r.RequestBody)
local ks = {} for k in pairs(o) do ks[#ks+1] = k end
print(table.concat(ks, ","))`, "z,a,m,dup"},
		{"nested objects", `
local o = json.decode(r.RequestBody)
local ks = {} for k in pairs(o.a) do ks[#ks+1] = k end
for k in pairs(o.m[1]) do ks[#ks+1] = k end
print(table.concat(ks, ","))`, "y,b,q,p"},
		{"members added and removed before iterating", `
local o = json.decode(r.RequestBody)
o.new = true
o.z = nil
o.a = "replaced"
local ks = {} for k, v in pairs(o) do ks[#ks+1] = k .. "=" .. (type(v) == "table" and "table" or tostring(v)) end
print(table.concat(ks, ","))`, "a=replaced,m=table,dup=2,new=true"},
		{"next", `
local o = json.decode(r.RequestBody)
local k, v = next(o)
local k2 = next(o, k)
print(k, v, k2)`, "z\t1\ta"},
		{"adding while iterating", `
local o = json.decode(r.RequestBody)
local n = 0
for k in pairs(o) do n = n + 1 if k == "z" then o.z = 10 end end
print(n, o.z)`, "4\t10"},
		{"encode after changes", `
local o = json.decode(r.RequestBody)
o.a.b = nil
o.extra = "x"
print((json.encode(o)))`, `{"a":{"y":2},"dup":2,"extra":"x","m":[{"p":2,"q":1}],"z":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := runJSONLogs(t, e, tt.src, body)
			if len(logs) != 1 || logs[0] != tt.want {
				t.Fatalf("got %q, want %q", logs, tt.want)
			}
		})
	}
}
