package sched

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/govs/gvs/ipvs"
)

var kernelNames = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// Every kernel scheduler is registered with the engine under its name.
func TestRegistered(t *testing.T) {
	have := ipvs.Schedulers()
	for _, name := range kernelNames {
		if !slices.Contains(have, name) {
			t.Errorf("%s not registered with the engine (have %v)", name, have)
		}
		if constructors[name] == nil {
			t.Errorf("%s has no constructor", name)
		}
	}
	if len(constructors) != len(kernelNames) {
		t.Errorf("constructors %d, want %d", len(constructors), len(kernelNames))
	}
	// the engine binds them: a service with each one schedules
	for _, name := range kernelNames {
		h := newHarness(t, name, 0, 1)
		if got := h.next(1, true); got != "rs1" {
			t.Errorf("%s with one server: %s", name, got)
		}
	}
}

// The kernel folds an address into the 32 bits its table hashes start from.
func TestFoldAddr(t *testing.T) {
	for _, c := range []struct {
		addr     string
		hashAs   ipvs.Family
		want     uint32
		addrKind ipvs.Family
	}{
		{"10.0.1.2", ipvs.IPv4, 0x0a000102, ipvs.IPv4},
		{"10.0.1.2", ipvs.IPv6, 0x0a000102, ipvs.IPv4}, // an IPv4 server of an IPv6 service: the other words are zero
		{"2001:db8::1", ipvs.IPv6, 0x20010db8 ^ 0 ^ 0 ^ 1, ipvs.IPv6},
		{"2001:db8:1:2:3:4:5:6", ipvs.IPv6, 0x20010db8 ^ 0x00010002 ^ 0x00030004 ^ 0x00050006, ipvs.IPv6},
		{"2001:db8::1", ipvs.IPv4, 0x20010db8, ipvs.IPv6}, // AF_INET reads addr->ip: the first word
	} {
		a := ipvs.AddrFrom(netip.MustParseAddr(c.addr))
		if got := foldAddr(&a, c.addrKind, c.hashAs); got != c.want {
			t.Errorf("fold %s as %v: %#x, want %#x", c.addr, c.hashAs, got, c.want)
		}
	}
}

// hash_32 keeps the top bits of the product with GOLDEN_RATIO_32.
func TestHash32(t *testing.T) {
	for _, c := range []struct {
		v    uint32
		bits uint
		want uint32
	}{
		{0, 8, 0},
		{1, 8, 0x61},
		{1, 10, 0x61C88647 >> 22},
		{0x0a000102, 8, 0x52}, // 0x0a000102 * 0x61c88647 = 0x5217538e mod 2^32
		{0xffffffff, 8, uint32(-0x61C88647&0xffffffff) >> 24},
	} {
		if got := hash32(c.v, c.bits); got != c.want {
			t.Errorf("hash32(%#x, %d) = %#x, want %#x", c.v, c.bits, got, c.want)
		}
	}
}

// The kernel's int overhead: active*256 + inactive.
func TestConnOverhead(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 1)
	h.load(1, 2, 3)
	if got := connOverhead(h.dest(1)); got != 2*256+3 {
		t.Errorf("overhead %d", got)
	}
	if got := expectedDelay(h.dest(1)); got != 3 {
		t.Errorf("expected delay %d", got)
	}
	if got := connOverhead(h.dest(2)); got != 0 {
		t.Errorf("idle overhead %d", got)
	}
}

func TestGCDAndMax(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 4, 0, 6, 10)
	list := h.svc.Dests()
	if g := weightsGCD(list, curWeight); g != 2 {
		t.Errorf("gcd %d", g)
	}
	if m := maxWeight(list, curWeight); m != 10 {
		t.Errorf("max %d", m)
	}
	h0 := newHarness(t, pinScheduler, 0, 0, 0)
	if g := weightsGCD(h0.svc.Dests(), curWeight); g != 0 {
		t.Errorf("gcd of zeros %d", g)
	}
}
