package headerjson

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestAppend(t *testing.T) {
	tests := []http.Header{
		nil,
		{},
		{"Content-Type": {"application/json"}},
		{"X-Many": {"a", "b", ""}, "Accept": {"*/*"}, "X-Nil": nil, "X-Empty": {}},
		{"X-Quote": {`say "hi" \ there`}, "X-Ctl": {"a\nb\rc\td\x00e\x1f\x7f"}},
		{"X-Utf8": {"héllo — 世界 🌍"}, "X-Html": {"<a href='x'>&</a>"}, "X-Sep": {"\u2028\u2029"}},
		{"X-Bad": {"ok\xffbad\xc3(", "\xed\xa0\x80"}},
	}
	for _, h := range tests {
		got := Append(nil, h)
		// encoding/json is the reference: the same bytes.
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("Append(%q) =\n%s\nencoding/json:\n%s", h, got, want)
		}
		var back http.Header
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("Append(%q) = %s: not JSON: %v", h, got, err)
		}
	}
}

// BenchmarkHeaderJSON compares Append with its baseline,
// encoding/json, on a webhook's usual headers.
func BenchmarkHeaderJSON(b *testing.B) {
	h := http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {"GitHub-Hookshot/abc123"},
		"X-Github-Event":    {"push"},
		"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		"X-Hub-Signature":   {"sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		"Accept":            {"*/*"},
	}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Append(nil, h)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
