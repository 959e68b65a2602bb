package builtins

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/internal/jsonstr"
	"github.com/relayfn/relayfn/internal/luatable"
	"github.com/relayfn/relayfn/runtime"
)

// jsonMaxDepth is how deeply arrays and objects may nest, in json.decode
// (and the validation of json.get and json.set) as in json.encode.
const jsonMaxDepth = 512

// JSON returns the json module:
//
//	json.decode(s)       → value, err
//	json.encode(v)       → string, err
//	json.get(s, path)    → value, err   (a gjson path)
//	json.set(s, path, v) → string, err  (an sjson path)
//
// Bad JSON and values that cannot be encoded are reported as nil, err,
// never raised; an argument of the wrong type (decode(nil)) raises, as in
// any Lua library. Error messages name the call and, for bad JSON, the
// byte offset: "json.decode: expected ',' or '}' after object value, found
// 'x' at offset 10".
//
// Decoding (json.decode, and what json.get returns):
//
//   - JSON null is nil. An object member whose value is null is absent
//     ({"a":null} decodes to an empty table); a null array element leaves a
//     hole, so the elements after it keep their positions ([1,null,3] gives
//     t[1] == 1, t[2] == nil, t[3] == 3). A top-level null returns nil with
//     no error.
//   - Arrays are 1-based sequences; objects are tables with string keys (a
//     key like "1" stays the string "1"). Of duplicate keys the last wins.
//     {} and [] both decode to an empty table.
//   - Numbers are Lua numbers (float64): integers beyond 2^53 lose
//     precision; a number too large for a float64 (1e400) is an error; one
//     too small (1e-400) is 0; -0 stays -0.
//   - Strings are fully unescaped: \uXXXX surrogate pairs become one UTF-8
//     character, a lone surrogate becomes U+FFFD (as encoding/json does).
//     Raw bytes that are not valid UTF-8 are kept as they are. Control
//     characters (below 0x20) must be escaped.
//   - The input is exactly one JSON value with optional surrounding
//     whitespace (space, tab, CR, LF); anything after it is an error, as
//     are an empty input, a byte order mark, comments, NaN, Infinity,
//     single quotes, trailing commas and leading zeros. Arrays and objects
//     may nest 512 deep.
//
// Encoding (json.encode, and the value json.set writes):
//
//   - Output is compact, with object keys sorted bytewise, so the same
//     value always encodes to the same string.
//   - nil is null; booleans and strings as themselves. Strings are escaped
//     as Go's encoding/json escapes them (and so gopher-json, the usual
//     gopher-lua JSON module, which encodes through it): ", \ and control
//     characters, and also <, >, & (as \u003c, \u003e, \u0026) and U+2028,
//     U+2029; each byte that is not valid UTF-8 becomes \ufffd.
//   - Numbers are formatted as encoding/json formats a float64: integral
//     values without a fraction (3, not 3.0; 1e20 as 100000000000000000000),
//     others in the shortest form that reads back to the same value (0.1,
//     1.5e-7, 1e+21). NaN and ±Inf are errors.
//   - A table whose keys are exactly 1..n is an array. An empty table is
//     [] (as gopher-json encodes it). A table with at least one string key
//     is an object; its number keys, if any, become strings ({1, x=2}
//     encodes as {"1":1,"x":2}) and a number key that collides with a
//     string key ([1] and ["1"]) is an error. A table with only number
//     keys that are not 1..n is an array with holes: the holes encode as
//     null ({[1]=1, [3]=3} is [1,null,3]), so a decoded array with nulls
//     encodes back the same; keys that are not positive integers, or so
//     sparse that the array would be more than twice as long as the table
//     (and longer than 10), are an error. Keys of other types (booleans,
//     tables) are an error. Metatables are ignored.
//   - A table nested in itself is an error ("json.encode: table contains
//     a cycle"); the same table reached twice by different paths is
//     encoded twice. Functions, userdata, threads and channels are errors.
//     Errors inside a table name where the value is, as in "json.encode:
//     cannot encode a function (at .handlers[2])".
//
// Compared with gopher-json: its decode drops null array elements (moving
// the later ones down) where we leave a hole; its encode refuses tables
// with both number and string keys, arrays with holes, and a table
// reached twice without a cycle, all of which we encode as above.
//
// json.get(s, path) returns the value at a gjson path
// (github.com/tidwall/gjson syntax: "a.b", "commits.0.id",
// "commits.#.id", "commits.#(id==\"x\").message") without decoding the
// rest of the document: objects and arrays come back decoded as above,
// strings, numbers and booleans as themselves, and a missing path or a
// null as nil with no error. s must be valid JSON (as json.decode accepts
// it), else nil, err; the check scans s without building anything.
//
// json.set(s, path, v) returns s with v written at an sjson path
// (github.com/tidwall/sjson syntax: "a.b", "list.1", "list.-1" appends),
// creating the objects and arrays on the way. v is encoded as json.encode
// encodes it (nil writes null; tables become nested JSON). s must be
// valid JSON, or empty to start a new document; the rest of s is kept
// byte for byte. A query path (with # or @) only replaces a value that
// exists: one that matches nothing leaves s as it was.
func JSON() runtime.Module {
	return runtime.Module{Name: "json", Open: func(L *lua.LState) *lua.LTable {
		// The scratch space is per Lua state: a state runs one call at a
		// time, and neither codec calls back into Lua.
		m := &jsonModule{}
		return newModule(L, map[string]lua.LGFunction{
			"decode": m.decode,
			"encode": m.encode,
			"get":    m.get,
			"set":    m.set,
		})
	}}
}

// jsonModule holds the scratch buffers reused across calls on one state.
type jsonModule struct {
	dec jsonDecoder
	enc jsonEncoder
}

func (m *jsonModule) decode(L *lua.LState) int {
	s := L.CheckString(1)
	v, err := m.dec.decode(L, s)
	if err != nil {
		return fail(L, "json.decode: %v", err)
	}
	L.Push(v)
	return 1
}

func (m *jsonModule) encode(L *lua.LState) int {
	out, err := m.enc.encode(runtime.CallOf(L), L.Get(1))
	if err != nil {
		return fail(L, "json.encode: %v", err)
	}
	L.Push(lua.LString(out))
	return 1
}

func (m *jsonModule) get(L *lua.LState) int {
	s := L.CheckString(1)
	path := L.CheckString(2)
	if err := m.dec.validate(s); err != nil {
		return fail(L, "json.get: %v", err)
	}
	res := gjson.Get(s, path)
	switch res.Type {
	case gjson.False:
		L.Push(lua.LFalse)
	case gjson.True:
		L.Push(lua.LTrue)
	case gjson.Number:
		L.Push(lua.LNumber(res.Num))
	case gjson.String:
		if strings.IndexByte(res.Raw, '\\') >= 0 {
			// Unescape as json.decode does (surrogates included).
			if v, err := m.dec.decode(L, res.Raw); err == nil {
				L.Push(v)
				break
			}
		}
		L.Push(lua.LString(res.Str))
	case gjson.JSON:
		v, err := m.dec.decode(L, res.Raw)
		if err != nil {
			return fail(L, "json.get: %v", err)
		}
		L.Push(v)
	default: // missing, or null
		L.Push(lua.LNil)
	}
	return 1
}

func (m *jsonModule) set(L *lua.LState) int {
	s := L.CheckString(1)
	path := L.CheckString(2)
	raw, err := m.enc.encode(runtime.CallOf(L), L.Get(3))
	if err != nil {
		return fail(L, "json.set: %v", err)
	}
	if strings.TrimLeft(s, " \t\r\n") == "" {
		s = ""
	} else if err := m.dec.validate(s); err != nil {
		return fail(L, "json.set: %v", err)
	}
	out, err := sjson.SetRaw(s, path, raw)
	if err != nil {
		return fail(L, "json.set: %v", err)
	}
	L.Push(lua.LString(out))
	return 1
}

// jsonSyntaxError is bad JSON at a byte offset.
type jsonSyntaxError struct {
	msg    string
	offset int
}

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.msg, e.offset)
}

// jsonDecoder is a single-pass scanner that builds Lua values as it goes.
// Array elements and object members wait on a shared stack until their
// container closes, so each table is made once, at its final size.
type jsonDecoder struct {
	L    *lua.LState
	call *runtime.Call // nil outside an invocation
	// order holds the key order of this document's objects, for their
	// deferred iteration index; a new slice per document, since the
	// invocation keeps it.
	order []string
	s     string
	pos   int
	depth int
	build bool // false: only validate
	vals  []lua.LValue
	keys  []string
	buf   []byte // unescaped string bytes
}

// Scratch larger than these is dropped after a call rather than kept for
// the next one.
const (
	jsonKeepStack = 4096
	jsonKeepBytes = 64 << 10
)

// decode parses s into a Lua value.
func (d *jsonDecoder) decode(L *lua.LState, s string) (lua.LValue, error) {
	d.L = L
	d.call = runtime.CallOf(L)
	d.order = nil
	if d.call != nil {
		// About one key per 40 bytes of JSON; appending grows it past that.
		d.order = make([]string, 0, len(s)/40+8)
	}
	return d.run(s, true)
}

// validate checks that s is one JSON value, as decode would accept it,
// without building anything.
func (d *jsonDecoder) validate(s string) error {
	_, err := d.run(s, false)
	return err
}

func (d *jsonDecoder) run(s string, build bool) (lua.LValue, error) {
	d.s, d.pos, d.depth, d.build = s, 0, 0, build
	defer d.reset()
	d.skipSpace()
	if d.pos == len(s) {
		if len(s) == 0 {
			return nil, &jsonSyntaxError{"empty input", 0}
		}
		return nil, d.errEOF()
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(s) {
		return nil, d.errorf(d.pos, "unexpected %s after the top-level value", jsonQuoteByte(s[d.pos]))
	}
	return v, nil
}

// reset drops what the last call left: the input and, after an error,
// the values of unclosed containers.
func (d *jsonDecoder) reset() {
	d.L, d.s, d.call, d.order = nil, "", nil, nil
	clear(d.vals)
	clear(d.keys)
	d.vals, d.keys = d.vals[:0], d.keys[:0]
	if cap(d.vals) > jsonKeepStack {
		d.vals = nil
	}
	if cap(d.keys) > jsonKeepStack {
		d.keys = nil
	}
	if cap(d.buf) > jsonKeepBytes {
		d.buf = nil
	}
}

func (d *jsonDecoder) errorf(offset int, format string, args ...any) error {
	return &jsonSyntaxError{fmt.Sprintf(format, args...), offset}
}

func (d *jsonDecoder) errEOF() error {
	return &jsonSyntaxError{"unexpected end of input", len(d.s)}
}

// jsonQuoteByte shows a byte in an error message.
func jsonQuoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		if c == '\'' {
			return `"'"`
		}
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (d *jsonDecoder) skipSpace() {
	s, i := d.s, d.pos
	for i < len(s) {
		switch s[i] {
		case ' ', '\n', '\r', '\t':
			i++
			continue
		}
		break
	}
	d.pos = i
}

// value parses the value that starts at d.pos (after whitespace).
func (d *jsonDecoder) value() (lua.LValue, error) {
	switch c := d.s[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		s, err := d.str()
		if err != nil || !d.build {
			return lua.LNil, err
		}
		return lua.LString(s), nil
	case 't':
		return d.literal("true", lua.LTrue)
	case 'f':
		return d.literal("false", lua.LFalse)
	case 'n':
		return d.literal("null", lua.LNil)
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return d.number()
		}
		return nil, d.errorf(d.pos, "unexpected %s looking for a value", jsonQuoteByte(c))
	}
}

func (d *jsonDecoder) literal(word string, v lua.LValue) (lua.LValue, error) {
	if !strings.HasPrefix(d.s[d.pos:], word) {
		return nil, d.errorf(d.pos, "invalid literal (expected %s)", word)
	}
	d.pos += len(word)
	return v, nil
}

// next skips whitespace and returns the next byte, or an error at the end.
func (d *jsonDecoder) next() (byte, error) {
	d.skipSpace()
	if d.pos >= len(d.s) {
		return 0, d.errEOF()
	}
	return d.s[d.pos], nil
}

func (d *jsonDecoder) enter() error {
	d.depth++
	if d.depth > jsonMaxDepth {
		return d.errorf(d.pos, "nesting deeper than %d levels", jsonMaxDepth)
	}
	return nil
}

func (d *jsonDecoder) array() (lua.LValue, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // [
	base := len(d.vals)
	c, err := d.next()
	if err != nil {
		return nil, err
	}
	if c != ']' {
		for {
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			if d.build {
				d.vals = append(d.vals, v)
			}
			if c, err = d.next(); err != nil {
				return nil, err
			}
			if c == ']' {
				break
			}
			if c != ',' {
				return nil, d.errorf(d.pos, "expected ',' or ']' after array element, found %s", jsonQuoteByte(c))
			}
			d.pos++
			if _, err = d.next(); err != nil {
				return nil, err
			}
		}
	}
	d.pos++ // ]
	d.depth--
	if !d.build {
		return lua.LNil, nil
	}
	elems := d.vals[base:]
	var t *lua.LTable
	if slices.Contains(elems, lua.LValue(lua.LNil)) {
		t = d.L.CreateTable(len(elems), 0)
		for i, v := range elems {
			t.RawSetInt(i+1, v)
		}
	} else {
		t = luatable.NewArray(d.L, elems)
	}
	clear(elems)
	d.vals = d.vals[:base]
	return t, nil
}

func (d *jsonDecoder) object() (lua.LValue, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // {
	vbase, kbase := len(d.vals), len(d.keys)
	c, err := d.next()
	if err != nil {
		return nil, err
	}
	if c != '}' {
		for {
			if c != '"' {
				return nil, d.errorf(d.pos, "expected a string for an object key, found %s", jsonQuoteByte(c))
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if c, err = d.next(); err != nil {
				return nil, err
			}
			if c != ':' {
				return nil, d.errorf(d.pos, "expected ':' after object key, found %s", jsonQuoteByte(c))
			}
			d.pos++
			if _, err = d.next(); err != nil {
				return nil, err
			}
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			if d.build {
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
			}
			if c, err = d.next(); err != nil {
				return nil, err
			}
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, d.errorf(d.pos, "expected ',' or '}' after object value, found %s", jsonQuoteByte(c))
			}
			d.pos++
			if c, err = d.next(); err != nil {
				return nil, err
			}
		}
	}
	d.pos++ // }
	d.depth--
	if !d.build {
		return lua.LNil, nil
	}
	keys, vals := d.keys[kbase:], d.vals[vbase:]
	t := d.newObject(keys, vals)
	clear(keys)
	clear(vals)
	d.keys, d.vals = d.keys[:kbase], d.vals[:vbase]
	return t, nil
}

// newObject makes the table of an object's members; null members are
// left out.
func (d *jsonDecoder) newObject(keys []string, vals []lua.LValue) *lua.LTable {
	n := 0
	for _, v := range vals {
		if v != lua.LNil {
			n++
		}
	}
	if n == 0 {
		return d.L.CreateTable(0, 0)
	}
	// luatable sizes the table's key structures once, where RawSetString
	// would grow them member by member. Inside an invocation the table's
	// iteration index is left until something iterates it: most objects
	// are only read by key.
	var o luatable.Object
	if d.call != nil {
		o = luatable.NewDeferredObject(d.L, n)
		// The key order lives in one slice per document, not one per object.
		start := len(d.order)
		d.order = append(d.order, keys...)
		defer d.call.DeferIndex(o.Table(), d.order[start:len(d.order):len(d.order)])
	} else {
		o = luatable.NewObject(d.L, n)
	}
	t := o.Table()
	for i, v := range vals {
		if v == lua.LNil {
			// A null undoes an earlier duplicate key.
			if t.RawGetString(keys[i]) != lua.LNil {
				o.Set(keys[i], lua.LNil)
			}
			continue
		}
		o.Set(keys[i], v)
	}
	return t
}

// str parses the string that starts at d.pos. A string without escapes
// is returned as a slice of the input: no copy.
func (d *jsonDecoder) str() (string, error) {
	s := d.s
	start := d.pos + 1
	for i := start; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			d.pos = i + 1
			return s[start:i], nil
		case c == '\\' || c < 0x20:
			return d.strEscaped(start, i)
		}
	}
	return "", d.errorf(d.pos, "unterminated string")
}

// strEscaped finishes a string that has an escape or a control character
// at i.
func (d *jsonDecoder) strEscaped(start, i int) (string, error) {
	s := d.s
	b := append(d.buf[:0], s[start:i]...)
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = b
			if !d.build {
				return "", nil
			}
			return string(b), nil
		case c < 0x20:
			return "", d.errorf(i, "control character 0x%02x in string (must be escaped)", c)
		case c != '\\':
			// Copy the run up to the next special byte at once.
			j := i + 1
			for j < len(s) && s[j] != '"' && s[j] != '\\' && s[j] >= 0x20 {
				j++
			}
			b = append(b, s[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(s) {
			return "", d.errEOF()
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := jsonHex4(s, i+2)
			if !ok {
				return "", d.errorf(i, "invalid \\u escape (expected 4 hex digits)")
			}
			i += 6
			if utf16IsHigh(r) {
				// A pair makes one character; a lone half is U+FFFD.
				if r2, ok := jsonHex4(s, i+2); ok && s[i] == '\\' && s[i+1] == 'u' && utf16IsLow(r2) {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
				}
			}
			b = utf8.AppendRune(b, r) // a lone surrogate appends U+FFFD
			continue
		default:
			return "", d.errorf(i, "invalid escape %s in string", jsonQuoteEscape(e))
		}
		i += 2
	}
	d.buf = b
	return "", d.errorf(d.pos, "unterminated string")
}

func jsonQuoteEscape(e byte) string {
	if e >= 0x20 && e < 0x7f {
		return `'\` + string(rune(e)) + `'`
	}
	return `'\' followed by ` + jsonQuoteByte(e)
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }

// jsonHex4 reads 4 hex digits at s[i:].
func jsonHex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number parses the number that starts at d.pos.
func (d *jsonDecoder) number() (lua.LValue, error) {
	s := d.s
	start, i := d.pos, d.pos
	neg := s[i] == '-'
	if neg {
		i++
	}
	var mant uint64
	digits := 0
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			mant = mant*10 + uint64(s[i]-'0')
			digits++
		}
	default:
		return nil, d.errorf(start, "invalid number (expected a digit after '-')")
	}
	integer := true
	if i < len(s) && s[i] == '.' {
		integer = false
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return nil, d.errorf(start, "invalid number (expected a digit after '.')")
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return nil, d.errorf(start, "invalid number (expected a digit in the exponent)")
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	d.pos = i
	if integer && digits <= 15 {
		// Exact in a float64: no need for ParseFloat.
		if !d.build {
			return lua.LNil, nil
		}
		f := float64(mant)
		if neg {
			f = -f
		}
		return lua.LNumber(f), nil
	}
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		return nil, d.errorf(start, "number %s out of range", s[start:i])
	}
	if !d.build {
		return lua.LNil, nil
	}
	return lua.LNumber(f), nil
}

// jsonEncoder writes Lua values as JSON into a reused buffer.
type jsonEncoder struct {
	call  *runtime.Call // builds the index of decoded tables before Next
	buf   []byte
	path  []*lua.LTable // the tables being encoded, outermost first
	pairs []jsonMember
}

// jsonMember is a table entry waiting to be sorted.
type jsonMember struct {
	key   string  // string keys, and number keys of objects
	num   float64 // number keys
	isNum bool
	val   lua.LValue
}

// jsonEncodeError is an encoding error with where it happened, built as
// the error goes back up: ".a.b[2]".
type jsonEncodeError struct {
	msg   string
	where string
}

func (e *jsonEncodeError) Error() string {
	where := e.where
	if where == "" {
		return e.msg
	}
	if len(where) > 120 {
		cut := 120
		for cut > 0 && !utf8.RuneStart(where[cut]) {
			cut--
		}
		where = where[:cut] + "…"
	}
	return e.msg + " (at " + where + ")"
}

func (e *jsonEncoder) encode(call *runtime.Call, v lua.LValue) (string, error) {
	e.call = call
	defer func() { e.call = nil }()
	e.buf = e.buf[:0]
	err := e.value(v)
	clear(e.path)
	clear(e.pairs)
	e.path, e.pairs = e.path[:0], e.pairs[:0]
	if err != nil {
		return "", err
	}
	out := string(e.buf)
	if cap(e.buf) > jsonKeepBytes {
		e.buf = nil
	}
	if cap(e.pairs) > jsonKeepStack {
		e.pairs = nil
	}
	return out, nil
}

func (e *jsonEncoder) value(v lua.LValue) error {
	switch x := v.(type) {
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case lua.LBool:
		if x {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case lua.LNumber:
		var err error
		if e.buf, err = jsonAppendNumber(e.buf, float64(x)); err != nil {
			return &jsonEncodeError{msg: err.Error()}
		}
	case lua.LString:
		e.buf = jsonstr.Append(e.buf, string(x))
	case *lua.LTable:
		return e.table(x)
	default:
		return &jsonEncodeError{msg: "cannot encode a " + v.Type().String()}
	}
	return nil
}

func (e *jsonEncoder) table(t *lua.LTable) error {
	for _, p := range e.path {
		if p == t {
			return &jsonEncodeError{msg: errCycle.Error()}
		}
	}
	if len(e.path) >= jsonMaxDepth {
		return &jsonEncodeError{msg: fmt.Sprintf("nesting deeper than %d levels", jsonMaxDepth)}
	}
	e.path = append(e.path, t)
	err := e.tableBody(t)
	e.path = e.path[:len(e.path)-1]
	return err
}

func (e *jsonEncoder) tableBody(t *lua.LTable) error {
	if n := t.Len(); n > 0 {
		if _, ok := sequenceLen(t); ok {
			e.buf = append(e.buf, '[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					e.buf = append(e.buf, ',')
				}
				if err := e.value(t.RawGetInt(i)); err != nil {
					return jsonAt(err, "["+strconv.Itoa(i)+"]")
				}
			}
			e.buf = append(e.buf, ']')
			return nil
		}
	}

	base := len(e.pairs)
	defer func() {
		clear(e.pairs[base:])
		e.pairs = e.pairs[:base]
	}()
	// Next rather than ForEach: it hands out the table's own key values,
	// where ForEach boxes every key anew.
	strKeys := false
	if e.call != nil {
		e.call.EnsureIndex(t)
	}
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		switch kk := k.(type) {
		case lua.LString:
			strKeys = true
			e.pairs = append(e.pairs, jsonMember{key: string(kk), val: v})
		case lua.LNumber:
			e.pairs = append(e.pairs, jsonMember{num: float64(kk), isNum: true, val: v})
		default:
			return &jsonEncodeError{msg: "cannot encode a table with a " + k.Type().String() + " key"}
		}
	}
	members := e.pairs[base:]
	if len(members) == 0 {
		e.buf = append(e.buf, "[]"...)
		return nil
	}
	if !strKeys {
		return e.sparseArray(members)
	}
	for i := range members {
		m := &members[i]
		if m.isNum {
			b, err := jsonAppendNumber(nil, m.num)
			if err != nil {
				return &jsonEncodeError{msg: "cannot encode a table with the number key " + lua.LNumber(m.num).String()}
			}
			m.key = string(b)
		}
	}
	slices.SortFunc(members, func(a, b jsonMember) int { return strings.Compare(a.key, b.key) })
	for i := 1; i < len(members); i++ {
		if members[i].key == members[i-1].key {
			return &jsonEncodeError{msg: fmt.Sprintf("cannot encode a table with both the number key %s and the string key %q", members[i].key, members[i].key)}
		}
	}
	e.buf = append(e.buf, '{')
	end := len(e.pairs)
	for i := base; i < end; i++ {
		// Index e.pairs afresh: nested tables append to it.
		m := e.pairs[i]
		if i > base {
			e.buf = append(e.buf, ',')
		}
		e.buf = jsonstr.Append(e.buf, m.key)
		e.buf = append(e.buf, ':')
		if err := e.value(m.val); err != nil {
			return jsonAt(err, jsonKeyPath(m.key))
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// sparseArray encodes a table with only number keys that are not 1..n.
func (e *jsonEncoder) sparseArray(members []jsonMember) error {
	for _, m := range members {
		if m.num < 1 || m.num != math.Trunc(m.num) || m.num > math.MaxInt32 {
			return &jsonEncodeError{msg: "cannot encode a table with the number key " + lua.LNumber(m.num).String() + " (array keys are 1..n; use string keys for an object)"}
		}
	}
	slices.SortFunc(members, func(a, b jsonMember) int {
		if a.num < b.num {
			return -1
		}
		if a.num > b.num {
			return 1
		}
		return 0
	})
	n := int(members[len(members)-1].num)
	if n > 10 && n > 2*len(members) {
		return &jsonEncodeError{msg: fmt.Sprintf("cannot encode a sparse array (%d values, highest index %d)", len(members), n)}
	}
	base := len(e.pairs) - len(members)
	e.buf = append(e.buf, '[')
	next := 1
	for i := base; i < base+len(members); i++ {
		m := e.pairs[i]
		for ; next < int(m.num); next++ {
			e.buf = append(e.buf, "null,"...)
		}
		if err := e.value(m.val); err != nil {
			return jsonAt(err, "["+strconv.Itoa(next)+"]")
		}
		e.buf = append(e.buf, ',')
		next++
	}
	e.buf[len(e.buf)-1] = ']'
	return nil
}

// jsonAt prefixes where to an encoding error's location.
func jsonAt(err error, where string) error {
	if je, ok := err.(*jsonEncodeError); ok {
		je.where = where + je.where
	}
	return err
}

// jsonKeyPath shows an object key in an error location.
func jsonKeyPath(k string) string {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return "[" + strconv.Quote(k) + "]"
		}
	}
	if k == "" {
		return `[""]`
	}
	return "." + k
}

// jsonAppendNumber formats f as encoding/json formats a float64.
func jsonAppendNumber(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("cannot encode the number %s", lua.LNumber(f).String())
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
