package netlimit

import "testing"

// TestCapFor: 80% of the descriptor limit, within [MinConnections,
// MaxDefaultConnections].
func TestCapFor(t *testing.T) {
	for _, tt := range []struct{ limit, want int }{
		{1024, 819}, {256, 204}, {40, MinConnections}, {1 << 20, MaxDefaultConnections},
	} {
		if got := capFor(tt.limit); got != tt.want {
			t.Errorf("capFor(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}
