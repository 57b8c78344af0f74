package sched

import "testing"

// Weights 4,3,2 as the oracle (case 103) shows: adding the servers one by
// one leaves cw at 1, so the first round admits everyone, then the passes
// admit weights >= 4, >= 3, >= 2, >= 1.
func TestWRR432(t *testing.T) {
	h := newHarness(t, "wrr", 0, 4, 3, 2)
	expect(t, "wrr 4,3,2", h.next(12, true), "rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1")
	expect(t, "wrr 4,3,2 second cycle", h.next(9, true), "rs1 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1")
}

// A weight-0 server is never chosen (oracle case 105).
func TestWRRWeightZero(t *testing.T) {
	h := newHarness(t, "wrr", 0, 5, 0, 1)
	expect(t, "wrr 5,0,1", h.next(12, true), "rs3 rs1 rs1 rs1 rs1 rs1 rs3 rs1 rs1 rs1 rs1 rs1")
}

// With a gcd above 1, cw steps by the gcd and mw is max - (gcd - 1).
func TestWRRGCD(t *testing.T) {
	h := newHarness(t, "wrr", 0, 2, 4, 6) // di 2, mw 5; cw 1 after the adds
	expect(t, "wrr 2,4,6", h.next(9, true), "rs3 rs2 rs1 rs3 rs3 rs2 rs3 rs2 rs1")
	s := h.instance("wrr") // bound fresh: cw = mw = 5
	expect(t, "wrr 2,4,6 from a fresh bind", h.picks(s, 6), "rs3 rs3 rs2 rs3 rs2 rs1")
}

// A change recomputes di and mw, sends the walk back to the head and keeps
// cw when it fits (rounded to the new gcd).
func TestWRRChanges(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 4, 3, 2)
	s := h.instance("wrr")                           // cw = mw = 4
	expect(t, "start", h.picks(s, 3), "rs1 rs2 rs1") // cw 4, then 3
	// cw is 3 with the walk after rs1; rs2 down to 1: cw stays 3 (di 1), walk from the head
	h.weight(2, 1)
	h.update(s)
	expect(t, "after rs2 -> 1", h.picks(s, 6), "rs1 rs3 rs1 rs3 rs2 rs1")
	// the walk ended on rs1 at cw 1; deleting rs3 keeps cw 1 and restarts
	// from the head, so rs2 (weight 1) comes first, then rs1's cw 4..2 passes
	h.del(3)
	h.update(s)
	expect(t, "after deleting rs3", h.picks(s, 6), "rs2 rs1 rs1 rs1 rs1 rs2")
	// all weights 0: mw 0, nothing
	h.weight(1, 0)
	h.weight(2, 0)
	h.update(s)
	expect(t, "all quiesced", h.picks(s, 2), "- -")
}

// Overloaded servers are skipped; when every server is overloaded the
// walk gives up after a full last pass.
func TestWRROverloaded(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 2, 1)
	h.load(1, 1, 0)
	h.load(2, 1, 0)
	s := h.instance("wrr")
	h.overload(2)
	expect(t, "rs2 overloaded", h.picks(s, 3), "rs1 rs1 rs1")
	h.overload(1)
	expect(t, "all overloaded", h.picks(s, 2), "- -")
}
