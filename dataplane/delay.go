package dataplane

import (
	"sync/atomic"
	"time"
)

// ReceiveDelayBounds are the upper bounds of the receive-delay histogram's
// buckets (a last bucket takes the rest). The delay is the time from the
// kernel putting a frame in a worker's ring to the worker taking it: the
// wake-up and queueing a packet pays for passing through user space, the
// part of GVS's added latency that is not its own processing.
var ReceiveDelayBounds = [...]time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond,
	250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond,
	5 * time.Millisecond, 10 * time.Millisecond,
}

// delayHistogram counts delays into ReceiveDelayBounds' buckets. One
// worker writes it; readers load the counters.
type delayHistogram struct {
	counts [len(ReceiveDelayBounds) + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// bucket returns the index of d's bucket.
func bucket(d time.Duration) int {
	i := 0
	for i < len(ReceiveDelayBounds) && d > ReceiveDelayBounds[i] {
		i++
	}
	return i
}

// observeBatch counts the delays of a batch of frames taken at now
// (nanoseconds since the Unix epoch), with one atomic add per bucket
// used rather than per frame.
func (h *delayHistogram) observeBatch(now int64, frames []RxFrame) {
	var counts [len(ReceiveDelayBounds) + 1]uint32
	var sum int64
	for i := range frames {
		d := time.Duration(max(now-frames[i].Stamp, 0))
		counts[bucket(d)]++
		sum += int64(d)
	}
	for i, c := range counts {
		if c != 0 {
			h.counts[i].Add(uint64(c))
		}
	}
	h.sum.Add(sum)
}

// ReceiveDelay returns the workers' receive-delay histogram, summed:
// counts[i] frames waited at most bounds[i] (and more than the bound
// before); the last count, longer than every bound. Ports that do not
// stamp frames count nothing.
func (d *Dataplane) ReceiveDelay() (bounds []time.Duration, counts []uint64, sum time.Duration) {
	counts = make([]uint64, len(ReceiveDelayBounds)+1)
	for _, w := range d.workers {
		for i := range counts {
			counts[i] += w.delay.counts[i].Load()
		}
		sum += time.Duration(w.delay.sum.Load())
	}
	return ReceiveDelayBounds[:], counts, sum
}
