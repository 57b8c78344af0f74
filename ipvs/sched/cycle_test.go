package sched

import (
	"strings"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// Cycle is the order Schedule takes from a fresh bind, one full round
// (what a kernel program repeats for the engine: ipvs.Engine.KernelPlans);
// weight-0 servers are left out, and a cycle longer than the limit is
// refused.
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
		cycle := s.(ipvs.Cycler).Cycle(h.svc, 64)
		var names []string
		for _, d := range cycle {
			names = append(names, rsName(d.Addr()))
		}
		got := strings.Join(names, " ")
		if want := h.picks(s, len(cycle)); got != want || len(cycle) == 0 {
			t.Errorf("%s %v: Cycle %q, Schedule from a fresh bind %q", tc.sched, tc.weights, got, want)
		}
		if len(cycle) > 1 && s.(ipvs.Cycler).Cycle(h.svc, len(cycle)-1) != nil {
			t.Errorf("%s %v: a cycle of %d within a limit of %d", tc.sched, tc.weights, len(cycle), len(cycle)-1)
		}
	}
}
