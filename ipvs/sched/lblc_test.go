package sched

import (
	"net/netip"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// schedAt calls s for a client connection to dst at time now.
func (h *harness) schedAt(s ipvs.Scheduler, dst string, now int64) string {
	f := dstFlow(dst)
	d := s.Schedule(h.svc, f, now)
	if d == nil {
		return "-"
	}
	return rsName(d.Addr())
}

func (h *harness) tickAt(s ipvs.Scheduler, now int64) {
	s.(ipvs.SchedulerTicker).Tick(h.svc, now)
}

// On one service address every connection shares one entry: it stays on
// its server until that server has more active connections than its weight
// while another has fewer than half (oracle case 163).
func TestLBLCHeld(t *testing.T) {
	h := newHarness(t, "lblc", 0, 2, 2, 2)
	expect(t, "lblc 2,2,2 held", h.next(12, false), "rs3 rs3 rs3 rs2 rs2 rs2 rs1 rs1 rs1 rs1 rs1 rs1")
}

// A cached server is given up when it left the service, has weight 0 or is
// overloaded in lblc's sense; the overload flag itself does not count.
func TestLBLCInvalidEntry(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 2, 3) // list rs3(3) rs2(2) rs1(1)
	s := h.instance("lblc")
	expect(t, "new entry: wlc's choice", h.schedAt(s, "198.51.100.1", 1), "rs3")
	h.load(1, 0, 1) // rs1 no longer idle
	h.load(2, 0, 1)
	expect(t, "kept", h.schedAt(s, "198.51.100.1", 2), "rs3")
	expect(t, "another address, its own entry", h.schedAt(s, "198.51.100.2", 3), "rs3")
	h.load(3, 4, 0) // 4 active > weight 3, but nobody has fewer than half their weight active? rs2: 0*2 < 2
	expect(t, "overloaded in lblc's sense: wlc again", h.schedAt(s, "198.51.100.1", 4), "rs2")
	expect(t, "the other entry too", h.schedAt(s, "198.51.100.2", 5), "rs2")
	h.load(2, 1, 0)
	h.overload(2) // the overload flag: not checked for a cached server
	expect(t, "overload flag ignored", h.schedAt(s, "198.51.100.1", 6), "rs2")
	h.weight(2, 0)
	expect(t, "weight 0: wlc again (rs2 overloaded, rs1 next)", h.schedAt(s, "198.51.100.1", 7), "rs1")
	h.del(1)
	expect(t, "deleted: wlc again", h.schedAt(s, "198.51.100.1", 8), "rs3")
}

// The half-hourly full check forgets entries unused for 24 hours.
func TestLBLCExpiry(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 1)
	s := h.instance("lblc").(*lblc)
	minute := 60 * second
	h.schedAt(s, "198.51.100.1", 0)
	h.schedAt(s, "198.51.100.2", 0)
	h.tickAt(s, 0) // arms the timer: runs at 1 min, 2 min, ...
	for m := int64(1); m < 24*60; m++ {
		if m == 23*60 {
			h.schedAt(s, "198.51.100.2", m*minute) // used again
		}
		h.tickAt(s, m*minute)
		h.tickAt(s, m*minute+2*second) // extra ticks between runs change nothing
	}
	if s.tab.entries != 2 {
		t.Fatalf("entries %d before 24 h", s.tab.entries)
	}
	h.tickAt(s, 24*60*minute) // the 1440th run, a full check
	if s.tab.entries != 1 || s.tab.get(&dstFlow("198.51.100.2").Dst, ipvs.IPv4) == nil {
		t.Fatalf("after 24 h: %d entries", s.tab.entries)
	}
}

// Past 16384 entries, each run evicts entries idle for 6 minutes, bucket
// by bucket from the rover, until (entries - 16384) * 4/3 are gone.
func TestLBLCEviction(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1)
	s := h.instance("lblc").(*lblc)
	n := locMaxSize + 300
	for i := 0; i < n; i++ {
		dst := netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)})
		if h.schedAt(s, dst.String(), 0) != "rs1" {
			t.Fatal("no server")
		}
	}
	if s.tab.entries != n {
		t.Fatalf("entries %d", s.tab.entries)
	}
	minute := 60 * second
	h.tickAt(s, 0)
	for m := int64(1); m < 6; m++ { // nothing idle long enough yet
		h.tickAt(s, m*minute)
	}
	if s.tab.entries != n || s.tab.rover != 0 {
		t.Fatalf("evicted early: %d entries, rover %d", s.tab.entries, s.tab.rover)
	}
	// expected: buckets 1, 2, ... emptied until 400 entries are gone
	goal, gone, j := 300*4/3, 0, 0
	for gone < goal {
		j++
		gone += len(s.tab.buckets[j])
	}
	h.tickAt(s, 6*minute)
	if s.tab.entries != n-gone || s.tab.rover != j {
		t.Fatalf("after eviction: %d entries, rover %d; want %d, %d", s.tab.entries, s.tab.rover, n-gone, j)
	}
}

// A server deleted and added back keeps its entries, as in the kernel,
// whose trash returns the same server object.
func TestLBLCReAdded(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 1)
	s := h.instance("lblc").(*lblc)
	key := dstFlow("198.51.100.1").Dst
	expect(t, "entry", h.schedAt(s, "198.51.100.1", 1), "rs2")
	en := s.tab.get(&key, ipvs.IPv4)
	old := h.dest(2)
	h.del(2) // no connection: the engine frees it
	h.update(s)
	h.addRS(2, 1)
	h.update(s)
	if h.dest(2) == old {
		t.Fatal("the engine reused the deleted destination; nothing to rebind")
	}
	if d := s.Schedule(h.svc, dstFlow("198.51.100.1"), 2); d != h.dest(2) {
		t.Fatalf("entry not rebound to the re-added server: %v", d)
	}
	if s.tab.get(&key, ipvs.IPv4) != en {
		t.Fatal("entry replaced instead of kept")
	}
}
