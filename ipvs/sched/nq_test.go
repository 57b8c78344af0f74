package sched

import "testing"

// nq: the first idle server in list order, else shortest expected delay.
func TestNQ(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 4, 3, 1) // list rs3(1) rs2(3) rs1(4)
	s := h.instance("nq")
	expect(t, "all idle: the first, whatever its weight", h.pick(s, nil), "rs3")
	h.load(3, 1, 0)
	expect(t, "next idle", h.pick(s, nil), "rs2")
	h.load(2, 1, 0)
	h.load(1, 0, 50) // inactive: still idle
	expect(t, "inactive connections leave a server idle", h.pick(s, nil), "rs1")
	h.load(1, 1, 0) // all busy: 2/1, 2/3, 2/4
	expect(t, "all busy: shortest expected delay", h.pick(s, nil), "rs1")
	h.load(1, 1, 0) // 3/4 > 2/3
	expect(t, "rs2 now", h.pick(s, nil), "rs2")

	// a weight-0 server is not idle for nq
	h = newHarness(t, pinScheduler, 0, 0, 1) // list rs2(1) rs1(0)
	s = h.instance("nq")
	h.load(2, 3, 0)
	expect(t, "idle weight-0 server skipped", h.pick(s, nil), "rs2")
	h.overload(2)
	expect(t, "none left", h.pick(s, nil), "-")
}

// Through the engine (oracle case 129).
func TestNQHeld(t *testing.T) {
	h := newHarness(t, "nq", 0, 4, 3, 2)
	expect(t, "nq held", h.next(12, false), "rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2 rs1 rs1 rs2 rs3")
}
