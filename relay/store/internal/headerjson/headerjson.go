// Package headerjson encodes an http.Header as JSON, the bytes
// encoding/json makes of it, without reflection: both stores keep every
// webhook's headers in this form.
package headerjson

import (
	"net/http"
	"slices"

	"github.com/relayfn/relayfn/internal/jsonstr"
)

// Append appends h as a JSON object of string arrays, keys in
// order: the bytes encoding/json makes of an http.Header, in a fraction of
// the time, since every webhook's headers are stored. A nil h is null.
func Append(b []byte, h http.Header) []byte {
	if h == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(h))
	n := 2
	for k, vs := range h {
		keys = append(keys, k)
		n += len(k) + 6
		for _, v := range vs {
			n += len(v) + 3
		}
	}
	slices.Sort(keys)
	b = slices.Grow(b, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		vs := h[k]
		if vs == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, v := range vs {
			if j > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
