package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"time"
)

// Duration is a time.Duration on the wire: written as a Go duration string
// ("5s"), read from one or from a JSON number of nanoseconds.
type Duration time.Duration

// DurationType is Duration's type, as a *json.UnmarshalTypeError names it:
// a decoder can tell a bad duration from other type errors.
var DurationType = reflect.TypeFor[Duration]()

// String returns the duration as Go writes it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return &json.UnmarshalTypeError{Value: strconv.Quote(s), Type: DurationType}
		}
		*d = Duration(v)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: DurationType}
	}
	*d = Duration(n)
	return nil
}
