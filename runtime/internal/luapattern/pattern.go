// Copyright © 1994–2012 Lua.org, PUC-Rio (the matching algorithm, after
// lstrlib.c of Lua 5.1).
//
// Permission is hereby granted, free of charge, to any person obtaining a copy
// of this software and associated documentation files (the "Software"), to
// deal in the Software without restriction, including without limitation the
// rights to use, copy, modify, merge, publish, distribute, sublicense, and/or
// sell copies of the Software, and to permit persons to whom the Software is
// furnished to do so, subject to the following conditions:
//
// The above copyright notice and this permission notice shall be included in
// all copies or substantial portions of the Software.
//
// THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
// IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
// FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
// AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
// LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
// FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
// IN THE SOFTWARE.

// Package luapattern implements Lua 5.1 patterns (Lua 5.1 reference manual,
// §5.4.1) with bounded, interruptible matching.
//
// A pattern is compiled once with [Compile]; syntax errors are reported then,
// with Lua's messages, rather than when the matcher reaches them. Matching is
// Lua's backtracking algorithm, so its worst case is exponential in the
// number of pattern items; every match therefore runs on a [Budget] that
// counts its steps and periodically asks a check function (an invocation's
// ctx.Err, typically) whether to go on. Recursion is bounded by [MaxDepth]:
// a deeper match fails with [ErrTooComplex] instead of growing the Go stack.
//
// Positions are 0-based byte offsets. A match is reported as a slice of
// offsets: the whole match is [caps[0], caps[1]) and capture k (1-based) is
// [caps[2k], caps[2k+1]); a position capture has caps[2k] == caps[2k+1] == its
// offset (Lua reports offset+1).
//
// Patterns are byte strings: a NUL byte in a pattern is an ordinary
// character, as in Lua 5.2 and later.
package luapattern

import (
	"errors"
	"strings"
)

const (
	// MaxCaptures is how many captures a pattern may have (LUA_MAXCAPTURES).
	MaxCaptures = 32
	// MaxDepth bounds the matcher's recursion: every pattern item with a
	// quantifier that has to remember a position to come back to adds a
	// level while the rest of the pattern is tried. Lua 5.2 and later use
	// the same limit (MAXCCALLS).
	MaxDepth = 200
)

// ErrTooComplex is returned by a match that needs more than [MaxDepth]
// levels of recursion.
var ErrTooComplex = errors.New("pattern too complex")

// A SyntaxError is a malformed pattern. Its message is Lua 5.1's.
type SyntaxError struct {
	// Pattern is the pattern that failed to compile.
	Pattern string
	// Msg is Lua's error message, such as "malformed pattern (missing ']')".
	Msg string
}

// Error returns Lua's message.
func (e *SyntaxError) Error() string { return e.Msg }

type opcode uint8

const (
	opSingle   opcode = iota // one character of set, with quant
	opOpen                   // start of capture n
	opClose                  // end of capture n
	opPosition               // position capture n
	opBackref                // %n: the text of capture n again
	opFail                   // %n naming a position capture: never matches
	opBalance                // %bab
	opFrontier               // %f[set]
	opEnd                    // $ at the end of the pattern
)

// charset is a set of bytes.
type charset [4]uint64

func (s *charset) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }

func (s *charset) add(c byte) { s[c>>6] |= 1 << (c & 63) }

type item struct {
	op    opcode
	quant byte  // 0, '?', '*', '+' or '-' (opSingle)
	lit   bool  // opSingle: set holds exactly the byte a
	any   bool  // opSingle: set holds every byte
	a, b  byte  // the literal byte; the delimiters of %b
	n     uint8 // capture number, 1-based
	set   charset
}

// A Pattern is a compiled Lua pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	expr     string
	items    []item
	ncap     int
	posCaps  uint64 // bit k: capture k is a position capture
	anchored bool
	// prefix is literal text every match starts with; first, when hasFirst,
	// holds the bytes a match can start with. Both only speed up scanning.
	prefix   string
	first    charset
	hasFirst bool
}

// Compile parses a Lua pattern. A leading '^' anchors the pattern at the
// starting position of a match (to match a literal '^' there, escape it as
// "%^", which is what string.gmatch does).
func Compile(pattern string) (*Pattern, error) {
	p := &Pattern{expr: pattern, items: make([]item, 0, len(pattern))}
	var open []int    // captures started and not yet closed
	var closed uint64 // bit k: capture k is closed
	fail := func(msg string) (*Pattern, error) {
		return nil, &SyntaxError{Pattern: pattern, Msg: msg}
	}
	i := 0
	if strings.HasPrefix(pattern, "^") {
		p.anchored = true
		i = 1
	}
	for i < len(pattern) {
		c := pattern[i]
		var next byte
		if i+1 < len(pattern) {
			next = pattern[i+1]
		}
		switch {
		case c == '(':
			if p.ncap == MaxCaptures {
				return fail("too many captures")
			}
			p.ncap++
			if i+1 < len(pattern) && next == ')' {
				p.items = append(p.items, item{op: opPosition, n: uint8(p.ncap)})
				p.posCaps |= 1 << p.ncap
				closed |= 1 << p.ncap
				i += 2
			} else {
				p.items = append(p.items, item{op: opOpen, n: uint8(p.ncap)})
				open = append(open, p.ncap)
				i++
			}
		case c == ')':
			if len(open) == 0 {
				return fail("invalid pattern capture")
			}
			n := open[len(open)-1]
			open = open[:len(open)-1]
			closed |= 1 << n
			p.items = append(p.items, item{op: opClose, n: uint8(n)})
			i++
		case c == '$' && i+1 == len(pattern):
			p.items = append(p.items, item{op: opEnd})
			i++
		case c == '%' && i+1 < len(pattern) && next == 'b':
			if i+3 >= len(pattern) {
				return fail("unbalanced pattern")
			}
			p.items = append(p.items, item{op: opBalance, a: pattern[i+2], b: pattern[i+3]})
			i += 4
		case c == '%' && i+1 < len(pattern) && next == 'f':
			i += 2
			if i >= len(pattern) || pattern[i] != '[' {
				return fail("missing '[' after '%f' in pattern")
			}
			ep, msg := classEnd(pattern, i)
			if msg != "" {
				return fail(msg)
			}
			it := item{op: opFrontier}
			for ch := 0; ch < 256; ch++ {
				if matchBracket(byte(ch), pattern, i, ep-1) {
					it.set.add(byte(ch))
				}
			}
			p.items = append(p.items, it)
			i = ep
		case c == '%' && i+1 < len(pattern) && '0' <= next && next <= '9':
			n := int(next - '0')
			if n == 0 || n > p.ncap || closed&(1<<n) == 0 {
				return fail("invalid capture index")
			}
			if p.posCaps&(1<<n) != 0 {
				// Lua compares a position capture's length (-2) as a
				// huge unsigned number: it never matches.
				p.items = append(p.items, item{op: opFail, n: uint8(n)})
			} else {
				p.items = append(p.items, item{op: opBackref, n: uint8(n)})
			}
			i += 2
		default:
			ep, msg := classEnd(pattern, i)
			if msg != "" {
				return fail(msg)
			}
			it := single(pattern, i, ep)
			if ep < len(pattern) && strings.IndexByte("?*+-", pattern[ep]) >= 0 {
				it.quant = pattern[ep]
				ep++
			}
			p.items = append(p.items, it)
			i = ep
		}
	}
	if len(open) > 0 {
		return fail("unfinished capture")
	}
	p.scanHints()
	return p, nil
}

// scanHints finds what every match must start with.
func (p *Pattern) scanHints() {
	k := 0
	for k < len(p.items) && (p.items[k].op == opOpen || p.items[k].op == opPosition) {
		k++
	}
	var prefix []byte
	for j := k; j < len(p.items) && p.items[j].op == opSingle && p.items[j].lit && p.items[j].quant == 0; j++ {
		prefix = append(prefix, p.items[j].a)
	}
	if len(prefix) > 0 {
		p.prefix = string(prefix)
		return
	}
	if k < len(p.items) && p.items[k].op == opSingle && !p.items[k].any &&
		(p.items[k].quant == 0 || p.items[k].quant == '+') {
		p.first = p.items[k].set
		p.hasFirst = true
	}
}

// String returns the source of the pattern.
func (p *Pattern) String() string { return p.expr }

// NumCaptures returns the number of captures in the pattern.
func (p *Pattern) NumCaptures() int { return p.ncap }

// IsPosition reports whether capture k (1-based) is a position capture, "()".
func (p *Pattern) IsPosition(k int) bool {
	return k >= 1 && k <= p.ncap && p.posCaps&(1<<k) != 0
}

// Anchored reports whether the pattern starts with '^'.
func (p *Pattern) Anchored() bool { return p.anchored }

// classEnd returns the end of the single-character class starting at i, or
// Lua's error message.
func classEnd(p string, i int) (int, string) {
	c := p[i]
	i++
	switch c {
	case '%':
		if i >= len(p) {
			return 0, "malformed pattern (ends with '%')"
		}
		return i + 1, ""
	case '[':
		if i < len(p) && p[i] == '^' {
			i++
		}
		// The first character of a set is a member even if it is ']'.
		for {
			if i >= len(p) {
				return 0, "malformed pattern (missing ']')"
			}
			c := p[i]
			i++
			if c == '%' && i < len(p) {
				i++ // skip escapes such as %]
			}
			if i < len(p) && p[i] == ']' {
				return i + 1, ""
			}
		}
	}
	return i, ""
}

// single compiles the class p[i:ep] into an opSingle item.
func single(p string, i, ep int) item {
	it := item{op: opSingle}
	switch p[i] {
	case '.':
		it.any = true
		it.set = charset{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	case '%':
		cl := p[i+1]
		if !isClass(cl) {
			it.lit, it.a = true, cl
			it.set.add(cl)
			break
		}
		for ch := 0; ch < 256; ch++ {
			if matchClass(byte(ch), cl) {
				it.set.add(byte(ch))
			}
		}
	case '[':
		for ch := 0; ch < 256; ch++ {
			if matchBracket(byte(ch), p, i, ep-1) {
				it.set.add(byte(ch))
			}
		}
	default:
		it.lit, it.a = true, p[i]
		it.set.add(p[i])
	}
	return it
}

func isClass(cl byte) bool {
	switch cl | 0x20 { // only 'X' and 'x' have 'x' as cl|0x20
	case 'a', 'c', 'd', 'l', 'p', 's', 'u', 'w', 'x', 'z':
		return true
	}
	return false
}

// matchClass is Lua's match_class in the C locale: cl is the letter after
// '%'; any other byte stands for itself.
func matchClass(c, cl byte) bool {
	var res bool
	switch cl | 0x20 {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = c < 0x20 || c == 0x7f
	case 'd':
		res = '0' <= c && c <= '9'
	case 'l':
		res = 'a' <= c && c <= 'z'
	case 'p':
		res = 0x21 <= c && c <= 0x2f || 0x3a <= c && c <= 0x40 || 0x5b <= c && c <= 0x60 || 0x7b <= c && c <= 0x7e
	case 's':
		res = c == ' ' || '\t' <= c && c <= '\r'
	case 'u':
		res = 'A' <= c && c <= 'Z'
	case 'w':
		res = isAlpha(c) || '0' <= c && c <= '9'
	case 'x':
		res = '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if 'a' <= cl && cl <= 'z' {
		return res
	}
	return !res
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// matchBracket is Lua's matchbracketclass: p[i] is '[' and p[ec] its
// closing ']'.
func matchBracket(c byte, p string, i, ec int) bool {
	sig := true
	if p[i+1] == '^' {
		sig = false
		i++
	}
	for i++; i < ec; i++ {
		switch {
		case p[i] == '%':
			i++
			if matchClass(c, p[i]) {
				return sig
			}
		case p[i+1] == '-' && i+2 < ec:
			i += 2
			if p[i-2] <= c && c <= p[i] {
				return sig
			}
		case p[i] == c:
			return sig
		}
	}
	return !sig
}
