package sched

import "testing"

// sed compares (active + 1) / weight; inactive connections do not count.
func TestSED(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 4, 3, 1) // list rs3(1) rs2(3) rs1(4)
	s := h.instance("sed")
	expect(t, "all idle: the highest weight", h.pick(s, nil), "rs1")
	h.load(1, 3, 0) // 4/4
	h.load(2, 2, 0) // 3/3
	expect(t, "all 1: the first", h.pick(s, nil), "rs3")
	h.load(3, 0, 100)
	expect(t, "inactive ignored", h.pick(s, nil), "rs3")
	h.load(3, 1, 0) // 2/1
	expect(t, "rs2 and rs1 tie: the earlier", h.pick(s, nil), "rs2")
	h.weight(2, 0)
	expect(t, "weight 0 skipped", h.pick(s, nil), "rs1")
	h.overload(1)
	expect(t, "overloaded skipped", h.pick(s, nil), "rs3")
}

// Through the engine (oracle cases 109 and 128).
func TestSEDSequence(t *testing.T) {
	h := newHarness(t, "sed", 0, 4, 3, 2)
	expect(t, "sed closed", h.next(4, true), "rs1 rs1 rs1 rs1")
	h = newHarness(t, "sed", 0, 4, 3, 2)
	expect(t, "sed held", h.next(9, false), "rs1 rs2 rs3 rs1 rs2 rs1 rs3 rs2 rs1")
}
