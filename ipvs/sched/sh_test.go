package sched

import (
	"net/netip"
	"testing"

	"github.com/govs/gvs/ipvs"
)

func names(ds []*ipvs.Dest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = "nil"
		if d != nil {
			out[i] = rsName(d.Addr())
		}
	}
	return out
}

func clientFlow(src string, sport uint16) *ipvs.Flow {
	return &ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(netip.MustParseAddr(src)),
		SrcPort: sport, Dst: ipvs.AddrFrom(testVIP), DstPort: 80}
}

// The 256 buckets go to the servers in list order, each taking as many as
// its weight, and at least one.
func TestSHTable(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 3, 1, 2) // list rs3(2) rs2(1) rs1(3)
	s := h.instance("sh").(*sh)
	check := func(what string, pattern ...string) {
		t.Helper()
		tab := names(s.table.Load()[:])
		for i, got := range tab {
			if want := pattern[i%len(pattern)]; got != want {
				t.Fatalf("%s: bucket %d is %s, want %s", what, i, got, want)
			}
		}
	}
	check("weights 3,1,2", "rs3", "rs3", "rs2", "rs1", "rs1", "rs1")
	h.weight(1, 0)
	h.update(s)
	check("rs1 at weight 0 keeps one bucket", "rs3", "rs3", "rs2", "rs1")
	h.del(3)
	h.update(s)
	check("rs3 deleted", "rs2", "rs1")
	h.del(2)
	h.del(1)
	h.update(s)
	check("empty", "nil")
	if got := h.pick(s, nil); got != "-" {
		t.Errorf("empty table: %s", got)
	}
}

// A client's bucket is hash_32(port + address, 8); sh-port adds the source port.
func TestSHPick(t *testing.T) {
	for _, flags := range []ipvs.ServiceFlags{0, ipvs.SvcSHPort} {
		h := newHarness(t, pinScheduler, flags, 1, 1, 1) // list rs3 rs2 rs1: bucket b -> list[b%3]
		s := h.instance("sh")
		list := h.svc.Dests()
		for i := 2; i < 40; i++ {
			src := netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})
			sport := uint16(40000 + i)
			v := uint32(0x0a000100 + i)
			if flags != 0 {
				v += uint32(sport)
			}
			want := rsName(list[((v*0x61C88647)>>24)%3].Addr())
			if got := h.pick(s, clientFlow(src.String(), sport)); got != want {
				t.Errorf("flags %#x client %s:%d: %s, want %s", flags, src, sport, got, want)
			}
		}
	}
}

// A quiesced or overloaded server's clients are refused, or with
// sh-fallback probe the buckets (ihash + offset + ihash) & 255 for offsets
// 0, 1, ... (the kernel hashes again with the offset added to the hash).
func TestSHFallback(t *testing.T) {
	for _, flags := range []ipvs.ServiceFlags{0, ipvs.SvcSHFallback} {
		h := newHarness(t, pinScheduler, flags, 1, 1, 1, 1) // list rs4 rs3 rs2 rs1
		h.weight(2, 0)
		h.load(3, 1, 0)
		h.overload(3)
		s := h.instance("sh")
		tab := s.(*sh).table.Load()
		seen := 0
		for i := 2; i < 200; i++ {
			src := netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i % 250)})
			ihash := (binaryIPv4(src) * 0x61C88647) >> 24
			home := tab[ihash]
			want := rsName(home.Addr())
			if home.Weight() == 0 || home.Overloaded() {
				seen++
				want = "-"
				if flags != 0 {
					for off := uint32(0); ; off++ {
						if d := tab[(2*ihash+off)&255]; d.Weight() > 0 && !d.Overloaded() {
							want = rsName(d.Addr())
							break
						}
					}
				}
			}
			if got := h.pick(s, clientFlow(src.String(), 1000)); got != want {
				t.Errorf("flags %#x client %s (bucket %d, %s): %s, want %s", flags, src, ihash, rsName(home.Addr()), got, want)
			}
		}
		if seen == 0 {
			t.Fatal("no client hashed to an unavailable server")
		}
	}
}

func binaryIPv4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// IPv6 clients hash the XOR of their address's four words.
func TestSHIPv6(t *testing.T) {
	opts := ipvs.KernelOptions()
	e, _ := ipvs.New(ipvs.Config{HashSeed: 1, Options: &opts})
	key := ipvs.ServiceKey{Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("2001:db8::100"), Port: 80}
	if err := e.AddService(ipvs.ServiceConfig{ServiceKey: key, Scheduler: "sh"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := e.AddDest(key, ipvs.DestConfig{Addr: netip.MustParseAddr("2001:db8::" + string(rune('0'+i))), Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	svc, _ := e.Service(key)
	list := svc.Dests()
	w := e.NewWorker()
	for i := 0; i < 30; i++ {
		src := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, byte(i), 7})
		fold := uint32(0x20010db8) ^ 0x00010000 ^ 0 ^ (uint32(i)<<8 | 7)
		want := list[((fold*0x61C88647)>>24)%3]
		f := &ipvs.Flow{Family: ipvs.IPv6, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(src), SrcPort: 5000, Dst: ipvs.AddrFrom(key.Addr), DstPort: 80}
		v := w.In(f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn}, int64(i))
		if v.Action != ipvs.ActionForward || v.Dest != want.Addr() {
			t.Errorf("client %s: %v %s, want %s", src, v.Action, v.Dest, want.NetAddr())
		}
	}
}
