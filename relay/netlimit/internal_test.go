package netlimit

import "testing"

// TestDefaultMaxConnections: 80% of the soft RLIMIT_NOFILE, within
// [MinConnections, MaxDefaultConnections].
func TestDefaultMaxConnections(t *testing.T) {
	if got, want := DefaultMaxConnections(), capFor(fileLimit()); got != want {
		t.Errorf("DefaultMaxConnections() = %d, want %d (descriptor limit %d)", got, want, fileLimit())
	}
	for _, tt := range []struct{ limit, want int }{
		{1024, 819}, {256, 204}, {40, MinConnections}, {1 << 20, MaxDefaultConnections},
	} {
		if got := capFor(tt.limit); got != tt.want {
			t.Errorf("capFor(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}
