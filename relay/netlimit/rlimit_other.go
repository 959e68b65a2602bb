//go:build !unix

package netlimit

// fileLimit is 1024 where the descriptor limit cannot be read.
func fileLimit() int { return 1024 }
