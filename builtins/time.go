package builtins

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones for time.format and time.parse on machines without zoneinfo

	lua "github.com/yuin/gopher-lua"

	"github.com/relayfn/relayfn/runtime"
)

// Bounds of the timestamps time.format accepts: years 1 to 9999.
const (
	timeMinUnix = -62135596800
	timeMaxUnix = 253402300799
)

// timeLayouts are Go's named layouts, set as string fields of the module
// (time.RFC3339 and so on).
var timeLayouts = map[string]string{
	"Layout":      time.Layout,
	"ANSIC":       time.ANSIC,
	"UnixDate":    time.UnixDate,
	"RubyDate":    time.RubyDate,
	"RFC822":      time.RFC822,
	"RFC822Z":     time.RFC822Z,
	"RFC850":      time.RFC850,
	"RFC1123":     time.RFC1123,
	"RFC1123Z":    time.RFC1123Z,
	"RFC3339":     time.RFC3339,
	"RFC3339Nano": time.RFC3339Nano,
	"Kitchen":     time.Kitchen,
	"Stamp":       time.Stamp,
	"StampMilli":  time.StampMilli,
	"StampMicro":  time.StampMicro,
	"StampNano":   time.StampNano,
	"DateTime":    time.DateTime,
	"DateOnly":    time.DateOnly,
	"TimeOnly":    time.TimeOnly,
}

// Time is the "time" module, compatible with Webhook Relay's:
//
//	time.unix()                     → seconds since the Unix epoch, with a fraction
//	time.format(ts, layout[, zone]) → string, err
//	time.parse(s, layout[, zone])   → seconds since the epoch (with a fraction), err
//
// and, beyond Webhook Relay's:
//
//	time.now_rfc3339()              → the current time as RFC 3339 in UTC, to the second
//	time.RFC3339, time.RFC1123, …   → Go's named layouts as strings
//
// Layouts are Go's (the reference time "2006-01-02T15:04:05Z07:00"); a
// missing layout means RFC 3339. zone is an IANA name such as
// "Europe/Vilnius" and defaults to UTC: format shows the time in it, parse
// reads times that carry no offset of their own in it. Timestamps are
// floats, so format keeps microseconds (it rounds to the nearest one) and
// accepts years 1 to 9999. There is no sleep.
func Time() runtime.Module {
	return runtime.Module{Name: "time", Open: func(L *lua.LState) *lua.LTable {
		t := newModule(L, map[string]lua.LGFunction{
			"unix":        timeUnix,
			"format":      timeFormat,
			"parse":       timeParse,
			"now_rfc3339": timeNowRFC3339,
		})
		for name, layout := range timeLayouts {
			t.RawSetString(name, lua.LString(layout))
		}
		return t
	}}
}

func timeUnix(L *lua.LState) int {
	L.Push(lua.LNumber(timeSeconds(time.Now())))
	return 1
}

func timeNowRFC3339(L *lua.LState) int {
	L.Push(lua.LString(time.Now().UTC().Format(time.RFC3339)))
	return 1
}

func timeFormat(L *lua.LState) int {
	const fn = "time.format"
	t, err := timeArgTimestamp(L, fn, 1)
	if err != nil {
		return failErr(L, err)
	}
	layout, err := timeArgLayout(L, fn, 2)
	if err != nil {
		return failErr(L, err)
	}
	loc, err := timeArgZone(L, fn, 3)
	if err != nil {
		return failErr(L, err)
	}
	L.Push(lua.LString(t.In(loc).Format(layout)))
	return 1
}

func timeParse(L *lua.LState) int {
	const fn = "time.parse"
	s, err := codecArg(L, fn, 1, "value")
	if err != nil {
		return failErr(L, err)
	}
	layout, err := timeArgLayout(L, fn, 2)
	if err != nil {
		return failErr(L, err)
	}
	loc, err := timeArgZone(L, fn, 3)
	if err != nil {
		return failErr(L, err)
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return fail(L, "%s: %v", fn, err)
	}
	L.Push(lua.LNumber(timeSeconds(t)))
	return 1
}

// timeSeconds is t as float seconds since the epoch.
func timeSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// timeArgTimestamp reads argument n as float seconds since the epoch (a
// number, or a string holding one) and rounds it to the microsecond: a
// float64 holds today's timestamps to about a quarter of a microsecond, and
// rounding keeps 1.123 from formatting as 1.122999.
func timeArgTimestamp(L *lua.LState, fn string, n int) (time.Time, error) {
	var f float64
	switch v := L.Get(n).(type) {
	case lua.LNumber:
		f = float64(v)
	case lua.LString:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(string(v)), 64); err != nil {
			return time.Time{}, fmt.Errorf("%s: argument #%d (timestamp) %q is not a number", fn, n, string(v))
		}
	default:
		return time.Time{}, fmt.Errorf("%s: argument #%d (timestamp) must be a number, got %s", fn, n, v.Type())
	}
	if math.IsNaN(f) || f < timeMinUnix || f > timeMaxUnix {
		return time.Time{}, fmt.Errorf("%s: timestamp %v is outside years 1 to 9999", fn, f)
	}
	sec := math.Floor(f)
	micros := math.Round((f - sec) * 1e6)
	return time.Unix(int64(sec), int64(micros)*1000), nil
}

// timeArgLayout reads argument n as a layout; nil means RFC 3339.
func timeArgLayout(L *lua.LState, fn string, n int) (string, error) {
	if L.Get(n) == lua.LNil {
		return time.RFC3339, nil
	}
	return codecArg(L, fn, n, "layout")
}

// timeArgZone reads argument n as an IANA zone name; nil or "" is UTC.
func timeArgZone(L *lua.LState, fn string, n int) (*time.Location, error) {
	if L.Get(n) == lua.LNil {
		return time.UTC, nil
	}
	name, err := codecArg(L, fn, n, "zone")
	if err != nil || name == "" {
		return time.UTC, err
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%s: unknown time zone %q", fn, name)
	}
	return loc, nil
}
