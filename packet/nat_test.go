package packet

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// natAllowed lists the bytes NAT may change: TTL and header checksum (or
// hop limit), one address, one port, the L4 checksum (SCTP: the CRC).
func natAllowed(p *Packet, src bool) [][2]int {
	l3, l4 := p.L3Off, p.L4Off
	var a [][2]int
	if p.Key.Family == IPv4 {
		a = append(a, [2]int{l3 + 8, l3 + 9}, [2]int{l3 + 10, l3 + 12})
		if src {
			a = append(a, [2]int{l3 + 12, l3 + 16})
		} else {
			a = append(a, [2]int{l3 + 16, l3 + 20})
		}
	} else {
		a = append(a, [2]int{l3 + 7, l3 + 8})
		if src {
			a = append(a, [2]int{l3 + 8, l3 + 24})
		} else {
			a = append(a, [2]int{l3 + 24, l3 + 40})
		}
	}
	if src {
		a = append(a, [2]int{l4, l4 + 2})
	} else {
		a = append(a, [2]int{l4 + 2, l4 + 4})
	}
	switch p.Key.Proto {
	case ProtoTCP:
		a = append(a, [2]int{l4 + 16, l4 + 18})
	case ProtoUDP:
		a = append(a, [2]int{l4 + 6, l4 + 8})
	case ProtoSCTP:
		a = append(a, [2]int{l4 + 8, l4 + 12})
	}
	return a
}

func TestNATProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range cases(t) {
		s := randSpec(r)
		orig := s.build(t)
		p := mustParse(t, orig)
		rs, rport := randAddr(r, s.fam), uint16(r.Uint32())
		out := bytes.Clone(orig)
		q := *p
		outward := i%2 == 1 // a real server's reply: source rewritten
		var res DropReason
		if outward {
			res = NATSource(out, &q, rs, rport)
		} else {
			res = NATDest(out, &q, rs, rport)
		}
		if res != DropNone {
			t.Fatalf("NAT: %v", res)
		}
		changedOnly(t, orig, out, natAllowed(p, outward)...)
		d := mustDecode(t, out, 0)
		src, dst, ttl := ipAddrs(d)
		sport, dport, payload := l4Layer(d)
		wantSrc, wantDst, wantSport, wantDport := s.src, rs, s.sport, rport
		if outward {
			wantSrc, wantDst, wantSport, wantDport = rs, s.dst, rport, s.dport
		}
		if src != wantSrc || dst != wantDst || sport != wantSport || dport != wantDport || ttl != s.ttl-1 {
			t.Fatalf("got %v:%d > %v:%d ttl %d", src, sport, dst, dport, ttl)
		}
		if q.Key.Src != wantSrc || q.Key.Dst != wantDst || q.Key.SrcPort != wantSport || q.Key.DstPort != wantDport {
			t.Fatalf("key not updated: %+v", q.Key)
		}
		if s.proto != ProtoSCTP && !bytes.Equal(payload, s.payload) {
			t.Fatalf("payload changed")
		}
		if s.proto == ProtoUDP && s.udpNoCsum && d.udp.Checksum != 0 {
			t.Fatalf("UDP checksum 0 became %#x", d.udp.Checksum)
		}
		if s.proto == ProtoUDP && !s.udpNoCsum && d.udp.Checksum == 0 {
			t.Fatalf("UDP checksum became 0")
		}
		// NAT in followed by NAT out (the rewrite back) is the identity,
		// but for the TTL
		back := bytes.Clone(out)
		var rr DropReason
		if outward {
			rr = RewriteSource(back, &q, s.src, s.sport)
		} else {
			rr = RewriteDest(back, &q, s.dst, s.dport)
		}
		if rr != DropNone {
			t.Fatal(rr)
		}
		ttlOnly := [][2]int{{p.L3Off + 7, p.L3Off + 12}}
		changedOnly(t, orig, back, ttlOnly...)
		if q.Key != p.Key {
			t.Fatalf("key after round trip %+v, want %+v", q.Key, p.Key)
		}
		if s.proto != ProtoSCTP {
			l4c := p.L4Off + 16
			if s.proto == ProtoUDP {
				l4c = p.L4Off + 6
			}
			if !bytes.Equal(orig[l4c:l4c+2], back[l4c:l4c+2]) && !(orig[l4c] == 0xff && orig[l4c+1] == 0xff) {
				t.Fatalf("L4 checksum %x after round trip, was %x", back[l4c:l4c+2], orig[l4c:l4c+2])
			}
		}
	}
}

// With CHECKSUM_PARTIAL the field stays the pseudo-header sum: completed
// afterwards, it equals the checksum of the fully rewritten packet.
func TestNATPartialChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range cases(t) {
		s := randSpec(r)
		if s.proto == ProtoSCTP || s.udpNoCsum {
			s.proto = ProtoTCP
		}
		orig := s.build(t)
		p := mustParse(t, orig)
		rs, rport := randAddr(r, s.fam), uint16(r.Uint32())
		full := bytes.Clone(orig)
		pf := *p
		if res := NATDest(full, &pf, rs, rport); res != DropNone {
			t.Fatal(res)
		}
		part := bytes.Clone(orig)
		pp := *p
		h := makePartial(part, &pp)
		if res := pp.SetOffload(&h); res != DropNone {
			t.Fatal(res)
		}
		if !pp.ChecksumPartial() {
			t.Fatal("not partial")
		}
		if res := NATDest(part, &pp, rs, rport); res != DropNone {
			t.Fatal(res)
		}
		// the partial sum is the pseudo-header sum of the new packet
		want := bytes.Clone(part)
		pw := *p
		pw.Key.Src, pw.Key.Dst = s.src, rs
		makePartial(want, &pw)
		if !bytes.Equal(part, want) {
			t.Fatalf("partial field not the new pseudo-header sum")
		}
		vh := pp.VnetHeader()
		if vh.Flags != VnetNeedsCsum || int(vh.CsumStart) != p.L4Off {
			t.Fatalf("vnet %+v", vh)
		}
		if res := CompleteChecksum(part, &pp); res != DropNone {
			t.Fatal(res)
		}
		if pp.ChecksumPartial() {
			t.Fatal("still partial")
		}
		mustDecode(t, part, 0)
		if !bytes.Equal(part, full) {
			t.Fatalf("completed partial differs from full NAT")
		}
	}
}

func TestNATRefusals(t *testing.T) {
	s := genSpec{fam: IPv4, proto: ProtoTCP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), sport: 1, dport: 2, ttl: 1}
	f := s.build(t)
	p := mustParse(t, f)
	orig := bytes.Clone(f)
	if r := NATDest(f, p, MustParseAddr("10.0.0.3"), 80); r != DropTTLExceeded || !bytes.Equal(f, orig) {
		t.Fatalf("TTL 1: %v", r)
	}
	if r := NATDest(f, p, MustParseAddr("2001:db8::1"), 80); r != DropFamilyMismatch {
		t.Fatalf("family: %v", r)
	}
	if r := DirectRoute(f, p, macReal, macDirector); r != DropTTLExceeded {
		t.Fatalf("DR TTL 1: %v", r)
	}
	s.ttl, s.proto = 64, ProtoSCTP
	f = s.build(t)
	p = mustParse(t, f)
	p.Frag.More = true
	if r := NATDest(f, p, MustParseAddr("10.0.0.3"), 80); r != DropFragmented {
		t.Fatalf("SCTP first fragment: %v", r)
	}
}

// A later fragment gets its addresses rewritten and nothing else.
func TestNATLaterFragment(t *testing.T) {
	s := genSpec{fam: IPv4, proto: ProtoUDP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), sport: 1, dport: 2, ttl: 9, payload: make([]byte, 100)}
	f := s.build(t)
	put16(f[20:], 0x0010)
	IPv4Header(f[14:]).SetChecksum()
	p := mustParse(t, f)
	orig := bytes.Clone(f)
	if r := NATDest(f, p, MustParseAddr("10.9.9.9"), 80); r != DropNone {
		t.Fatal(r)
	}
	changedOnly(t, orig, f, [2]int{22, 26}, [2]int{30, 34})
	if !IPv4Header(f[14:]).ChecksumOK() {
		t.Fatal("IP checksum")
	}
}

func TestDirectRouteProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range cases(t) {
		s := randSpec(r)
		orig := s.build(t)
		p := mustParse(t, orig)
		out := bytes.Clone(orig)
		if res := DirectRoute(out, p, macReal, macDirector); res != DropNone {
			t.Fatal(res)
		}
		changedOnly(t, orig, out, [2]int{0, 12}, [2]int{p.L3Off + 7, p.L3Off + 12})
		d := mustDecode(t, out, 0)
		if MAC(d.eth.DstMAC) != macReal || MAC(d.eth.SrcMAC) != macDirector {
			t.Fatal("MACs")
		}
		if _, _, ttl := ipAddrs(d); ttl != s.ttl-1 {
			t.Fatalf("ttl %d", ttl)
		}
	}
}
