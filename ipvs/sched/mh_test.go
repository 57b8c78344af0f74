package sched

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// The kernel's hsiphash self-test vectors for 64-bit machines
// (lib/siphash_kunit.c): key 00 01 .. 0f, input 00 01 .. i-1.
var hsiphashVectors = [64]uint32{
	0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7, 0x9bb11140,
	0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352, 0x57b4d9a2, 0x1229ffa7, 0xc0f95d34, 0x2a519956,
	0x7d908b66, 0x63dbd80c, 0xb473e63e, 0x8d297d1c, 0xa6cce040, 0x2b45f844, 0xa320872e, 0xdae6c123,
	0x67349c8c, 0x705b0979, 0xca9913a5, 0x4ade3b35, 0xef6cd00d, 0x4ab1e1f4, 0x43c5e663, 0x8c21d1bc,
	0x16a7b60d, 0x7a8ff9bf, 0x1f2a753e, 0xbf186b91, 0xada26206, 0xa3c33057, 0xae3a36a1, 0x7b108392,
	0x99e41531, 0x3f1ad944, 0xc8138825, 0xc28949a6, 0xfaf8876b, 0x9f042196, 0x68b1d623, 0x8b5114fd,
	0xdf074c46, 0x12cc86b3, 0x0a52098f, 0x9d292f9a, 0xa2f41f12, 0x43a71ed0, 0x73f0bce6, 0x70a7e980,
	0x243c6d75, 0xfdb71513, 0xa67d8a08, 0xb7e8f148, 0xf7a644ee, 0x0f1837f2, 0x4b6694e0, 0xb7bbb3a8,
}

func TestHsiphash(t *testing.T) {
	key := [2]uint64{0x0706050403020100, 0x0f0e0d0c0b0a0908}
	var in [64]byte
	for i := range in {
		in[i] = byte(i)
	}
	for i, want := range hsiphashVectors {
		if got := hsiphash(in[:i], &key); got != want {
			t.Errorf("hsiphash of %d bytes: %#08x, want %#08x", i, got, want)
		}
	}
	// the u32 form ip_vs_mh_hashkey uses is hsiphash of the value's bytes
	for _, v := range []uint32{0, 1, 0x0a000102, 0xdeadbeef, 0xffffffff} {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], v)
		for _, k := range []*[2]uint64{&mhKey1, &mhKey2, &key} {
			if got, want := hsiphashU32(v, k), hsiphash(b[:], k); got != want {
				t.Errorf("hsiphashU32(%#x) = %#x, hsiphash %#x", v, got, want)
			}
		}
	}
}

func mhCounts(s *mh) map[string]int {
	c := map[string]int{}
	for _, n := range names(s.table.Load()[:]) {
		c[n]++
	}
	return c
}

// Each server fills the table along its own permutation, turns per round
// in proportion to its last weight (divided by the gcd, shifted right when
// the ratio needs more than 6 bits).
func TestMHTable(t *testing.T) {
	for _, c := range []struct {
		weights []int32
		want    map[string]int
	}{
		// 4093 = 3*1364 + 1: the first in list order (rs3) gets the extra entry
		{[]int32{1, 1, 1}, map[string]int{"rs3": 1365, "rs2": 1364, "rs1": 1364}},
		{[]int32{5, 5, 5}, map[string]int{"rs3": 1365, "rs2": 1364, "rs1": 1364}},
		// turns 3,1,2 per round of 6 (list rs3 rs2 rs1): 682 rounds + 1
		{[]int32{3, 1, 2}, map[string]int{"rs3": 682*2 + 1, "rs2": 682, "rs1": 682 * 3}},
		// gcd 1, max 1000: fls(1000) = 10 > 6, rshift 4: turns 62, 1, 1 per
		// round of 64; 63 rounds + 61 (rs3, rs2, then 59 for rs1)
		{[]int32{1000, 1, 1}, map[string]int{"rs3": 64, "rs2": 64, "rs1": 63*62 + 59}},
	} {
		h := newHarness(t, pinScheduler, 0, c.weights...)
		s := h.instance("mh").(*mh)
		got := mhCounts(s)
		for name, n := range c.want {
			if got[name] != n {
				t.Errorf("weights %v: %v, want %v", c.weights, got, c.want)
				break
			}
		}
		// the first server of the list claims its own offset first
		first := h.svc.Dests()[0]
		a := first.Addr()
		off := mhHash(foldAddr(&a, ipvs.IPv4, ipvs.IPv4), 80, &mhKey1, 0) % mhTabSize
		if d := s.table.Load()[off]; d != first {
			t.Errorf("weights %v: entry %d (first server's offset) is %v", c.weights, off, names([]*ipvs.Dest{d}))
		}
	}
}

// Quiescing keeps a server's entries (last weight); its clients are
// refused, or moved with mh-fallback; a server added with weight 0 has no
// entry; with no last weight at all the table is empty.
func TestMHQuiesced(t *testing.T) {
	for _, flags := range []ipvs.ServiceFlags{0, ipvs.SvcMHFallback} {
		h := newHarness(t, pinScheduler, flags, 1, 1, 1, 0) // rs4 at weight 0
		s := h.instance("mh").(*mh)
		before := *s.table.Load()
		if c := mhCounts(s); c["rs4"] != 0 {
			t.Fatalf("rs4 added with weight 0 has %d entries", c["rs4"])
		}
		h.weight(2, 0)
		h.update(s)
		if after := *s.table.Load(); after != before {
			t.Fatal("quiescing rs2 changed the table")
		}
		refused, moved := 0, 0
		for i := 2; i < 60; i++ {
			f := clientFlow("10.0.1.2", 0)
			f.Src = ipvs.AddrFrom4([4]byte{10, 0, 1, byte(i)})
			fold := foldAddr(&f.Src, ipvs.IPv4, ipvs.IPv4)
			home := before[mhHash(fold, 0, &mhKey1, 0)%mhTabSize]
			got := h.pick(s, f)
			switch {
			case home != h.dest(2):
				expect(t, "client of an available server", got, rsName(home.Addr()))
			case flags == 0:
				expect(t, "client of the quiesced server", got, "-")
				refused++
			default:
				if got == "-" || got == "rs2" {
					t.Errorf("fallback gave %s", got)
				}
				moved++
			}
		}
		if refused+moved == 0 {
			t.Error("no client of rs2 among the samples")
		}
	}
	h := newHarness(t, pinScheduler, 0, 0, 0)
	s := h.instance("mh")
	expect(t, "no last weight", h.pick(s, nil), "-")
}

// mh-port hashes the source port too: one client spreads over the servers.
func TestMHPort(t *testing.T) {
	h := newHarness(t, pinScheduler, ipvs.SvcMHPort, 1, 1, 1)
	s := h.instance("mh")
	seen := map[string]bool{}
	for p := uint16(40000); p < 40030; p++ {
		f := clientFlow("10.0.1.2", p)
		fold := foldAddr(&f.Src, ipvs.IPv4, ipvs.IPv4)
		want := rsName(s.(*mh).table.Load()[mhHash(fold, p, &mhKey1, 0)%mhTabSize].Addr())
		got := h.pick(s, f)
		expect(t, "mh-port", got, want)
		seen[got] = true
	}
	if len(seen) != 3 {
		t.Errorf("one client over 30 ports reached %v", seen)
	}
}

// Removing a server moves only (nearly) its own clients: Maglev's point.
func TestMHMinimalDisruption(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 1, 1, 1, 1)
	s := h.instance("mh").(*mh)
	before := *s.table.Load()
	gone := h.dest(3)
	h.del(3)
	h.update(s)
	after := s.table.Load()
	moved := 0
	for i := range before {
		if before[i] != gone && after[i] != before[i] {
			moved++
		}
	}
	if moved > mhTabSize/20 {
		t.Errorf("%d entries of the remaining servers moved", moved)
	}
}

// The kernel hashes the servers with the service's family: an IPv6 server
// (tunnelled) of an IPv4 service contributes its first 32-bit word.
func TestMHMixedFamily(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1)
	six := netip.MustParseAddr("2001:db8:77::5")
	if err := h.e.AddDest(testSvc, ipvs.DestConfig{Addr: six, Port: 80, Weight: 1,
		Forwarding: ipvs.Forwarding{Method: ipvs.Tunnel}}); err != nil {
		t.Fatal(err)
	}
	s := h.instance("mh").(*mh)
	off := mhHash(0x20010db8, 80, &mhKey1, 0) % mhTabSize // first word only
	if d := s.table.Load()[off]; d == nil || d.NetAddr() != six {
		t.Fatalf("entry %d (the IPv6 server's offset by its first word) is %v", off, d)
	}
}
