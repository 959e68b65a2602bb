package relay

import (
	"net/http"
	"net/url"
	"testing"
)

func TestDestinationURL(t *testing.T) {
	tests := []struct {
		dest, path, query string
		lock              bool
		want              string
	}{
		{"https://example.com/hooks", "", "", false, "https://example.com/hooks"},
		{"https://example.com/hooks", "/", "", false, "https://example.com/hooks"},
		{"https://example.com/hooks", "/github/push", "", false, "https://example.com/hooks/github/push"},
		{"https://example.com/hooks/", "github", "", false, "https://example.com/hooks/github"},
		{"https://example.com/hooks", "/github", "", true, "https://example.com/hooks"},
		{"https://example.com/hooks", "", "a=1", false, "https://example.com/hooks?a=1"},
		{"https://example.com/hooks?key=s3cret", "/x", "a=1&b=2", false, "https://example.com/hooks/x?key=s3cret&a=1&b=2"},
		{"https://example.com/hooks?key=s3cret", "/x", "a=1", true, "https://example.com/hooks?key=s3cret&a=1"},
		// The destination's and the caller's encodings are both kept.
		{"http://user:pw@127.0.0.1:8080/a%2Fb", "/c", "", false, "http://user:pw@127.0.0.1:8080/a%2Fb/c"},
	}
	for _, tt := range tests {
		dest, err := url.Parse(tt.dest)
		if err != nil {
			t.Fatal(err)
		}
		got := destinationURL(dest, tt.lock, &HTTPRequest{Path: tt.path, RawQuery: tt.query})
		if got.String() != tt.want {
			t.Errorf("destinationURL(%q, lock=%v, %q, %q) = %q, want %q", tt.dest, tt.lock, tt.path, tt.query, got, tt.want)
		}
		if dest.String() != tt.dest {
			t.Errorf("destinationURL changed the destination %q to %q", tt.dest, dest)
		}
	}
}

// TestDestinationURLRawPath: the caller's encoding of the extra path
// (RawPath) is kept, as httputil's joinURLPath keeps it.
func TestDestinationURLRawPath(t *testing.T) {
	tests := []struct{ dest, path, raw, want string }{
		{"https://example.com/base", "/a/b/c", "/a%2Fb/c", "https://example.com/base/a%2Fb/c"},
		{"https://example.com/b%2Fse/", "/a/b", "/a%2Fb", "https://example.com/b%2Fse/a%2Fb"},
		{"https://example.com/base", "/a b", "/a%20b", "https://example.com/base/a%20b"},
		// A RawPath that does not encode Path is ignored.
		{"https://example.com/base", "/x", "/a%2Fb", "https://example.com/base/x"},
		// A path a function set with dot-segments stays below the base.
		{"https://example.com/base/path", "/../../etc/passwd", "", "https://example.com/base/path/etc/passwd"},
		{"https://example.com/base/path", "/a/..\\..\\..\\admin", "", "https://example.com/base/path/admin"},
		{"https://example.com/base/path", "/a/./b/..", "/a/./b/..", "https://example.com/base/path/a"},
	}
	for _, tt := range tests {
		dest, err := url.Parse(tt.dest)
		if err != nil {
			t.Fatal(err)
		}
		got := destinationURL(dest, false, &HTTPRequest{Path: tt.path, RawPath: tt.raw})
		if got.String() != tt.want {
			t.Errorf("destinationURL(%q, %q raw %q) = %q, want %q", tt.dest, tt.path, tt.raw, got, tt.want)
		}
	}
}

// TestHasHopHeaders: the delivery copies a request's header only when
// stripping its hop-by-hop headers and Host would change it.
func TestHasHopHeaders(t *testing.T) {
	for _, h := range []http.Header{
		nil,
		{},
		{"Content-Type": {"application/json"}, "X-Relayed": {"1"}},
		{"Connection": {"X-Secret"}, "X-Secret": {"1"}},
		{"Keep-Alive": {"timeout=5"}},
		{"Te": {"trailers"}},
		{"Transfer-Encoding": {"chunked"}},
		{"Host": {"example.com"}},
		{"Proxy-Authorization": {"Basic eA=="}, "Accept": {"*/*"}},
		{"connection": {"close"}}, // not canonical: removeHopHeaders keeps it too
	} {
		stripped := h.Clone()
		if stripped == nil {
			stripped = http.Header{}
		}
		removeHopHeaders(stripped)
		stripped.Del("Host")
		want := len(stripped) != len(h)
		if got := hasHopHeaders(h); got != want {
			t.Errorf("hasHopHeaders(%v) = %v, want %v", h, got, want)
		}
	}
}
