package sched

import (
	"slices"
	"strings"
	"testing"

	"github.com/govs/gvs/ipvs"
)

func cycleNames(c []*ipvs.Dest) string {
	var names []string
	for _, d := range c {
		names = append(names, rsName(d.Addr()))
	}
	return strings.Join(names, " ")
}

// Cycle is the order Schedule takes from its next pick on, one full round
// (what a kernel program repeats for the engine: ipvs.Engine.KernelPlans),
// from a fresh bind and from every position of the round, and it does not
// move the scheduler; weight-0 servers are left out, and a cycle longer
// than the limit is refused.
func TestCycle(t *testing.T) {
	for _, tc := range []struct {
		sched   string
		weights []int32
	}{
		{"rr", []int32{1, 1, 1}}, {"rr", []int32{5, 0, 2}},
		{"wrr", []int32{4, 3, 2}}, {"wrr", []int32{3, 1}}, {"wrr", []int32{2, 4, 6}}, {"wrr", []int32{5, 0, 1}},
	} {
		h := newHarness(t, pinScheduler, 0, tc.weights...)
		s := h.instance(tc.sched)
		c := s.(ipvs.Cycler)
		first := c.Cycle(h.svc, 64)
		if len(first) == 0 {
			t.Fatalf("%s %v: no cycle", tc.sched, tc.weights)
		}
		for at := range len(first) + 2 {
			cycle := cycleNames(c.Cycle(h.svc, 64))
			if want := h.picks(s, len(first)); cycle != want {
				t.Errorf("%s %v after %d picks: Cycle %q, Schedule %q", tc.sched, tc.weights, at, cycle, want)
			}
			h.picks(s, 1) // on to the next position (the round above left the scheduler where it was)
		}
		if len(first) > 1 && c.Cycle(h.svc, len(first)-1) != nil {
			t.Errorf("%s %v: a cycle of %d within a limit of %d", tc.sched, tc.weights, len(first), len(first)-1)
		}
	}
}

// A connection the kernel scheduled moves the engine's scheduler as its
// own pick would: the engine's next pick, and its next plan, continue
// the sequence where the kernel left it, so handing scheduling to the
// kernel and back does not restart the round.
func TestKernelHandOver(t *testing.T) {
	for _, tc := range []struct {
		sched   string
		weights []int32
	}{{"rr", []int32{1, 1, 1}}, {"wrr", []int32{3, 2, 1}}} {
		h := newHarness(t, tc.sched, 0)
		for _, w := range tc.weights {
			h.add(w)
		}
		var round []string // the plan from a fresh bind: the whole sequence, repeated
		for i := range 20 {
			plans := h.e.KernelPlans(64)
			if len(plans) != 1 {
				t.Fatalf("%s: %d plans", tc.sched, len(plans))
			}
			var slots []string
			for _, s := range plans[0].Slots {
				slots = append(slots, rsName(h.dest(destNumber(t, h, s.DestID)).Addr()))
			}
			if round == nil {
				round = slots
			}
			at := i % len(round)
			want := strings.Join(append(slices.Clone(round[at:]), round[:at]...), " ")
			if got := strings.Join(slots, " "); got != want {
				t.Fatalf("%s, connection %d: plan %q, want it to start at the engine's next pick: %q", tc.sched, i, got, want)
			}
			next := strings.Fields(want)[0]
			if i%3 == 2 { // the engine's own pick
				if got := h.next(1, true); got != next {
					t.Fatalf("%s, connection %d: engine picked %s, want %s", tc.sched, i, got, next)
				}
				continue
			}
			f := h.flow()
			v := h.w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, KernelDest: plans[0].Slots[0].DestID}, h.tick())
			if v.Action != ipvs.ActionForward || rsName(v.Dest) != next {
				t.Fatalf("%s, connection %d: the kernel's pick bound to %v, want %s", tc.sched, i, v.Dest, next)
			}
		}
	}
}

// destNumber is n of rs<n>, the destination with engine id id.
func destNumber(t *testing.T, h *harness, id uint32) int {
	for n := 1; n <= h.nrs; n++ {
		if h.dest(n).ID() == id {
			return n
		}
	}
	t.Fatalf("no destination with id %d", id)
	return 0
}
