package sched

import "testing"

// The first pick is the newest server (the kernel's list head), then the
// list in order, round and round.
func TestRRSequence(t *testing.T) {
	h := newHarness(t, "rr", 0, 1, 1, 1)
	expect(t, "rr 1,1,1", h.next(7, true), "rs3 rs2 rs1 rs3 rs2 rs1 rs3")
	// weights other than 0 do not matter
	h = newHarness(t, "rr", 0, 4, 3, 2)
	expect(t, "rr 4,3,2", h.next(6, false), "rs3 rs2 rs1 rs3 rs2 rs1")
}

// Weight-0 and overloaded servers are skipped; with none left nothing is
// chosen and the cursor stays.
func TestRRSkips(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 0, 1, 1) // list rs4 rs3 rs2 rs1
	h.load(3, 1, 0)
	h.overload(3)
	s := h.instance("rr")
	expect(t, "rr skipping rs2 (weight 0) and rs3 (overloaded)", h.picks(s, 5), "rs4 rs1 rs4 rs1 rs4")
	h.weight(1, 0)
	h.weight(4, 0)
	h.update(s)
	expect(t, "rr with nothing available", h.picks(s, 2), "- -")
	h.weight(2, 1)
	h.update(s)
	// the cursor is still on rs4: the walk goes on after it
	expect(t, "rr after rs2 came back", h.picks(s, 2), "rs2 rs2")
	h.weight(1, 1)
	h.update(s)
	expect(t, "rr from rs2", h.picks(s, 3), "rs1 rs2 rs1")
}

// The cursor survives list changes as in the kernel: additions and edits
// leave it, deleting its server steps it back to the predecessor. The same
// steps as oracle case 170.
func TestRRCursorOnListChanges(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 1, 1)
	s := h.instance("rr")
	expect(t, "start", h.picks(s, 2), "rs3 rs2")
	h.del(2) // the cursor's server: back to rs3
	h.update(s)
	expect(t, "after deleting rs2", h.picks(s, 3), "rs1 rs3 rs1")
	h.addRS(4, 1) // at the head: list rs4 rs3 rs1, cursor stays on rs1
	h.update(s)
	expect(t, "after adding rs4", h.picks(s, 4), "rs4 rs3 rs1 rs4")
	h.addRS(2, 1) // list rs2 rs4 rs3 rs1
	h.update(s)
	expect(t, "after adding rs2 back", h.picks(s, 5), "rs3 rs1 rs2 rs4 rs3")
	h.weight(1, 0)
	h.update(s)
	expect(t, "after quiescing rs1", h.picks(s, 5), "rs2 rs4 rs3 rs2 rs4")
}

// Deleting the first server while the cursor is on it sends the cursor to
// the list head.
func TestRRDeleteFirst(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 1, 1)
	s := h.instance("rr")
	expect(t, "start", h.picks(s, 1), "rs3")
	h.del(3)
	h.update(s)
	expect(t, "after deleting rs3", h.picks(s, 3), "rs2 rs1 rs2")
}
