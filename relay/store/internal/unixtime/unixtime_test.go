package unixtime

import (
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, in := range []time.Time{
		{},
		time.Unix(0, 1).UTC(),
		time.Date(2026, 12, 5, 22, 50, 0, 123456789, time.FixedZone("x", 3600)),
	} {
		n := Nanos(in)
		if in.IsZero() && n != 0 {
			t.Errorf("Nanos(zero) = %d, want 0", n)
		}
		out := Time(n)
		if !out.Equal(in) || out.Location() != time.UTC && !out.IsZero() {
			t.Errorf("Time(Nanos(%v)) = %v, want the same instant in UTC", in, out)
		}
	}
	if loc := Now().Location(); loc != time.UTC {
		t.Errorf("Now().Location() = %v, want UTC", loc)
	}
}
