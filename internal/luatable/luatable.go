// Package luatable builds gopher-lua tables faster than its public API
// allows: presized string-keyed tables and whole-table clones.
//
// gopher-lua's LTable keeps string keys in three places (a map from key to
// value, an insertion-ordered key slice and a map from key to position, for
// next()), and its RawSetString grows all three one key at a time. Building
// a decoded JSON object or copying a library table per invocation spends
// most of its time there. This package writes those fields directly, sized
// once. It relies on LTable's field layout in gopher-lua v1.1.2, which
// [Available] verifies with reflection; when the layout differs (another
// gopher-lua version), every function falls back to the public API, so the
// results are the same, only slower.
package luatable

import (
	"maps"
	"reflect"
	"slices"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// layout mirrors lua.LTable's fields.
type layout struct {
	Metatable lua.LValue
	array     []lua.LValue
	dict      map[lua.LValue]lua.LValue
	strdict   map[string]lua.LValue
	keys      []lua.LValue
	k2i       map[lua.LValue]int
}

// Available reports whether lua.LTable has the layout this package writes.
func Available() bool { return layoutOK }

// layoutOK is computed once from the types alone: a constant in effect.
var layoutOK = checkLayout()

func checkLayout() bool {
	got := reflect.TypeFor[lua.LTable]()
	want := reflect.TypeFor[layout]()
	if got.Size() != want.Size() || got.NumField() != want.NumField() {
		return false
	}
	for i := 0; i < got.NumField(); i++ {
		g, w := got.Field(i), want.Field(i)
		if g.Name != w.Name || g.Type != w.Type || g.Offset != w.Offset {
			return false
		}
	}
	return true
}

func fields(t *lua.LTable) *layout { return (*layout)(unsafe.Pointer(t)) }

// Clone returns a shallow copy of t (keys and values, not the metatable).
func Clone(L *lua.LState, t *lua.LTable) *lua.LTable {
	if !layoutOK {
		c := L.NewTable()
		t.ForEach(func(k, v lua.LValue) { c.RawSet(k, v) })
		return c
	}
	c := &lua.LTable{Metatable: lua.LNil}
	src, dst := fields(t), fields(c)
	dst.array = slices.Clone(src.array)
	if src.dict != nil {
		dst.dict = maps.Clone(src.dict)
	}
	if src.strdict != nil {
		dst.strdict = maps.Clone(src.strdict)
	}
	if src.keys != nil {
		dst.keys = slices.Clone(src.keys)
		dst.k2i = maps.Clone(src.k2i)
	}
	return c
}

// Object builds a table with string keys.
type Object struct {
	t *lua.LTable
	f *layout
	// deferred objects fill only the key → value map; their iteration
	// index is built later, by BuildIndex, if the table is ever iterated.
	deferred bool
}

// NewObject starts a table for n string keys.
func NewObject(L *lua.LState, n int) Object {
	if !layoutOK {
		return Object{t: L.CreateTable(0, n)}
	}
	t := &lua.LTable{Metatable: lua.LNil}
	f := fields(t)
	f.strdict = make(map[string]lua.LValue, n)
	f.keys = make([]lua.LValue, 0, n)
	f.k2i = make(map[lua.LValue]int, n)
	return Object{t: t, f: f}
}

// NewDeferredObject starts a table for n string keys without its iteration
// index (the ordered key list and key → position map that next() walks).
// Lookups and stores work at once; before anything iterates the table,
// BuildIndex must give it the index. Building the index only for tables
// that are iterated saves a map per table: most decoded JSON objects are
// only read by key. Without the expected layout it is NewObject.
func NewDeferredObject(L *lua.LState, n int) Object {
	if !layoutOK {
		return NewObject(L, n)
	}
	t := &lua.LTable{Metatable: lua.LNil}
	f := fields(t)
	f.strdict = make(map[string]lua.LValue, n)
	return Object{t: t, f: f, deferred: true}
}

// BuildIndex gives a table made by NewDeferredObject its iteration index:
// the keys of order first (those still present), then keys added since
// (gopher-lua indexed them as they were set), then any other key. It is
// safe on any table; a table whose index is complete is left alone.
func BuildIndex(t *lua.LTable, order []string) {
	if !layoutOK {
		return
	}
	f := fields(t)
	if len(f.k2i) >= len(f.strdict) && order == nil {
		return
	}
	keys := make([]lua.LValue, 0, len(order)+len(f.keys))
	k2i := make(map[lua.LValue]int, len(order)+len(f.keys))
	add := func(k lua.LValue) {
		if _, ok := k2i[k]; ok {
			return
		}
		k2i[k] = len(keys)
		keys = append(keys, k)
	}
	for _, k := range order {
		if f.strdict[k] != nil {
			add(lua.LString(k))
		}
	}
	for _, k := range f.keys {
		add(k)
	}
	if len(k2i) < len(f.strdict)+len(f.dict) {
		for k := range f.strdict {
			add(lua.LString(k))
		}
		for k := range f.dict {
			add(k)
		}
	}
	f.keys, f.k2i = keys, k2i
}

// Set sets key to v, as RawSetString does (a nil v removes the key).
func (o Object) Set(key string, v lua.LValue) {
	if o.deferred && v != lua.LNil {
		o.f.strdict[key] = v
		return
	}
	if o.f == nil || v == lua.LNil {
		o.t.RawSetString(key, v)
		return
	}
	o.f.strdict[key] = v
	lk := lua.LValue(lua.LString(key))
	if _, ok := o.f.k2i[lk]; !ok {
		o.f.k2i[lk] = len(o.f.keys)
		o.f.keys = append(o.f.keys, lk)
	}
}

// Table returns the table built.
func (o Object) Table() *lua.LTable { return o.t }

// NewArray returns a table whose array part holds vals (1-based in Lua).
// vals must not contain nil; the slice is copied.
func NewArray(L *lua.LState, vals []lua.LValue) *lua.LTable {
	if !layoutOK {
		t := L.CreateTable(len(vals), 0)
		for i, v := range vals {
			t.RawSetInt(i+1, v)
		}
		return t
	}
	t := &lua.LTable{Metatable: lua.LNil}
	if len(vals) > 0 {
		fields(t).array = slices.Clone(vals)
	}
	return t
}

// Compact returns a copy of t's string-keyed and array entries in tables
// sized exactly: a template to Clone from, with nothing spare to copy.
func Compact(L *lua.LState, t *lua.LTable) *lua.LTable {
	n := 0
	t.ForEach(func(k, _ lua.LValue) { n++ })
	o := NewObject(L, n)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if s, ok := k.(lua.LString); ok {
			o.Set(string(s), v)
		} else {
			o.t.RawSet(k, v)
		}
	}
	return o.t
}
