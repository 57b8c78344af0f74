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
	for _, c := range counts {
		total += c
	}
	if total != 2 || sum < 6*time.Millisecond || sum > 6*time.Millisecond+time.Second {
		t.Fatalf("%d frames, sum %v: want 2 frames of a little over 3 ms", total, sum)
	}
	// Both frames came in one batch, so each waited half the sum; how much
	// over 3 ms depends on this machine's load, so the bucket follows the
	// measured wait rather than an assumed one.
	if want := bucket(sum / 2); counts[want] != 2 {
		t.Errorf("counts %v: want both frames in bucket %d (a wait of %v)", counts, want, sum/2)
	}
}
