package relay

import (
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
		{"http://user:pw@127.0.0.1:8080/a%2Fb", "/c", "", false, "http://user:pw@127.0.0.1:8080/a/b/c"},
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
