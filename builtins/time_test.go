package builtins_test

import (
	"strconv"
	"testing"
	"time"
)

func TestTimeFormat(t *testing.T) {
	cases := []struct{ src, want string }{
		// Webhook Relay's example layout, UTC by default
		{`print(time.format(1692451292, "2006-01-02T15:04:05Z07:00"))`, "2023-08-19T13:21:32Z"},
		{`print(time.format(1692451292, time.RFC3339, "UTC"))`, "2023-08-19T13:21:32Z"},
		{`print(time.format(1692451292, time.RFC3339, ""))`, "2023-08-19T13:21:32Z"},
		{`print(time.format(1692451292, time.RFC3339, "Europe/Vilnius"))`, "2023-08-19T16:21:32+03:00"},
		{`print(time.format(1692451292, time.RFC3339, "America/New_York"))`, "2023-08-19T09:21:32-04:00"},
		{`print(time.format(1704164645, time.RFC1123, "Europe/Vilnius"))`, "Tue, 02 Jan 2024 05:04:05 EET"},
		{`print(time.format(1704164645, time.RFC1123))`, "Tue, 02 Jan 2024 03:04:05 UTC"},
		{`print(time.format(1704164645, "Jan _2 15:04", "Asia/Kolkata"))`, "Jan  2 08:34"},
		{`print(time.format(0))`, "1970-01-01T00:00:00Z"},
		{`print(time.format("1704164645", time.DateTime))`, "2024-01-02 03:04:05"},
		// fractions survive to the microsecond, rounded
		{`print(time.format(1704164645.123, "2006-01-02T15:04:05.000Z07:00"))`, "2024-01-02T03:04:05.123Z"},
		{`print(time.format(1704164645.25, time.RFC3339Nano))`, "2024-01-02T03:04:05.25Z"},
		{`print(time.format(-1.5, time.RFC3339Nano))`, "1969-12-31T23:59:58.5Z"},
		{`print(time.format(1704164645.9999999, time.RFC3339Nano))`, "2024-01-02T03:04:06Z"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}

func TestTimeParse(t *testing.T) {
	cases := []struct{ src, want string }{
		{`print(time.parse("2024-01-02T03:04:05Z", time.RFC3339))`, "1704164645"},
		{`print(time.parse("2024-01-02T03:04:05Z"))`, "1704164645"},
		{`print(time.parse("2024-01-02T05:04:05+02:00", "2006-01-02T15:04:05Z07:00"))`, "1704164645"},
		{`print(string.format("%.6f", time.parse("2024-01-02T03:04:05.123Z", time.RFC3339)))`, "1704164645.123000"},
		// a time with no offset of its own is read in the zone given
		{`print(time.parse("2024-01-02 03:04:05", time.DateTime))`, "1704164645"},
		{`print(time.parse("2024-01-02 05:04:05", time.DateTime, "Europe/Vilnius"))`, "1704164645"},
		{`print(time.parse("2023-08-19 09:21:32", time.DateTime, "America/New_York"))`, "1692451292"},
		// an explicit offset wins over the zone
		{`print(time.parse("2024-01-02T03:04:05Z", time.RFC3339, "Europe/Vilnius"))`, "1704164645"},
		// gopher-lua-libs' example, which Webhook Relay's time module follows
		{`print(time.parse("Dec  2 03:33:05 2018", "Jan  2 15:04:05 2006"))`, "1543721585"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	src := `
for _, zone in ipairs({"UTC", "Europe/Vilnius", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"}) do
  for _, ts in ipairs({0, 1704164645, 1692451292.5, 1711846800, 1730595600.125, 4102444800}) do
    for _, l in ipairs({{time.RFC3339Nano, ts}, {"2006-01-02 15:04:05.000000", ts}, {time.RFC1123Z, math.floor(ts)}}) do
      local layout, want = l[1], l[2]
      local s = assert(time.format(ts, layout, zone))
      local back = assert(time.parse(s, layout, zone))
      assert(back == want, zone .. " " .. layout .. ": " .. s .. " parsed as " .. back .. ", want " .. want)
    end
  end
end
print("ok")
`
	codecExpect(t, src, "ok")
}

func TestTimeNow(t *testing.T) {
	before := float64(time.Now().UnixNano()) / 1e9
	logs := codecLogs(t, `print(string.format("%.6f", time.unix())) print(time.now_rfc3339())`)
	after := float64(time.Now().UnixNano()) / 1e9
	if len(logs) != 2 {
		t.Fatalf("logs %q", logs)
	}
	now, err := strconv.ParseFloat(logs[0], 64)
	if err != nil || now < before-1e-6 || now > after+1e-6 {
		t.Errorf("time.unix() = %s, want within [%f, %f]", logs[0], before, after)
	}
	ts, err := time.Parse(time.RFC3339, logs[1])
	if err != nil || ts.Location() != time.UTC || ts.Unix() < int64(before) || ts.Unix() > int64(after) {
		t.Errorf("time.now_rfc3339() = %s (%v), want a UTC time within the run", logs[1], err)
	}
}

func TestTimeErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`print(time.format(1, time.RFC3339, "Mars/Olympus"))`, `nil	time.format: unknown time zone "Mars/Olympus"`},
		{`print(time.format(1, time.RFC3339, "../../etc/passwd"))`, `nil	time.format: unknown time zone "../../etc/passwd"`},
		{`print(time.parse("2024-01-02", time.DateOnly, "Nowhere/City"))`, `nil	time.parse: unknown time zone "Nowhere/City"`},
		{`print(time.format(1, time.RFC3339, {}))`, "nil\ttime.format: argument #3 (zone) must be a string, got table"},
		{`print(time.format(nil, time.RFC3339))`, "nil\ttime.format: argument #1 (timestamp) must be a number, got nil"},
		{`print(time.format("soon", time.RFC3339))`, `nil	time.format: argument #1 (timestamp) "soon" is not a number`},
		{`print(time.format(0/0))`, "nil\ttime.format: timestamp NaN is outside years 1 to 9999"},
		{`print(time.format(1e300))`, "nil\ttime.format: timestamp 1e+300 is outside years 1 to 9999"},
		{`print(time.format(1, {}))`, "nil\ttime.format: argument #2 (layout) must be a string, got table"},
		{`print(time.parse("nope", time.RFC3339))`, `nil	time.parse: parsing time "nope" as "2006-01-02T15:04:05Z07:00": cannot parse "nope" as "2006"`},
		{`print(time.parse(nil, time.RFC3339))`, "nil\ttime.parse: argument #1 (value) must be a string, got nil"},
		{`print(time.sleep, time.unix_nano)`, "nil\tnil"},
		{`print(time.RFC3339, time.DateTime, time.Kitchen)`, "2006-01-02T15:04:05Z07:00\t2006-01-02 15:04:05\t3:04PM"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}
