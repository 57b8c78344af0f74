package sched

import "testing"

// wlc compares overhead/weight by cross-multiplying, keeps the earlier
// server on ties and never starts from a weight-0 or overloaded server.
func TestWLCUnevenLoad(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 4, 3, 1) // list rs3(1) rs2(3) rs1(4)
	s := h.instance("wlc")
	expect(t, "all idle: the first", h.pick(s, nil), "rs3")
	h.load(1, 3, 0)   // 768/4 = 192
	h.load(2, 2, 0)   // 512/3 = 170.7
	h.load(3, 0, 200) // 200/1
	expect(t, "rs2 lightest", h.pick(s, nil), "rs2")

	h = newHarness(t, pinScheduler, 0, 4, 2, 1)
	s = h.instance("wlc")
	h.load(1, 4, 0) // 1024/4 = 256
	h.load(2, 2, 0) // 512/2 = 256
	h.load(3, 1, 0) // 256/1 = 256
	expect(t, "equal loads: the first", h.pick(s, nil), "rs3")
	h.load(1, 0, 1) // 1025/4
	expect(t, "rs1 heavier: still rs3", h.pick(s, nil), "rs3")
	h.load(3, 0, 1) // 257/1 > 512/2: rs2; rs1 1025/4 > 512/2
	expect(t, "rs3 heavier", h.pick(s, nil), "rs2")
	h.weight(3, 0)
	h.weight(2, 0)
	expect(t, "weight 0 skipped", h.pick(s, nil), "rs1")
	h.weight(2, 2)
	h.overload(2)
	expect(t, "overloaded skipped", h.pick(s, nil), "rs1")
	h.overload(1)
	expect(t, "none left", h.pick(s, nil), "-")
}

// A weight-0 server later in the list can never be lighter.
func TestWLCWeightZeroLater(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 0, 1) // list rs2(1) rs1(0)
	s := h.instance("wlc")
	h.load(2, 50, 0)
	expect(t, "idle weight-0 server not taken", h.pick(s, nil), "rs2")
}

// Through the engine: held connections fill by weight (oracle case 127).
func TestWLCHeld(t *testing.T) {
	h := newHarness(t, "wlc", 0, 4, 3, 2)
	expect(t, "wlc 4,3,2 held", h.next(12, false), "rs3 rs2 rs1 rs1 rs2 rs3 rs1 rs2 rs1 rs3 rs2 rs1")
}
