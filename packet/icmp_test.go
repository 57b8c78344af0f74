package packet

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// icmpErrorAbout builds (with gopacket) an ICMP error from `from` to the
// sender of the IP packet quoted (the first quoteLen bytes of it).
func icmpErrorAbout(t testing.TB, s *genSpec, quoted []byte, from Addr, typ, code uint8, rest uint32, ttl uint8) []byte {
	t.Helper()
	e := genSpec{fam: s.fam, vlans: s.vlans, src: from, dst: s.src, ttl: ttl, tos: 0xc0}
	if s.fam == IPv4 {
		ls, _ := e.l3Layers(layers.IPProtocolICMPv4)
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: uint16(rest >> 16), Seq: uint16(rest)}
		return serialize(t, append(ls, icmp, gopacket.Payload(quoted))...)
	}
	ls, nl := e.l3Layers(layers.IPProtocolICMPv6)
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, code)}
	icmp.SetNetworkLayerForChecksum(nl)
	var restb [4]byte
	put32(restb[:], rest)
	return serialize(t, append(ls, icmp, gopacket.Payload(append(restb[:], quoted...)))...)
}

func randICMPError(r *rand.Rand, f Family) (typ, code uint8, rest uint32) {
	if f == IPv4 {
		switch r.IntN(4) {
		case 0:
			return ICMPv4DestUnreach, ICMPv4PortUnreach, 0
		case 1:
			return ICMPv4DestUnreach, ICMPv4FragNeeded, uint32(500 + r.IntN(1000))
		case 2:
			return ICMPv4TimeExceeded, 0, 0
		}
		return ICMPv4ParamProblem, 0, 12 << 24
	}
	switch r.IntN(4) {
	case 0:
		return ICMPv6DestUnreach, ICMPv6PortUnreach, 0
	case 1:
		return ICMPv6PacketTooBig, 0, uint32(1280 + r.IntN(200))
	case 2:
		return ICMPv6TimeExceeded, 0, 0
	}
	return ICMPv6ParamProblem, 0, 6
}

func TestTranslateICMPProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i := range cases(t) {
		// the packet the error is about: VIP -> client (ToRealServer), or
		// client -> real server (ToClient)
		s := randSpec(r)
		s.ext = false
		about := s.build(t)
		ap := mustParse(t, about)
		ipPkt := about[ap.L3Off:ap.End]
		limit := 576 - 28
		if s.fam == IPv6 {
			limit = 1280 - 48
		}
		quoteLen := min(len(ipPkt), limit)
		switch r.IntN(3) {
		case 0:
			quoteLen = min(quoteLen, ap.L4Off-ap.L3Off+8) // the RFC 792 minimum
		case 1:
			quoteLen = min(quoteLen, ap.L4Off-ap.L3Off+4+r.IntN(30))
		}
		quoted := bytes.Clone(ipPkt[:quoteLen])
		typ, code, rest := randICMPError(r, s.fam)
		router := randAddr(r, s.fam)
		frame := icmpErrorAbout(t, &s, quoted, router, typ, code, rest, uint8(2+r.IntN(250)))
		mustDecode(t, frame, 0)
		p := mustParse(t, frame)
		if !p.IsICMPError() || p.Inner.Key.Src != s.src || p.Inner.Key.Dst != s.dst || p.Inner.Key.SrcPort != s.sport || p.Inner.Key.DstPort != s.dport || p.Inner.Key.Proto != s.proto {
			t.Fatalf("quote %+v", p.Inner.Key)
		}
		dir := Direction(i % 2)
		addr, port := randAddr(r, s.fam), uint16(r.Uint32())
		out := bytes.Clone(frame)
		q := *p
		if res := TranslateICMP(out, &q, dir, addr, port); res != DropNone {
			t.Fatalf("TranslateICMP: %v", res)
		}
		d := mustDecode(t, out, 0)
		osrc, odst, _ := ipAddrs(d)
		wantSrc, wantDst := router, addr
		if dir == ToClient {
			wantSrc, wantDst = addr, s.src
		}
		if osrc != wantSrc || odst != wantDst {
			t.Fatalf("outer %v > %v", osrc, odst)
		}
		// the quote: the translated packet, as its sender would have sent it
		want := s
		if dir == ToClient {
			want.dst, want.dport = addr, port
		} else {
			want.src, want.sport = addr, port
		}
		wframe := want.build(t)
		wp := mustParse(t, wframe)
		wq := wframe[wp.L3Off : wp.L3Off+quoteLen]
		gq := out[q.Inner.L3Off:q.End]
		if c := wp.L4Off - wp.L3Off + 8; s.proto == ProtoSCTP && quoteLen > c {
			// the quoted CRC cannot be updated
			copy(wq[c:min(c+4, len(wq))], gq[c:])
		}
		if c := wp.L4Off - wp.L3Off + map[uint8]int{ProtoTCP: 16, ProtoUDP: 6}[s.proto]; s.proto != ProtoSCTP && quoteLen == c+1 {
			wq[c] = gq[c] // half a checksum is quoted: left as it was
		}
		if s.fam == IPv4 {
			// the quoted TTL is the one the error reports; the header checksum follows it
			wq[8] = gq[8]
			IPv4Header(wq).SetChecksum()
		}
		if !bytes.Equal(gq, wq) {
			t.Fatalf("quote\n%x\nwant\n%x", gq, wq)
		}
		if q.Inner.Key.Src != want.src || q.Inner.Key.SrcPort != want.sport || q.Inner.Key.Dst != want.dst || q.Inner.Key.DstPort != want.dport {
			t.Fatalf("inner key %+v", q.Inner.Key)
		}
	}
}

func TestBuildICMPErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	buf := make([]byte, 2048)
	for range cases(t) {
		s := randSpec(r)
		orig := s.build(t)
		p := mustParse(t, orig)
		me := randAddr(r, s.fam)
		var n int
		var res DropReason
		mtu := 1280 + r.IntN(200)
		tooBig := r.IntN(2) == 0
		if tooBig {
			n, res = BuildFragNeeded(buf, orig, p, me, macDirector, mtu)
		} else {
			n, res = BuildTimeExceeded(buf, orig, p, me, macDirector)
		}
		if res != DropNone {
			t.Fatal(res)
		}
		frame := buf[:n]
		d := mustDecode(t, frame, 0)
		src, dst, _ := ipAddrs(d)
		if src != me || dst != s.src || MAC(d.eth.DstMAC) != macClient || MAC(d.eth.SrcMAC) != macDirector {
			t.Fatalf("addresses %v > %v", src, dst)
		}
		ep := mustParse(t, frame)
		if !ep.IsICMPError() || ep.Inner.Key != p.Key || int(ep.NumVLAN) != s.vlans {
			t.Fatalf("quote %+v, want %+v", ep.Inner.Key, p.Key)
		}
		limit := 576
		if s.fam == IPv6 {
			limit = 1280
		}
		if ep.IPLen() > limit || !bytes.Equal(frame[ep.Inner.L3Off:ep.End], orig[p.L3Off:p.L3Off+ep.End-ep.Inner.L3Off]) {
			t.Fatalf("quote length %d", ep.IPLen())
		}
		switch {
		case d.icmp != nil && tooBig:
			if d.icmp.TypeCode.Type() != 3 || d.icmp.TypeCode.Code() != 4 || int(d.icmp.Seq) != mtu {
				t.Fatalf("frag needed %v %d", d.icmp.TypeCode, d.icmp.Seq)
			}
		case d.icmp != nil:
			if d.icmp.TypeCode.Type() != 11 {
				t.Fatal(d.icmp.TypeCode)
			}
		case tooBig:
			if d.icm6.TypeCode.Type() != 2 || int(be32(frame[ep.L4Off+4:])) != mtu {
				t.Fatal(d.icm6.TypeCode)
			}
		default:
			if d.icm6.TypeCode.Type() != 3 {
				t.Fatal(d.icm6.TypeCode)
			}
		}
		// never an error about an error
		if _, res := BuildTimeExceeded(make([]byte, 2048), frame, ep, me, macDirector); res != DropICMPSuppressed {
			t.Fatalf("error about an error: %v", res)
		}
	}
}
