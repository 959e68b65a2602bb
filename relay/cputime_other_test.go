//go:build !unix

package relay_test

import "time"

// processCPU reports that the platform's CPU time is not measured.
func processCPU() (time.Duration, bool) { return 0, false }
