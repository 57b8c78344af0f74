package packet

import (
	"bytes"
	"testing"
)

// Benchmarks: see doc.go ("Benchmarks") for what each measures.

type benchCase struct {
	name  string
	frame []byte // the pristine input
	apply func(f *Frame, p *Packet) DropReason
}

func benchCases(b *testing.B) []benchCase {
	tcp := gSpec(IPv4, ProtoTCP)
	tcp.payload = bytes.Repeat([]byte{0x5a}, 1448)
	reply := tcp
	reply.src, reply.dst, reply.sport, reply.dport = gReal, gClient, 8080, 40000
	tcp6 := gSpec(IPv6, ProtoTCP)
	tcp6.payload = tcp.payload
	about := gSpec(IPv4, ProtoTCP)
	about.src, about.dst, about.sport, about.dport = gVIP, gClient, 80, 40000
	ab := about.build(b)
	abp := mustParse(b, ab)
	icmpErr := icmpErrorAbout(b, &about, ab[abp.L3Off:abp.End], gRouter, ICMPv4DestUnreach, ICMPv4FragNeeded, 1400, 60)
	tunnel := func(typ TunnelType, outer Family) func(f *Frame, p *Packet) DropReason {
		t := Tunnel{Type: typ, Src: gDir, Dst: gReal, Port: 6080, MTU: 9000, DstMAC: macReal, SrcMAC: macDirector}
		if outer == IPv6 {
			t.Src, t.Dst = gDir6, gReal6
		}
		return func(f *Frame, p *Packet) DropReason { return Encap(f, p, &t, 1) }
	}
	return []benchCase{
		// the harness alone: restoring the frame's headers (and, in
		// BenchmarkTransform, the parsed Packet) each iteration
		{"none", tcp.build(b), func(f *Frame, p *Packet) DropReason { return DropNone }},
		{"nat-in", tcp.build(b), func(f *Frame, p *Packet) DropReason {
			if r := NATDest(f.Bytes(), p, gReal, 8080); r != DropNone {
				return r
			}
			RewriteMAC(f.Bytes(), macReal, macDirector)
			return DropNone
		}},
		{"nat-out", reply.build(b), func(f *Frame, p *Packet) DropReason {
			if r := NATSource(f.Bytes(), p, gVIP, 80); r != DropNone {
				return r
			}
			RewriteMAC(f.Bytes(), macClient, macDirector)
			return DropNone
		}},
		{"dr", tcp.build(b), func(f *Frame, p *Packet) DropReason {
			return DirectRoute(f.Bytes(), p, macReal, macDirector)
		}},
		{"ipip", tcp.build(b), tunnel(TunnelIPIP, IPv4)},
		{"ip6ip6", tcp6.build(b), tunnel(TunnelIPIP, IPv6)},
		{"gue", tcp.build(b), tunnel(TunnelGUE, IPv4)},
		{"gre", tcp.build(b), tunnel(TunnelGRE, IPv4)},
		{"icmp-nat", icmpErr, func(f *Frame, p *Packet) DropReason {
			return TranslateICMP(f.Bytes(), p, ToRealServer, gReal, 8080)
		}},
	}
}

// restore puts the pristine headers back (the transforms change only the
// headers, and the headroom in front of them).
func restore(buf, pristine []byte, n int) {
	copy(buf[headroom:headroom+n], pristine[:n])
}

// headerLen is how much of a frame restore copies back: its headers, or
// the whole of a small frame (an ICMP error).
func headerLen(p *Packet, frame []byte) int {
	if p.IsICMPError() || p.PayloadOff == 0 {
		return len(frame)
	}
	return p.PayloadOff
}

// BenchmarkTransform measures a transform alone on a parsed 1.5 kB frame
// (plus restoring the frame's first 128 bytes and the Packet, ~3 ns).
func BenchmarkTransform(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, headroom+len(c.frame))
			copy(buf[headroom:], c.frame)
			var p0 Packet
			if r := Parse(c.frame, &p0); r != DropNone {
				b.Fatal(r)
			}
			var f Frame
			var p Packet
			n := headerLen(&p0, c.frame)
			b.ReportAllocs()
			b.SetBytes(int64(len(c.frame)))
			for b.Loop() {
				restore(buf, c.frame, n)
				f = FrameOver(buf, headroom, len(c.frame))
				p = p0
				if r := c.apply(&f, &p); r != DropNone {
					b.Fatal(r)
				}
			}
		})
	}
}

// BenchmarkParseTransform measures parse and transform together: the
// per-packet cost of the packet layer on the forwarding path.
func BenchmarkParseTransform(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, headroom+len(c.frame))
			copy(buf[headroom:], c.frame)
			var f Frame
			var p Packet
			n := headerLen(mustParse(b, c.frame), c.frame)
			b.ReportAllocs()
			b.SetBytes(int64(len(c.frame)))
			for b.Loop() {
				restore(buf, c.frame, n)
				f = FrameOver(buf, headroom, len(c.frame))
				if r := Parse(f.Bytes(), &p); r != DropNone {
					b.Fatal(r)
				}
				if r := c.apply(&f, &p); r != DropNone {
					b.Fatal(r)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	tcp4 := gSpec(IPv4, ProtoTCP)
	tcp6 := gSpec(IPv6, ProtoTCP)
	udp4 := gSpec(IPv4, ProtoUDP)
	udp4.vlans = 2
	about := gSpec(IPv4, ProtoTCP)
	ab := about.build(b)
	abp := mustParse(b, ab)
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"tcp4", tcp4.build(b)},
		{"tcp6", tcp6.build(b)},
		{"udp4-qinq", udp4.build(b)},
		{"icmp-error4", icmpErrorAbout(b, &about, ab[abp.L3Off:abp.End], gRouter, ICMPv4DestUnreach, ICMPv4PortUnreach, 0, 60)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var p Packet
			b.ReportAllocs()
			for b.Loop() {
				if r := Parse(c.frame, &p); r != DropNone {
					b.Fatal(r)
				}
			}
		})
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := bytes.Repeat([]byte{0xa5, 0x5a, 0xff}, 500)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Checksum(buf)
	}
}

func BenchmarkSegment(b *testing.B) {
	s := gSpec(IPv4, ProtoTCP)
	s.payload = bytes.Repeat([]byte{1}, 64000)
	frame := s.build(b)
	p := mustParse(b, frame)
	out := frames(45, 1600, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, r := Segment(out, frame, p, 1448); r != DropNone {
			b.Fatal(r)
		}
	}
}

func BenchmarkFragCache(b *testing.B) {
	c := NewFragCache(4096, 0)
	first, later := fragPacket(7, 0, true, 5555), fragPacket(7, 1480, false, 0)
	b.ReportAllocs()
	for b.Loop() {
		c.Add(first, 1e9)
		c.Lookup(later, 1e9)
	}
}
