package sched

import (
	"strings"
	"testing"

	"github.com/govs/gvs/ipvs"
)

func setNames(en *locEntry) string {
	return strings.Join(names(en.set), " ")
}

// One service address, one set: it grows when its least loaded member is
// overloaded in lblc's sense (oracle case 165).
func TestLBLCRHeld(t *testing.T) {
	h := newHarness(t, "lblcr", 0, 2, 2, 2)
	expect(t, "lblcr 2,2,2 held", h.next(14, false), "rs3 rs3 rs3 rs2 rs2 rs2 rs1 rs1 rs1 rs1 rs2 rs3 rs1 rs2")
}

// The set's least loaded available member serves; a set unchanged for 24 h
// loses its most loaded member; deleted members are skipped.
func TestLBLCRSet(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 2, 2, 2) // list rs3 rs2 rs1
	s := h.instance("lblcr").(*lblcr)
	dst := "198.51.100.7"
	key := dstFlow(dst).Dst
	expect(t, "new set", h.schedAt(s, dst, 10), "rs3")
	h.load(3, 3, 0) // 3 active > 2 while rs2, rs1 are idle
	expect(t, "overloaded: wlc joins", h.schedAt(s, dst, 20), "rs2")
	en := s.tab.get(&key, ipvs.IPv4)
	expect(t, "set", setNames(en), "rs2 rs3")
	if en.lastmod != 20 {
		t.Errorf("lastmod %d", en.lastmod)
	}
	h.load(2, 1, 0)
	expect(t, "least loaded member", h.schedAt(s, dst, 30), "rs2")
	if en.lastmod != 20 || en.lastuse != 30 {
		t.Errorf("lastmod %d lastuse %d after a plain hit", en.lastmod, en.lastuse)
	}
	// 24 h without a change (strictly after): the most loaded member (rs3) goes
	day := 24 * 3600 * second
	expect(t, "at exactly 24 h", h.schedAt(s, dst, 20+day), "rs2")
	expect(t, "set", setNames(en), "rs2 rs3")
	expect(t, "past 24 h", h.schedAt(s, dst, 21+day), "rs2")
	expect(t, "set after expiry", setNames(en), "rs2")
	if en.lastmod != 21+day {
		t.Errorf("lastmod %d", en.lastmod)
	}
	// a deleted member is not chosen; wlc picks again and joins
	h.del(2)
	expect(t, "member deleted", h.schedAt(s, dst, 22+day), "rs1")
	expect(t, "set keeps the deleted member", setNames(en), "rs1 rs2")
}

// The chosen member is returned even when the 24-hour cleanup removes it
// from the set in the same call.
func TestLBLCRChosenMemberErased(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 3) // list rs2(3) rs1(1)
	s := h.instance("lblcr").(*lblcr)
	dst := "198.51.100.8"
	key := dstFlow(dst).Dst
	h.load(2, 1, 0)                                     // rs2 256/3, rs1 idle: wlc says rs1
	expect(t, "new set", h.schedAt(s, dst, 1), "rs1")   // {rs1}
	h.load(1, 2, 0)                                     // rs1: 2 active > 1 while rs2 has 1*2 < 3
	expect(t, "rs2 joins", h.schedAt(s, dst, 2), "rs2") // {rs2 rs1}
	h.load(2, 5, 0)                                     // rs2 1536/3 = rs1 512/1: rs2 is the max (first on ties)
	h.overload(1)                                       // and rs1 cannot be the min
	day := 24 * 3600 * second
	expect(t, "rs2 is min and max", h.schedAt(s, dst, 3+day), "rs2")
	expect(t, "set", setNames(s.tab.get(&key, ipvs.IPv4)), "rs1")
}

// Set members deleted and added back are mapped to the re-added server
// (the kernel's trash would have returned the same object).
func TestLBLCRReAdded(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 2, 2) // list rs2 rs1
	s := h.instance("lblcr").(*lblcr)
	dst := "198.51.100.9"
	key := dstFlow(dst).Dst
	expect(t, "new set", h.schedAt(s, dst, 1), "rs2")
	h.load(2, 3, 0)
	expect(t, "rs1 joins", h.schedAt(s, dst, 2), "rs1")
	en := s.tab.get(&key, ipvs.IPv4)
	old := h.dest(1)
	h.del(1)
	h.update(s)
	expect(t, "set keeps the deleted member", setNames(en), "rs1 rs2")
	h.addRS(1, 2)
	h.update(s)
	if h.dest(1) == old || en.set[0] != h.dest(1) {
		t.Fatal("member not rebound to the re-added server")
	}
	if en.lastmod != 2 {
		t.Errorf("rebinding changed lastmod: %d", en.lastmod)
	}
}
