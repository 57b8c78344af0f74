package packet

import (
	"math/rand/v2"
	"testing"
)

const propertyCases = 3000

func cases(t *testing.T) int {
	if testing.Short() {
		return 300
	}
	return propertyCases
}

func TestParseGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range cases(t) {
		s := randSpec(r)
		frame := s.build(t)
		p := mustParse(t, frame)
		want := FlowKey{Src: s.src, Dst: s.dst, SrcPort: s.sport, DstPort: s.dport, Proto: s.proto, Family: s.fam}
		if p.Key != want {
			t.Fatalf("key %+v, want %+v", p.Key, want)
		}
		if p.Key.Reverse().Reverse() != p.Key || p.Key.Reverse().Src != s.dst || p.Key.Reverse().SrcPort != s.dport {
			t.Fatalf("Reverse")
		}
		if int(p.NumVLAN) != s.vlans {
			t.Fatalf("vlans %d, want %d", p.NumVLAN, s.vlans)
		}
		if (p.End != len(frame) && len(frame) != 60) || p.Frag.IsFragment() || p.IsICMPError() {
			t.Fatalf("end %d of %d, frag %+v", p.End, len(frame), p.Frag)
		}
		switch s.proto {
		case ProtoTCP:
			if p.TCPFlags != s.tcpFlags || p.PayloadLen() != len(s.payload) {
				t.Fatalf("flags %#x payload %d, want %#x %d", p.TCPFlags, p.PayloadLen(), s.tcpFlags, len(s.payload))
			}
		case ProtoUDP:
			if p.PayloadLen() != len(s.payload) {
				t.Fatalf("payload %d, want %d", p.PayloadLen(), len(s.payload))
			}
		case ProtoSCTP:
			if p.SCTPChunk != SCTPChunkData {
				t.Fatalf("chunk %d", p.SCTPChunk)
			}
		}
		// every truncation is refused, never a panic
		for _, n := range []int{0, 13, p.L3Off + 1, p.L4Off + 1, p.End - 1} {
			if n < 0 || n >= len(frame) {
				continue
			}
			var q Packet
			if Parse(frame[:n], &q) == DropNone && n >= p.L3Off && q.IsIP() {
				t.Fatalf("truncated to %d of %d parsed", n, len(frame))
			}
		}
	}
}

func TestParseMalformed(t *testing.T) {
	s := genSpec{fam: IPv4, proto: ProtoTCP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), sport: 1000, dport: 80, ttl: 64, payload: []byte("hello")}
	base := s.build(t)
	s6 := s
	s6.fam, s6.src, s6.dst = IPv6, MustParseAddr("2001:db8::1"), MustParseAddr("2001:db8::2")
	base6 := s6.build(t)
	fix4 := func(b []byte) { IPv4Header(b[14:]).SetChecksum() }
	tests := []struct {
		name  string
		frame []byte
		edit  func(b []byte) []byte
		want  DropReason
	}{
		{"short ether", base, func(b []byte) []byte { return b[:10] }, DropTruncated},
		{"ip version", base, func(b []byte) []byte { b[14] = 0x65; return b }, DropBadIPVersion},
		{"ihl", base, func(b []byte) []byte { b[14] = 0x44; return b }, DropBadIHL},
		{"total len long", base, func(b []byte) []byte { put16(b[16:], 2000); fix4(b); return b }, DropBadTotalLen},
		{"total len short", base, func(b []byte) []byte { put16(b[16:], 19); fix4(b); return b }, DropBadTotalLen},
		{"ip checksum", base, func(b []byte) []byte { b[24] ^= 1; return b }, DropBadIPChecksum},
		{"tcp offset", base, func(b []byte) []byte { b[14+20+12] = 0x40; return b }, DropBadTCPHeader},
		{"tcp offset long", base, func(b []byte) []byte { b[14+20+12] = 0xf0; return b }, DropBadTCPHeader},
		{"later fragment", base, func(b []byte) []byte { put16(b[20:], 100); fix4(b); return b }, DropNone},
		{"tcp offset 8", base, func(b []byte) []byte { put16(b[20:], 1); fix4(b); return b }, DropBadFragment},
		{"ping of death", base, func(b []byte) []byte { put16(b[20:], 0x1fff); fix4(b); return b }, DropBadFragment},
		{"options", base, func(b []byte) []byte {
			o := append(append([]byte(nil), b[:34]...), 7, 9, 0, 0)
			o = append(o, b[34:]...)
			o[14] = 0x46
			put16(o[16:], uint16(len(o)-14))
			fix4(o)
			return o
		}, DropBadIPOptions},
		{"v6 payload len", base6, func(b []byte) []byte { put16(b[18:], 3000); return b }, DropBadPayloadLen},
		{"v6 mapped", base6, func(b []byte) []byte { m := MustParseAddr("10.1.1.1"); copy(b[22:38], m[:]); return b }, DropBadAddress},
		{"v6 hbh late", base6, func(b []byte) []byte {
			o := append(append([]byte(nil), b[:54]...), 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0)
			o = append(o, b[54:]...)
			o[20] = ProtoDstOpts
			put16(o[18:], uint16(len(o)-54))
			return o
		}, DropBadExtHeader},
		{"vlans", base, func(b []byte) []byte {
			o := append([]byte(nil), b[:12]...)
			for range 3 {
				o = append(o, 0x81, 0, 0, 1)
			}
			return append(o, b[12:]...)
		}, DropTooManyVLANs},
	}
	for _, tc := range tests {
		b := tc.edit(append([]byte(nil), tc.frame...))
		var p Packet
		if got := Parse(b, &p); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	var p Packet
	b := append([]byte(nil), base...)
	put16(b[20:], 100)
	fix4(b)
	Parse(b, &p)
	if !p.Frag.IsLater() || p.L4Off != 0 || p.Key.SrcPort != 0 {
		t.Errorf("later fragment: %+v", p)
	}
	for r := DropReason(0); r <= NumDropReasons; r++ {
		if r.String() == "" || (r < NumDropReasons && r.String() == "unknown") {
			t.Errorf("reason %d has no name", r)
		}
	}
}

func TestAddr(t *testing.T) {
	a := MustParseAddr("192.0.2.1")
	if !a.Is4() || a.Family() != IPv4 || a.String() != "192.0.2.1" || a.As4() != [4]byte{192, 0, 2, 1} {
		t.Fatal(a)
	}
	if AddrFrom4([4]byte{192, 0, 2, 1}) != a {
		t.Fatal("AddrFrom4")
	}
	b := MustParseAddr("2001:db8::1")
	if b.Is4() || b.Netip().String() != "2001:db8::1" || AddrFromNetip(b.Netip()) != b {
		t.Fatal(b)
	}
	if macClient.String() != "02:00:00:00:00:01" {
		t.Fatal(macClient.String())
	}
}

// IPv6 extension headers: skipped up to the upper layer; a fragment header
// reports the fragment; ESP stops the walk.
func TestParseIPv6ExtHeaders(t *testing.T) {
	s := genSpec{fam: IPv6, proto: ProtoTCP, src: MustParseAddr("2001:db8::1"), dst: MustParseAddr("2001:db8::2"), sport: 1000, dport: 80, ttl: 64, payload: []byte("data")}
	base := s.build(t)
	l4 := base[54:]
	with := func(nh0 uint8, exts ...[]byte) []byte {
		f := append([]byte(nil), base[:54]...)
		f[20] = nh0
		for _, e := range exts {
			f = append(f, e...)
		}
		f = append(f, l4...)
		put16(f[18:], uint16(len(f)-54))
		return f
	}
	hbh := []byte{ProtoRouting, 0, 1, 4, 0, 0, 0, 0}
	rt := []byte{ProtoFragment, 0, 0, 0, 0, 0, 0, 0}
	first := []byte{ProtoTCP, 0, 0, 1, 0, 0, 0x12, 0x34} // offset 0, M
	f := with(ProtoHopByHop, hbh, rt, first)
	var p Packet
	if r := Parse(f, &p); r != DropNone || p.Key.Proto != ProtoTCP || p.Key.DstPort != 80 || !p.Frag.IsFirst() || p.Frag.ID != 0x1234 || p.L4Off != 54+24 {
		t.Fatalf("first fragment: %v %+v", r, p)
	}
	later := []byte{ProtoTCP, 0, 0x05, 0xa8, 0, 0, 0x12, 0x34} // offset 1448
	f = with(ProtoFragment, later)
	if r := Parse(f, &p); r != DropNone || !p.Frag.IsLater() || p.Frag.Offset != 1448 || p.L4Off != 0 || p.Key.Proto != ProtoTCP {
		t.Fatalf("later fragment: %v %+v", r, p)
	}
	atomic := []byte{ProtoTCP, 0, 0, 0, 0, 0, 0, 1}
	f = with(ProtoFragment, atomic)
	if r := Parse(f, &p); r != DropNone || p.Frag.IsFragment() || p.Key.DstPort != 80 {
		t.Fatalf("atomic fragment: %v %+v", r, p)
	}
	f = with(ProtoESP)
	if r := Parse(f, &p); r != DropNone || p.Key.Proto != ProtoESP || p.L4Off != 54 || p.Key.DstPort != 0 {
		t.Fatalf("ESP: %v %+v", r, p)
	}
	f = with(ProtoFragment, rt[:4])
	f = f[:len(f)-len(l4)]
	put16(f[18:], uint16(len(f)-54))
	if r := Parse(f, &p); r != DropBadExtHeader {
		t.Fatalf("truncated extension header: %v", r)
	}
}
