package sched

import "testing"

// ovf: the highest weight whose active connections do not exceed it.
func TestOVF(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 2, 2) // list rs3(2) rs2(2) rs1(1)
	s := h.instance("ovf")
	expect(t, "tie: the first", h.pick(s, nil), "rs3")
	h.load(3, 2, 5)
	expect(t, "active == weight still takes one more", h.pick(s, nil), "rs3")
	h.load(3, 1, 0)
	expect(t, "active > weight: overflow", h.pick(s, nil), "rs2")
	h.load(2, 3, 0)
	expect(t, "next weight down", h.pick(s, nil), "rs1")
	h.load(1, 2, 0)
	expect(t, "all full", h.pick(s, nil), "-")
	h.weight(1, 5)
	expect(t, "more room", h.pick(s, nil), "rs1")
	h.overload(1)
	expect(t, "overloaded", h.pick(s, nil), "-")
}

// Through the engine: each server ends with weight + 1 connections, then
// connections are refused.
func TestOVFHeld(t *testing.T) {
	h := newHarness(t, "ovf", 0, 3, 2, 1)
	expect(t, "ovf 3,2,1 held", h.next(12, false), "rs1 rs1 rs1 rs1 rs2 rs2 rs2 rs3 rs3 - - -")
}
