package sched

import (
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
		cycle := func(limit int) []*ipvs.Dest {
			h.svc.Lock()
			defer h.svc.Unlock()
			return c.Cycle(h.svc, limit)
		}
		first := cycle(64)
		if len(first) == 0 {
			t.Fatalf("%s %v: no cycle", tc.sched, tc.weights)
		}
		for at := range len(first) + 2 {
			got := cycleNames(cycle(64))
			if want := h.picks(s, len(first)); got != want {
				t.Errorf("%s %v after %d picks: Cycle %q, Schedule %q", tc.sched, tc.weights, at, got, want)
			}
			h.picks(s, 1) // on to the next position (the round above left the scheduler where it was)
		}
		if len(first) > 1 && cycle(len(first)-1) != nil {
			t.Errorf("%s %v: a cycle of %d within a limit of %d", tc.sched, tc.weights, len(first), len(first)-1)
		}
	}
}

// Handing a service to the kernel and back keeps one round: the plan
// starts at the engine's next pick, a connection the kernel scheduled
// moves the engine's scheduler as its own pick would, an engine pick
// while the kernel schedules takes the kernel's next position, and after
// TakeBack the scheduler goes on from there. The whole sequence is the
// scheduler's own from a fresh bind.
func TestKernelHandOver(t *testing.T) {
	for _, tc := range []struct {
		sched   string
		weights []int32
	}{{"rr", []int32{1, 1, 1}}, {"wrr", []int32{3, 2, 1}}} {
		h := newHarness(t, tc.sched, 0, tc.weights...)
		seq := strings.Fields(h.next(2, true))
		// the kernel: its table and its position
		var table []uint32
		pos := 0
		kernel := func() (uint32, bool) {
			id := table[pos%len(table)]
			pos++
			return id, true
		}
		if err := h.e.HandOver(testSvc, 64, func(p ipvs.KernelPlan) (ipvs.KernelPicker, error) {
			for _, s := range p.Slots {
				table = append(table, s.DestID)
			}
			return kernel, nil
		}); err != nil {
			t.Fatal(err)
		}
		for i := range 11 { // 4 engine picks: not a whole round of either
			if i%3 == 1 { // a SYN that reached gvsd: the engine's own pick
				seq = append(seq, h.next(1, true))
				continue
			}
			id, _ := kernel()
			f := h.flow()
			v := h.w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, KernelDest: id}, h.tick())
			if v.Action != ipvs.ActionForward || v.DestID != id {
				t.Fatalf("%s: the kernel's pick %d: verdict %+v", tc.sched, id, v)
			}
			seq = append(seq, rsName(v.Dest))
		}
		h.e.TakeBack(testSvc)
		seq = append(seq, strings.Fields(h.next(5, true))...)
		fresh := newHarness(t, tc.sched, 0, tc.weights...)
		if got, want := strings.Join(seq, " "), fresh.next(len(seq), true); got != want {
			t.Errorf("%s %v across the hand-over and back:\n got %s\nwant %s", tc.sched, tc.weights, got, want)
		}
	}
}

// A kernel position whose server was made quiescent since the table was
// written is not taken: the engine picks by itself.
func TestKernelPickQuiescent(t *testing.T) {
	h := newHarness(t, "rr", 0, 1, 1, 1)
	if err := h.e.HandOver(testSvc, 64, func(ipvs.KernelPlan) (ipvs.KernelPicker, error) {
		return func() (uint32, bool) { return h.dest(1).ID(), true }, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := h.next(1, true); got != "rs1" {
		t.Fatalf("the kernel's position: %s, want rs1", got)
	}
	h.weight(1, 0)
	if got := h.next(3, true); strings.Contains(got, "rs1") {
		t.Fatalf("a quiescent server's position taken: %s", got)
	}
}
