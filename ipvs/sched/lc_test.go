package sched

import "testing"

// lc takes the lowest active*256 + inactive, the first in list order on
// ties, whatever the weights (as long as they are not 0).
func TestLC(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 1, 1) // list rs3 rs2 rs1
	s := h.instance("lc")
	expect(t, "all idle: the first", h.pick(s, nil), "rs3")
	h.load(3, 0, 10) // 10
	h.load(2, 0, 5)  // 5
	h.load(1, 0, 5)  // 5
	expect(t, "rs2 ties rs1: the earlier", h.pick(s, nil), "rs2")
	h.load(2, 0, 1) // 6
	expect(t, "rs1 lowest", h.pick(s, nil), "rs1")
	h.load(1, 1, 0) // 261: one active weighs 256 inactive
	expect(t, "rs1 has an active connection", h.pick(s, nil), "rs2")
	h.weight(2, 100)
	expect(t, "weights do not matter", h.pick(s, nil), "rs2")
	h.weight(2, 0)
	expect(t, "weight 0 skipped", h.pick(s, nil), "rs3")
	h.overload(3)
	expect(t, "overloaded skipped", h.pick(s, nil), "rs1")
	h.weight(1, 0)
	expect(t, "none left", h.pick(s, nil), "-")
}

// Through the engine: held connections spread evenly (oracle case 125).
func TestLCHeld(t *testing.T) {
	h := newHarness(t, "lc", 0, 4, 3, 2)
	expect(t, "lc 4,3,2 held", h.next(7, false), "rs3 rs2 rs1 rs3 rs2 rs1 rs3")
	// closed connections: the server with the fewest inactive
	h = newHarness(t, "lc", 0, 1, 1, 1)
	expect(t, "lc closed", h.next(4, true), "rs3 rs2 rs1 rs3")
}
