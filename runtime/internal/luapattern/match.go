package luapattern

import "strings"

// DefaultInterval is the number of steps between two calls of a
// [Budget]'s check when its Interval is zero.
const DefaultInterval = 4096

// A Budget meters the work of matches. Every attempt of the matcher to
// match the rest of a pattern at a position is a step, and so is every byte
// a repetition, back-reference or %b scans; every Interval steps the Check
// function is called, and a non-nil error ends the match with that error.
//
// One Budget may serve many matches (all the matches of one string.gsub,
// say), one at a time. The zero value never stops a match; after Check has
// returned an error, every later match with the Budget fails with it.
type Budget struct {
	// Check reports whether matching may go on, typically ctx.Err.
	Check func() error
	// Interval is the number of steps between calls of Check;
	// DefaultInterval when zero or negative.
	Interval int

	left   int   // steps until the next check
	filled int   // what left was set to at the last check
	total  int64 // steps before the last check
	err    error
}

// Steps returns the number of steps counted so far.
func (b *Budget) Steps() int64 { return b.total + int64(b.filled-b.left) }

// Err returns the error Check returned, if any.
func (b *Budget) Err() error { return b.err }

// check is the slow path of a step: it counts the steps since the last
// check, calls Check and starts a new interval.
func (b *Budget) check() error {
	if b.err != nil {
		return b.err
	}
	b.total += int64(b.filled - b.left)
	n := b.Interval
	if n <= 0 {
		n = DefaultInterval
	}
	b.left, b.filled = n, n
	if b.Check != nil {
		b.err = b.Check()
	}
	return b.err
}

const (
	noMatch = -1
	aborted = -2 // the budget or the depth limit ended the match; see matcher.err
)

// matcher is the state of one match of a pattern against a subject.
type matcher struct {
	p     *Pattern
	items []item
	src   string
	caps  []int
	depth int
	b     *Budget
	own   Budget // b when the caller gives none
	err   error
}

// reset prepares m to match p against src on b.
func (m *matcher) reset(p *Pattern, src string, b *Budget) {
	*m = matcher{p: p, items: p.items, src: src, caps: make([]int, 2+2*p.ncap), b: b}
	if b == nil {
		m.b = &m.own
	}
}

// Match finds the first match of p in src at or after byte offset init (at
// init only, when p is anchored). It returns the offsets of the match and
// its captures as described in the package documentation, or ok false when
// there is no match. err is the budget's error or [ErrTooComplex]; b may be
// nil for an unmetered match, still bounded in depth.
func (p *Pattern) Match(src string, init int, b *Budget) (caps []int, ok bool, err error) {
	var m matcher
	m.reset(p, src, b)
	if m.find(init) {
		return m.caps, true, nil
	}
	return nil, false, m.err
}

// An Iter walks the successive matches of a pattern in a subject, as
// string.gmatch and string.gsub do in Lua 5.1: after a match the search goes
// on where it ended, or one byte further when it was empty, and an anchored
// pattern is tried only once. Matches are found one at a time, when Next is
// called.
type Iter struct {
	m    matcher
	pos  int
	done bool
}

// Iter returns an iterator over the matches of p in src from byte offset
// init on, metered by b (nil for none).
func (p *Pattern) Iter(src string, init int, b *Budget) *Iter {
	it := &Iter{pos: max(init, 0)}
	it.m.reset(p, src, b)
	return it
}

// Next finds the next match and reports whether there was one. After it
// returns false, Err tells whether the iteration ended or was stopped.
func (it *Iter) Next() bool {
	if it.done {
		return false
	}
	if it.pos > len(it.m.src) || !it.m.find(it.pos) {
		it.done = true
		return false
	}
	if it.m.p.anchored {
		it.done = true
	}
	if start, end := it.m.caps[0], it.m.caps[1]; end > start {
		it.pos = end
	} else {
		it.pos = start + 1
	}
	return true
}

// Captures returns the offsets of the current match and its captures. The
// slice is reused by the next call of Next.
func (it *Iter) Captures() []int { return it.m.caps }

// Err returns the error that stopped the iteration: the budget's error or
// [ErrTooComplex]. It is nil when the matches ran out.
func (it *Iter) Err() error { return it.m.err }

// find looks for a match starting at init or later and fills m.caps.
func (m *matcher) find(init int) bool {
	p, src := m.p, m.src
	if init < 0 {
		init = 0
	}
	if m.b.err != nil {
		m.err = m.b.err
		return false
	}
	for s := init; s <= len(src); s++ {
		if !p.anchored {
			if p.prefix != "" {
				k := strings.Index(src[s:], p.prefix)
				if k < 0 {
					return false
				}
				s += k
			} else if p.hasFirst {
				for s < len(src) && !p.first.has(src[s]) {
					s++
				}
				if s == len(src) {
					return false
				}
			}
		}
		m.depth = 0
		switch e := m.match(s, 0); e {
		case aborted:
			return false
		case noMatch:
		default:
			m.caps[0], m.caps[1] = s, e
			return true
		}
		if p.anchored {
			break
		}
	}
	return false
}

// sub matches the items from pi on at s one level deeper.
func (m *matcher) sub(s, pi int) int {
	if m.depth >= MaxDepth {
		m.err = ErrTooComplex
		return aborted
	}
	m.depth++
	e := m.match(s, pi)
	m.depth--
	return e
}

// match matches the items from pi on at s and returns the end of the match,
// noMatch or aborted. It is Lua's match with captures kept by number: a
// capture's offsets are written when the matcher passes its parentheses,
// and the successful path passes them all last, so failed paths need no
// undoing.
func (m *matcher) match(s, pi int) int {
	b := m.b
	b.left--
	if b.left < 0 {
		if err := b.check(); err != nil {
			m.err = err
			return aborted
		}
	}
	src, items := m.src, m.items
	for pi < len(items) {
		it := &items[pi]
		switch it.op {
		case opSingle:
			switch it.quant {
			case 0:
				if s >= len(src) || !it.set.has(src[s]) {
					return noMatch
				}
				s++
				pi++
			case '?':
				if s < len(src) && it.set.has(src[s]) {
					if e := m.sub(s+1, pi+1); e != noMatch {
						return e
					}
				}
				pi++
			case '*':
				return m.maxExpand(s, pi)
			case '+':
				if s >= len(src) || !it.set.has(src[s]) {
					return noMatch
				}
				return m.maxExpand(s+1, pi)
			default: // '-'
				return m.minExpand(s, pi)
			}
		case opOpen:
			m.caps[2*int(it.n)] = s
			pi++
		case opClose:
			m.caps[2*int(it.n)+1] = s
			pi++
		case opPosition:
			m.caps[2*int(it.n)], m.caps[2*int(it.n)+1] = s, s
			pi++
		case opBackref:
			c := src[m.caps[2*int(it.n)]:m.caps[2*int(it.n)+1]]
			if len(src)-s < len(c) || src[s:s+len(c)] != c {
				return noMatch
			}
			b.left -= len(c)
			s += len(c)
			pi++
		case opFail:
			return noMatch
		case opBalance:
			if s >= len(src) || src[s] != it.a {
				return noMatch
			}
			e := balance(src, s, it.a, it.b)
			if e < 0 {
				b.left -= len(src) - s
				return noMatch
			}
			b.left -= e - s
			s = e
			pi++
		case opFrontier:
			var prev, cur byte
			if s > 0 {
				prev = src[s-1]
			}
			if s < len(src) {
				cur = src[s]
			}
			if it.set.has(prev) || !it.set.has(cur) {
				return noMatch
			}
			pi++
		case opEnd:
			if s != len(src) {
				return noMatch
			}
			pi++
		}
	}
	return s
}

// balance returns the end of the %bab match starting with the a at s, or
// noMatch.
func balance(src string, s int, a, b byte) int {
	depth := 1
	for s++; s < len(src); s++ {
		if c := src[s]; c == b {
			if depth--; depth == 0 {
				return s + 1
			}
		} else if c == a {
			depth++
		}
	}
	return noMatch
}

// maxExpand matches the greedy repetition items[pi] at s, longest first.
func (m *matcher) maxExpand(s, pi int) int {
	it := &m.items[pi]
	src := m.src
	n := 0
	if it.any {
		n = len(src) - s
	} else {
		for s+n < len(src) && it.set.has(src[s+n]) {
			n++
		}
	}
	m.b.left -= n
	if pi+1 == len(m.items) {
		return s + n
	}
	// When a literal byte must come next, try only where it is.
	next := &m.items[pi+1]
	lit := next.op == opSingle && next.lit && next.quant == 0
	for i := n; i >= 0; i-- {
		if lit && (s+i >= len(src) || src[s+i] != next.a) {
			continue
		}
		if e := m.sub(s+i, pi+1); e != noMatch {
			return e
		}
	}
	return noMatch
}

// minExpand matches the lazy repetition items[pi] at s, shortest first.
func (m *matcher) minExpand(s, pi int) int {
	it := &m.items[pi]
	src := m.src
	var next *item
	if pi+1 < len(m.items) && m.items[pi+1].op == opSingle && m.items[pi+1].lit && m.items[pi+1].quant == 0 {
		next = &m.items[pi+1]
	}
	for {
		if next == nil || s < len(src) && src[s] == next.a {
			if e := m.sub(s, pi+1); e != noMatch {
				return e
			}
		}
		if s >= len(src) || !it.set.has(src[s]) {
			return noMatch
		}
		s++
		if next != nil {
			m.b.left--
		}
	}
}
