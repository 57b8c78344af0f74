//go:build linux

package flowhash

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/govs/gvs/dataplane/afpacket"
	"github.com/govs/gvs/internal/nettest"
)

func open(t *testing.T) *Program {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs")
	}
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// flow is what a test frame is made of.
type flow struct {
	src, dst         netip.Addr
	proto            uint8
	sport, dport     uint16
	fragOff          uint16 // IPv4: flags and offset; IPv6: a fragment header when non-zero
	noTransportBytes bool   // a later fragment: no ports after the header
}

// frame builds an Ethernet frame of f (IPv4 with a 24-byte header, to
// check the header length is read; IPv6 with a fragment header when
// f.fragOff is set).
func frame(f flow) []byte {
	b := make([]byte, 14, 128)
	var l4 []byte
	if !f.noTransportBytes {
		l4 = binary.BigEndian.AppendUint16(nil, f.sport)
		l4 = binary.BigEndian.AppendUint16(l4, f.dport)
		l4 = append(l4, make([]byte, 16)...)
	}
	if f.src.Is4() {
		binary.BigEndian.PutUint16(b[12:], 0x0800)
		ip := make([]byte, 24)
		ip[0] = 0x46
		binary.BigEndian.PutUint16(ip[2:], uint16(24+len(l4)))
		binary.BigEndian.PutUint16(ip[6:], f.fragOff)
		ip[8], ip[9] = 64, f.proto
		copy(ip[12:], f.src.AsSlice())
		copy(ip[16:], f.dst.AsSlice())
		return append(append(b, ip...), l4...)
	}
	binary.BigEndian.PutUint16(b[12:], 0x86dd)
	ip := make([]byte, 40)
	ip[0], ip[6], ip[7] = 0x60, f.proto, 64
	copy(ip[8:], f.src.AsSlice())
	copy(ip[24:], f.dst.AsSlice())
	if f.fragOff != 0 {
		ip[6] = 44
		fh := []byte{f.proto, 0, byte(f.fragOff >> 8), byte(f.fragOff), 0, 0, 0, 1}
		l4 = append(fh, l4...)
	}
	binary.BigEndian.PutUint16(ip[4:], uint16(len(l4)))
	return append(append(b, ip...), l4...)
}

// reference is the hash the package documents, computed independently.
func reference(f flow) uint32 {
	fragment := f.fragOff&0x3fff != 0
	if f.src.Is6() {
		fragment = f.fragOff != 0
	}
	proto := f.proto
	if f.src.Is6() && fragment {
		proto = 44
	}
	return referenceOf(f, proto, !fragment && (f.proto == 6 || f.proto == 17 || f.proto == 132))
}

// referenceOf is the hash of f's addresses, protocol proto and, with
// ports, its ports.
func referenceOf(f flow, proto uint8, ports bool) uint32 {
	var h uint32
	a, d := f.src.AsSlice(), f.dst.AsSlice()
	for i := 0; i < len(a); i += 4 {
		h ^= binary.BigEndian.Uint32(a[i:]) ^ binary.BigEndian.Uint32(d[i:])
	}
	if ports {
		h ^= uint32(f.sport ^ f.dport)
	}
	h ^= uint32(proto)
	return (h * 0x9e3779b1) >> 16
}

func run(t *testing.T, p *Program, b []byte) uint32 {
	t.Helper()
	ret, err := p.prog.Run(&ebpf.RunOptions{Data: b})
	if err != nil {
		t.Fatal(err)
	}
	return ret
}

// TestHash: the program computes the documented hash for IPv4 and IPv6,
// TCP, UDP, SCTP and other protocols, fragments included; a flow's two
// directions agree, and so do the fragments of one datagram.
func TestHash(t *testing.T) {
	p := open(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	addr := func(v6 bool) netip.Addr {
		if v6 {
			var a [16]byte
			for i := range a {
				a[i] = byte(rnd.Uint32())
			}
			return netip.AddrFrom16(a)
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], rnd.Uint32())
		return netip.AddrFrom4(a)
	}
	for i := 0; i < 400; i++ {
		v6 := i%2 == 1
		f := flow{src: addr(v6), dst: addr(v6), proto: []uint8{6, 17, 132, 1, 47}[i%5], sport: uint16(rnd.Uint32()), dport: uint16(rnd.Uint32())}
		got := run(t, p, frame(f))
		if want := reference(f); got != want {
			t.Fatalf("%+v: hash %#x, want %#x", f, got, want)
		}
		back := f
		back.src, back.dst, back.sport, back.dport = f.dst, f.src, f.dport, f.sport
		if r := run(t, p, frame(back)); r != got {
			t.Fatalf("%+v: the reply direction hashes to %#x, the flow to %#x", f, r, got)
		}
		// one datagram's first fragment (ports present, MF) and a later one
		first, later := f, f
		if v6 {
			first.fragOff, later.fragOff = 1, 0x100 // M flag; offset 32
		} else {
			first.fragOff, later.fragOff = 0x2000, 0x0004
		}
		later.noTransportBytes = true
		h1, h2 := run(t, p, frame(first)), run(t, p, frame(later))
		if h1 != h2 || h1 != reference(first) {
			t.Fatalf("%+v: fragments hash to %#x and %#x, want both %#x", f, h1, h2, reference(first))
		}
	}
}

// TestHashOddFrames: a frame cut before its ports hashes on its
// addresses and protocol, one with them on the whole flow; ARP hashes to 0.
func TestHashOddFrames(t *testing.T) {
	p := open(t)
	f := flow{src: netip.MustParseAddr("10.0.0.1"), dst: netip.MustParseAddr("10.0.0.2"), proto: 17, sport: 1, dport: 2}
	full := frame(f)
	// (the kernel's test run refuses an IPv4 frame shorter than the
	// header's fixed 20 bytes; frame's header is 24 bytes, the ports
	// follow it)
	for n := 14 + 20; n < len(full); n++ {
		want := referenceOf(f, f.proto, false)
		if n >= 14+24+4 {
			want = reference(f)
		}
		if h := run(t, p, full[:n]); h != want {
			t.Fatalf("frame cut at %d bytes: hash %#x, want %#x", n, h, want)
		}
	}
	arp := make([]byte, 60)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	if h := run(t, p, arp); h != 0 {
		t.Fatalf("ARP hashes to %#x, want 0", h)
	}
}

// TestFanoutGroup: real UDP flows through a veth into a fanout group of
// two rings that uses the program: every flow stays in one ring, and the
// flows use both.
func TestFanoutGroup(t *testing.T) {
	p := open(t)
	a, b := nettest.VethPair(t, "fh", "10.98.0.1/24", "10.98.0.2/24")
	var rings [2]*afpacket.Ring
	if err := nettest.InNetns(a, func() {
		ifi, err := net.InterfaceByName("va")
		if err != nil {
			t.Fatal(err)
		}
		for i := range rings {
			if rings[i], err = afpacket.Open(afpacket.Config{Ifindex: ifi.Index, Frames: 64, FanoutGroup: 0x4759, FanoutFD: p.FD()}); err != nil {
				t.Fatal(err)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rings {
		defer r.Close()
	}
	const flows = 16
	var conns []*net.UDPConn
	if err := nettest.InNetns(b, func() {
		for i := 0; i < flows; i++ {
			c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 98, 0, 2), Port: 7100 + i}, &net.UDPAddr{IP: net.IPv4(10, 98, 0, 1), Port: 7200})
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// ring[port]: the rings each flow's datagrams reached
	seen := map[uint16]map[int]int{}
	collect := func() {
		var f afpacket.Frame
		for i, r := range rings {
			for r.Next(&f) {
				d := f.Data()
				if len(d) >= 14+20+8 && binary.BigEndian.Uint16(d[12:]) == 0x0800 && d[14+9] == 17 && binary.BigEndian.Uint16(d[14+20+2:]) == 7200 {
					port := binary.BigEndian.Uint16(d[14+20:])
					if seen[port] == nil {
						seen[port] = map[int]int{}
					}
					seen[port][i]++
				}
				r.Release(&f)
			}
		}
	}
	// up to 5 s: under the whole suite's load (-race, packages in
	// parallel on two CPUs) the first datagrams can wait for ARP a while
	for start := time.Now(); time.Since(start) < 5*time.Second && len(seen) < flows; {
		for _, c := range conns {
			for k := 0; k < 5; k++ {
				c.Write([]byte("x"))
			}
		}
		time.Sleep(20 * time.Millisecond)
		collect()
	}
	if len(seen) != flows {
		t.Fatalf("the rings saw %d of %d flows", len(seen), flows)
	}
	used := map[int]bool{}
	for port, by := range seen {
		if len(by) != 1 {
			t.Fatalf("flow from port %d reached both rings: %v", port, by)
		}
		for i := range by {
			used[i] = true
		}
	}
	if len(used) != 2 {
		t.Fatalf("%d flows all reached one ring", flows)
	}
}
