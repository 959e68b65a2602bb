// Package unixtime encodes the times both stores keep as Unix nanoseconds
// in UTC, the zero time as 0, so that a time reads back alike whichever
// store kept it.
package unixtime

import "time"

// Now is the time records are stamped with, in UTC.
func Now() time.Time { return time.Now().UTC() }

// Nanos encodes t as Unix nanoseconds, the zero time as 0.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Time decodes a time encoded by Nanos, in UTC; 0 decodes to the zero time.
func Time(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
