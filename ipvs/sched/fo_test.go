package sched

import "testing"

// fo: the highest weight that is not overloaded, the first on ties.
func TestFO(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 3, 5, 5) // list rs3(5) rs2(5) rs1(3)
	s := h.instance("fo")
	expect(t, "tie: the first", h.pick(s, nil), "rs3")
	h.load(3, 10, 0)
	expect(t, "load does not matter", h.pick(s, nil), "rs3")
	h.overload(3)
	expect(t, "overloaded skipped", h.pick(s, nil), "rs2")
	h.weight(2, 0)
	expect(t, "weight 0", h.pick(s, nil), "rs1")
	h.weight(1, 0)
	expect(t, "none left", h.pick(s, nil), "-")
}

// Through the engine (oracle cases 111, 112).
func TestFOSequence(t *testing.T) {
	h := newHarness(t, "fo", 0, 2, 4, 3)
	expect(t, "fo 2,4,3", h.next(4, false), "rs2 rs2 rs2 rs2")
}
