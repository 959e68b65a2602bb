package main

import (
	"math"
	"math/bits"
	"time"
)

// histSub is the number of buckets per power of two: a latency is known to
// within 1/64 (under 1.6 %), and below 128 ns exactly.
const histSub = 64

// histogram counts latencies in log-linear buckets, so a long benchmark
// keeps a fixed amount of memory whatever the number of invocations.
type histogram struct {
	counts [64 * histSub]uint64
	n      uint64
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the latency below which a fraction q of the recorded
// ones fall (the middle of its bucket), or 0 when nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketValue(i))
		}
	}
	return time.Duration(bucketValue(len(h.counts) - 1))
}

// bucketOf maps ns to its bucket: exact below 2*histSub, then histSub
// buckets per power of two.
func bucketOf(ns uint64) int {
	if ns < histSub {
		return int(ns)
	}
	shift := bits.Len64(ns) - 7 // ns>>shift is in [64, 128)
	return (shift+1)*histSub + int(ns>>shift) - histSub
}

// bucketValue is the middle of bucket b.
func bucketValue(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	shift := b/histSub - 1
	low := uint64(b%histSub+histSub) << shift
	return low + (uint64(1)<<shift)/2
}
