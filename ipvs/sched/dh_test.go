package sched

import (
	"net/netip"
	"testing"

	"github.com/govs/gvs/ipvs"
)

func dstFlow(dst string) *ipvs.Flow {
	return &ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom4([4]byte{192, 0, 2, 9}),
		SrcPort: 4000, Dst: ipvs.AddrFrom(netip.MustParseAddr(dst)), DstPort: 80}
}

// Buckets go to the servers one each in list order, weights aside; the
// packet's destination address picks the bucket by hash_32(daddr, 8).
func TestDH(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 5, 1, 1) // list rs3 rs2 rs1
	s := h.instance("dh")
	tab := names(s.(*dh).table.Load()[:])
	for i, got := range tab {
		if want := []string{"rs3", "rs2", "rs1"}[i%3]; got != want {
			t.Fatalf("bucket %d: %s, want %s", i, got, want)
		}
	}
	list := h.svc.Dests()
	for i := 0; i < 64; i++ {
		dst := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		b := (binaryIPv4(dst) * 0x61C88647) >> 24
		want := rsName(list[b%3].Addr())
		if got := h.pick(s, dstFlow(dst.String())); got != want {
			t.Errorf("destination %s (bucket %d): %s, want %s", dst, b, got, want)
		}
		// the client does not matter
		f := dstFlow(dst.String())
		f.Src, f.SrcPort = ipvs.AddrFrom4([4]byte{203, 0, 113, byte(i)}), uint16(i)
		if got := h.pick(s, f); got != want {
			t.Errorf("destination %s from another client: %s, want %s", dst, got, want)
		}
	}
}

// The bucket's server must be available, have weight and not be
// overloaded; there is no fallback.
func TestDHUnavailable(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 1, 1)
	s := h.instance("dh")
	// 10.0.0.1: 0x0a000001 * 0x61c88647 = 0x27...: bucket 39 -> list[0] = rs3
	expect(t, "the service address", h.pick(s, dstFlow("10.0.0.1")), "rs3")
	h.weight(3, 0)
	h.update(s)
	expect(t, "weight 0", h.pick(s, dstFlow("10.0.0.1")), "-")
	h.weight(3, 1)
	h.update(s)
	h.load(3, 1, 0)
	h.overload(3)
	expect(t, "overloaded", h.pick(s, dstFlow("10.0.0.1")), "-")
	h.del(3) // the table still names rs3 until the engine reports the change
	expect(t, "deleted, table not yet rebuilt", h.pick(s, dstFlow("10.0.0.1")), "-")
	h.update(s) // list rs2 rs1: bucket 39 -> rs1
	expect(t, "after the rebuild", h.pick(s, dstFlow("10.0.0.1")), "rs1")
}
