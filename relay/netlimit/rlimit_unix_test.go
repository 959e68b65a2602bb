//go:build unix

package netlimit

import (
	"syscall"
	"testing"
)

// TestFileLimit: the soft RLIMIT_NOFILE is read.
func TestFileLimit(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skip(err)
	}
	if got := fileLimit(); uint64(got) != uint64(rl.Cur) {
		t.Errorf("fileLimit() = %d, want %d", got, rl.Cur)
	}
}
