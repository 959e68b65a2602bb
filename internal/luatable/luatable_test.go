package luatable

import (
	"fmt"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestLayoutMatchesGopherLua(t *testing.T) {
	if !Available() {
		t.Fatal("lua.LTable's layout changed: update layout to the new gopher-lua version")
	}
}

// TestSameAsPublicAPI builds tables both ways and compares everything Lua
// can observe: lookups, length, and pairs order.
func TestSameAsPublicAPI(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	keys := []string{"b", "a", "c", "a", "zz"}
	pub := L.NewTable()
	obj := NewObject(L, len(keys))
	for i, k := range keys {
		pub.RawSetString(k, lua.LNumber(i))
		obj.Set(k, lua.LNumber(i))
	}
	arr := NewArray(L, []lua.LValue{lua.LString("x"), lua.LNumber(2), lua.LTrue})
	pubArr := L.NewTable()
	for i, v := range []lua.LValue{lua.LString("x"), lua.LNumber(2), lua.LTrue} {
		pubArr.RawSetInt(i+1, v)
	}
	for _, c := range []struct{ a, b *lua.LTable }{{pub, obj.Table()}, {pubArr, arr}, {pub, Clone(L, pub)}, {pubArr, Clone(L, pubArr)}} {
		if dump(c.a) != dump(c.b) {
			t.Fatalf("tables differ:\n%s\n%s", dump(c.a), dump(c.b))
		}
	}
	// A clone is independent of its source.
	c := Clone(L, pub)
	c.RawSetString("new", lua.LTrue)
	if pub.RawGetString("new") != lua.LNil {
		t.Fatal("clone shares storage with its source")
	}
	// The tables work with Lua code too.
	L.SetGlobal("o", obj.Table())
	L.SetGlobal("arr", arr)
	if err := L.DoString(`
		assert(#arr == 3 and arr[1] == "x" and arr[3] == true)
		local n = 0 for k, v in pairs(o) do n = n + 1 end
		assert(n == 4 and o.a == 3)
		o.d = 1 table.insert(arr, 4) assert(#arr == 4)
	`); err != nil {
		t.Fatal(err)
	}
}

func dump(t *lua.LTable) string {
	s := fmt.Sprintf("len=%d;", t.Len())
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		s += fmt.Sprintf("%v=%v;", k, v)
	}
	return s
}

// TestDeferredObject builds a table without its iteration index, changes
// it the ways Lua code can, and checks that BuildIndex gives pairs the
// original order followed by the keys added since.
func TestDeferredObject(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	keys := []string{"c", "a", "b"}
	o := NewDeferredObject(L, len(keys))
	for i, k := range keys {
		o.Set(k, lua.LNumber(i))
	}
	order := keys
	tb := o.Table()
	if tb.RawGetString("a") != lua.LNumber(1) {
		t.Fatal("lookup before the index is built")
	}
	tb.RawSetString("d", lua.LTrue)  // added: gopher-lua starts a partial index
	tb.RawSetString("a", lua.LNil)   // removed
	tb.RawSetString("c", lua.LFalse) // replaced
	BuildIndex(tb, order)
	if got, want := dump(tb), "len=0;c=false;b=2;d=true;"; got != want {
		t.Fatalf("after BuildIndex: %s, want %s", got, want)
	}
	BuildIndex(tb, nil) // complete already: unchanged
	if got := dump(tb); got != "len=0;c=false;b=2;d=true;" {
		t.Fatalf("a second BuildIndex changed the table: %s", got)
	}
}
