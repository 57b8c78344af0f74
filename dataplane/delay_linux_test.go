package dataplane

import (
	"testing"
	"time"

	"github.com/govs/gvs/packet"
)

func TestDelayHistogramBuckets(t *testing.T) {
	var h delayHistogram
	now := time.Now().UnixNano()
	var frames []RxFrame
	for _, d := range []time.Duration{-time.Second, 0, 10 * time.Microsecond, 11 * time.Microsecond, 3 * time.Millisecond, time.Minute} {
		frames = append(frames, RxFrame{Stamp: now - int64(d)})
	}
	h.observeBatch(now, frames[:3])
	h.observeBatch(now, frames[3:])
	want := map[int]uint64{0: 3, 1: 1, 8: 1, len(ReceiveDelayBounds): 1} // a backward clock step counts as 0
	for i := range h.counts {
		if got := h.counts[i].Load(); got != want[i] {
			t.Errorf("bucket %d (bound %v): %d, want %d", i, ReceiveDelayBounds[min(i, len(ReceiveDelayBounds)-1)], got, want[i])
		}
	}
	if got := time.Duration(h.sum.Load()); got != time.Minute+3*time.Millisecond+21*time.Microsecond {
		t.Errorf("sum %v", got)
	}
}

// A worker measures each frame's wait from the port's receive stamp.
func TestWorkerReceiveDelay(t *testing.T) {
	e := newTestEnv(t)
	e.eth0.stamp = time.Now().Add(-3 * time.Millisecond).UnixNano()
	e.in(e.eth0, mkFrame(t, client4, vipNAT, 40000, 80, fopt{flags: packet.TCPSyn}), mkFrame(t, client4, vipNAT, 40001, 80, fopt{flags: packet.TCPSyn}))
	e.eth0.stamp = 0 // a port without stamps counts nothing
	e.in(e.eth0, mkFrame(t, client4, vipNAT, 40002, 80, fopt{flags: packet.TCPSyn}))
	bounds, counts, sum := e.d.ReceiveDelay()
	if len(counts) != len(bounds)+1 {
		t.Fatalf("%d counts for %d bounds", len(counts), len(bounds))
	}
	var total uint64
	for i, c := range counts {
		total += c
		if c > 0 && (i == 0 || bounds[i-1] >= 3*time.Millisecond || (i < len(bounds) && bounds[i] < 3*time.Millisecond)) {
			t.Errorf("%d frames in bucket %d, want them in the one holding 3 ms", c, i)
		}
	}
	if total != 2 || sum < 6*time.Millisecond || sum > 6*time.Millisecond+time.Second {
		t.Fatalf("%d frames, sum %v: want 2 frames of a little over 3 ms", total, sum)
	}
}
