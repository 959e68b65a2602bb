//go:build unix

package netlimit

import "syscall"

// fileLimit is the soft RLIMIT_NOFILE, or 1024 when it cannot be read.
func fileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 || rl.Cur > 1<<31 {
		return 1024
	}
	return int(rl.Cur)
}
