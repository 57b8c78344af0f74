package tundecap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// via names the socket a packet arrives on, so one table covers them all.
type via uint8

const (
	viaIPv4 via = iota // AF_INET raw socket: the outer IPv4 header included
	viaIPv6            // AF_INET6 raw socket: the payload, next header aside
	viaGUE             // UDP socket: the GUE header and what follows
	viaGRE             // the GRE header and what follows
	numVias
)

func decap(v via, next byte, pkt []byte) (Inner, error) {
	switch v {
	case viaIPv4:
		return DecapIPv4(pkt)
	case viaIPv6:
		return DecapIPv6Payload(next, pkt)
	case viaGUE:
		return DecapGUE(pkt)
	default:
		return DecapGRE(pkt)
	}
}

type decapCase struct {
	name  string
	via   via
	next  byte // viaIPv6's next header
	pkt   []byte
	inner []byte     // the inner packet expected (nil: a drop)
	err   DropReason // the drop expected
	// a partial checksum expected: where it starts and where its field is
	partial               bool
	csumStart, csumOffset uint16
}

func decapCases() []decapCase {
	u4, u6 := innerUDP(false, "hello", false), innerUDP(true, "hello", false)
	t4partial, t6partial := innerTCP(false, "GET / HTTP/1.0\r\n\r\n", true), innerTCP(true, "GET / HTTP/1.0\r\n\r\n", true)
	u4partial, u6partial := innerUDP(false, "ping", true), innerUDP(true, "ping", true)
	ipip := func(inner []byte) []byte { return ipv4Packet(dir4, vip4, ipProto(inner), inner) }
	// outer IPv4 with 4 bytes of options (IHL 6)
	withOptions := func(inner []byte) []byte {
		p := ipv4Packet(dir4, vip4, ProtoIPIP, concat([]byte{1, 1, 1, 0}, inner))
		p[0] = 0x46
		binary.BigEndian.PutUint16(p[10:], 0)
		binary.BigEndian.PutUint16(p[10:], Checksum(p[:24]))
		return p
	}
	u4badcsum := with(u4, 10, u4[10]^0xff)
	u4fragment := with(u4, 6, 0x20) // more fragments
	u4fragment = with(u4fragment, 10, 0, 0)
	binary.BigEndian.PutUint16(u4fragment[10:], Checksum(u4fragment[:20]))
	u4fragPartial := with(u4partial, 6, 0x20, 0)
	u4fragPartial = with(u4fragPartial, 10, 0, 0)
	binary.BigEndian.PutUint16(u4fragPartial[10:], Checksum(u4fragPartial[:20]))
	u4nocsum := with(u4, 26, 0, 0) // UDP without checksum
	u4ihl4 := with(u4, 0, 0x44)
	u6long := with(u6, 4, 0x10, 0) // payload length beyond the packet
	gre4 := grePacket(u4, greOptions{})
	gre6all := grePacket(u6, greOptions{csum: true, key: true, seq: true})
	greBadCsum := with(gre6all, len(gre6all)-1, gre6all[len(gre6all)-1]^1)
	gue4 := guePacket(u4, false, 0, 0)
	gue6 := guePacket(u6, false, 0, 0)
	rem4 := guePacket(t4partial, true, 20, 36)
	rem6 := guePacket(u6partial, true, 40, 46)
	return []decapCase{
		// IPv4 outer: ipip, 6in4, GRE
		{name: "ipip", via: viaIPv4, pkt: ipip(u4), inner: u4},
		{name: "ipip with outer options", via: viaIPv4, pkt: withOptions(u4), inner: u4},
		{name: "ipip trailing bytes after the outer packet", via: viaIPv4, pkt: concat(ipip(u4), make([]byte, 6)), inner: u4},
		{name: "ipip trailing bytes after the inner packet", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPIP, concat(u4, []byte{0, 0, 0})), inner: u4},
		{name: "6in4", via: viaIPv4, pkt: ipip(u6), inner: u6},
		{name: "gre in ipv4", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoGRE, gre4), inner: u4},
		{name: "gre in ipv4, all options", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoGRE, gre6all), inner: u6},
		{name: "ipip inner fragment", via: viaIPv4, pkt: ipip(u4fragment), inner: u4fragment},
		{name: "ipip inner UDP without checksum", via: viaIPv4, pkt: ipip(u4nocsum), inner: u4nocsum},
		{name: "outer too short", via: viaIPv4, pkt: ipip(u4)[:19], err: DropShort},
		{name: "outer empty", via: viaIPv4, pkt: nil, err: DropShort},
		{name: "outer not IPv4", via: viaIPv4, pkt: with(ipip(u4), 0, 0x65), err: DropOuter},
		{name: "outer IHL below 5", via: viaIPv4, pkt: with(ipip(u4), 0, 0x44), err: DropOuter},
		{name: "outer total length below IHL", via: viaIPv4, pkt: with(ipip(u4), 2, 0, 19), err: DropOuter},
		{name: "outer total length beyond the packet", via: viaIPv4, pkt: with(ipip(u4), 2, 0x10, 0), err: DropShort},
		{name: "outer IHL beyond the packet", via: viaIPv4, pkt: with(ipv4Packet(dir4, vip4, ProtoIPIP, nil), 0, 0x4f), err: DropOuter},
		{name: "outer UDP is no tunnel here", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, protoUDP, u4), err: DropProtocol},
		{name: "ipip carrying IPv6", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPIP, u6), err: DropInner},
		{name: "6in4 carrying IPv4", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPv6, u4), err: DropInner},
		{name: "ipip empty", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPIP, nil), err: DropInner},
		{name: "ipip inner truncated", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPIP, u4[:len(u4)-1]), err: DropInner},
		{name: "ipip inner header checksum", via: viaIPv4, pkt: ipip(u4badcsum), err: DropInner},
		{name: "ipip inner IHL below 5", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPIP, u4ihl4), err: DropInner},
		{name: "ipip inner total length below IHL", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPIP, with(u4, 2, 0, 10)), err: DropInner},
		{name: "6in4 inner payload length beyond", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPv6, u6long), err: DropInner},
		{name: "6in4 inner shorter than a header", via: viaIPv4, pkt: ipv4Packet(dir4, vip4, ProtoIPv6, u6[:39]), err: DropInner},

		// IPv6 outer (the raw socket hands over the payload)
		{name: "4in6", via: viaIPv6, next: ProtoIPIP, pkt: u4, inner: u4},
		{name: "6in6", via: viaIPv6, next: ProtoIPv6, pkt: u6, inner: u6},
		{name: "gre in ipv6", via: viaIPv6, next: ProtoGRE, pkt: gre6all, inner: u6},
		{name: "ipv6 next header UDP", via: viaIPv6, next: protoUDP, pkt: u4, err: DropProtocol},
		{name: "6in6 empty", via: viaIPv6, next: ProtoIPv6, pkt: nil, err: DropInner},

		// GRE
		{name: "gre plain", via: viaGRE, pkt: gre4, inner: u4},
		{name: "gre checksum and key", via: viaGRE, pkt: grePacket(u4, greOptions{csum: true, key: true}), inner: u4},
		{name: "gre reserved bits ignored", via: viaGRE, pkt: with(gre4, 0, 0x00, 0x80), inner: u4},
		{name: "gre bad checksum", via: viaGRE, pkt: greBadCsum, err: DropGRE},
		{name: "gre version 1", via: viaGRE, pkt: with(gre4, 1, 0x01), err: DropGRE},
		{name: "gre routing bit", via: viaGRE, pkt: with(gre4, 0, 0x40), err: DropGRE},
		{name: "gre transparent ethernet", via: viaGRE, pkt: grePacket(u4, greOptions{etherType: 0x6558}), err: DropGRE},
		{name: "gre ipv4 type carrying ipv6", via: viaGRE, pkt: grePacket(u6, greOptions{etherType: etherTypeIPv4}), err: DropInner},
		{name: "gre too short", via: viaGRE, pkt: gre4[:3], err: DropShort},
		{name: "gre options cut short", via: viaGRE, pkt: gre6all[:10], err: DropShort},

		// GUE
		{name: "gue ipip", via: viaGUE, pkt: gue4, inner: u4},
		{name: "gue ipv6", via: viaGUE, pkt: gue6, inner: u6},
		{name: "gue remote checksum offload tcp", via: viaGUE, pkt: rem4, inner: t4partial, partial: true, csumStart: 20, csumOffset: 16},
		{name: "gue remote checksum offload udp6", via: viaGUE, pkt: rem6, inner: u6partial, partial: true, csumStart: 40, csumOffset: 6},
		{name: "gue unknown options skipped", via: viaGUE, pkt: concat([]byte{2, ProtoIPIP, 0, 0}, make([]byte, 8), u4), inner: u4},
		{name: "gue variant 1 ipv4", via: viaGUE, pkt: u4, inner: u4},
		{name: "gue variant 1 ipv6", via: viaGUE, pkt: u6, inner: u6},
		{name: "gue variant 1 neither", via: viaGUE, pkt: with(u4, 0, 0x55), err: DropGUE},
		{name: "gue version 2", via: viaGUE, pkt: with(gue4, 0, 0x80), err: DropGUE},
		{name: "gue control message", via: viaGUE, pkt: with(gue4, 0, 0x20), err: DropGUE},
		{name: "gue unknown flag", via: viaGUE, pkt: with(gue4, 2, 0x80), err: DropGUE},
		{name: "gue private flags without room", via: viaGUE, pkt: with(gue4, 2, 0, 1), err: DropGUE},
		{name: "gue unknown private flag", via: viaGUE, pkt: with(rem4, 4, 0x40), err: DropGUE},
		{name: "gue remcsum without room", via: viaGUE, pkt: concat([]byte{1, ProtoIPIP, 0, 1, 0x80, 0, 0, 0}, u4), err: DropGUE},
		{name: "gue remcsum field before start", via: viaGUE, pkt: guePacket(t4partial, true, 20, 10), err: DropGUE},
		{name: "gue remcsum field beyond the packet", via: viaGUE, pkt: guePacket(t4partial, true, 20, uint16(len(t4partial)-1)), err: DropGUE},
		{name: "gue options beyond the packet", via: viaGUE, pkt: []byte{3, ProtoIPIP, 0, 0, 0, 0}, err: DropShort},
		{name: "gue carrying udp", via: viaGUE, pkt: with(gue4, 1, protoUDP), err: DropGUE},
		{name: "gue proto says ipv6, ipv4 inside", via: viaGUE, pkt: with(gue4, 1, ProtoIPv6), err: DropInner},
		{name: "gue empty", via: viaGUE, pkt: nil, err: DropShort},
		{name: "gue header cut short", via: viaGUE, pkt: gue4[:2], err: DropShort},

		// a CHECKSUM_PARTIAL segment read off a veth keeps its state
		{name: "ipip partial udp", via: viaIPv4, pkt: ipip(u4partial), inner: u4partial, partial: true, csumStart: 20, csumOffset: 6},
		{name: "ipip partial tcp", via: viaIPv4, pkt: ipip(t4partial), inner: t4partial, partial: true, csumStart: 20, csumOffset: 16},
		{name: "6in6 partial tcp", via: viaIPv6, next: ProtoIPv6, pkt: t6partial, inner: t6partial, partial: true, csumStart: 40, csumOffset: 16},
		{name: "gre partial udp6", via: viaGRE, pkt: grePacket(u6partial, greOptions{}), inner: u6partial, partial: true, csumStart: 40, csumOffset: 6},
		{name: "ipip complete tcp", via: viaIPv4, pkt: ipip(innerTCP(false, "x", false)), inner: innerTCP(false, "x", false)},
		{name: "ipip fragment never partial", via: viaIPv4, pkt: ipip(u4fragPartial), inner: u4fragPartial},
		{name: "ipip transport header cut short", via: viaIPv4, pkt: ipip(ipv4Packet(client4, vip4, protoTCP, make([]byte, 10))), inner: ipv4Packet(client4, vip4, protoTCP, make([]byte, 10))},
	}
}

func TestDecap(t *testing.T) {
	for _, c := range decapCases() {
		t.Run(c.name, func(t *testing.T) {
			orig := append([]byte(nil), c.pkt...)
			in, err := decap(c.via, c.next, c.pkt)
			if !bytes.Equal(orig, c.pkt) {
				t.Fatal("the packet was modified")
			}
			if c.inner == nil {
				var r DropReason
				if !errors.As(err, &r) || r != c.err {
					t.Fatalf("got %+v, %v; want drop %v", in, err, c.err)
				}
				if in != (Inner{}) {
					t.Fatalf("a drop returned %+v", in)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected drop: %v", err)
			}
			if got := c.pkt[in.Start:in.End]; !bytes.Equal(got, c.inner) {
				t.Fatalf("inner packet\n got %x\nwant %x", got, c.inner)
			}
			if in.IPv6 != (c.inner[0]>>4 == 6) {
				t.Fatalf("IPv6 = %v", in.IPv6)
			}
			if in.Partial != c.partial || in.CsumStart != c.csumStart || in.CsumOffset != c.csumOffset {
				t.Fatalf("checksum state %v %d %d, want %v %d %d", in.Partial, in.CsumStart, in.CsumOffset, c.partial, c.csumStart, c.csumOffset)
			}
		})
	}
}

// TestPartialChecksumCompletes: the checksum a partial segment's receiver
// computes from CsumStart and CsumOffset is the one a sender would have
// written.
func TestPartialChecksumCompletes(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, tcp := range []bool{false, true} {
			partial, full := innerUDP(v6, "payload!", true), innerUDP(v6, "payload!", false)
			if tcp {
				partial, full = innerTCP(v6, "payload!", true), innerTCP(v6, "payload!", false)
			}
			via, next := viaIPv4, byte(0)
			pkt := ipv4Packet(dir4, vip4, ipProto(partial), partial)
			if v6 {
				via, next, pkt = viaIPv6, ProtoIPv6, partial
			}
			in, err := decap(via, next, pkt)
			if err != nil || !in.Partial {
				t.Fatalf("v6=%v tcp=%v: %+v %v", v6, tcp, in, err)
			}
			inner := append([]byte(nil), pkt[in.Start:in.End]...)
			field := int(in.CsumStart + in.CsumOffset)
			c := Checksum(inner[in.CsumStart:])
			if c == 0 {
				c = 0xffff
			}
			binary.BigEndian.PutUint16(inner[field:], c)
			if !bytes.Equal(inner, full) {
				t.Fatalf("v6=%v tcp=%v: completed\n%x\nwant\n%x", v6, tcp, inner, full)
			}
		}
	}
}

func TestChecksum(t *testing.T) {
	// RFC 1071's example: the sum of these words is ddf2, its complement 220d
	if got := Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); got != 0x220d {
		t.Fatalf("checksum %04x", got)
	}
	if got := Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x01}); got != 0x210d {
		t.Fatalf("odd-length checksum %04x", got)
	}
	// long runs of 0xff exercise the intermediate folding
	big := bytes.Repeat([]byte{0xff}, 1<<20)
	if got := Checksum(big); got != 0 {
		t.Fatalf("checksum of ones %04x", got)
	}
}

func TestDropReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for r := DropReason(1); r < numDropReasons; r++ {
		if r.String() == "" || seen[r.String()] || r.Error() != "tundecap: "+r.String() {
			t.Fatalf("reason %d: %q %q", r, r.String(), r.Error())
		}
		seen[r.String()] = true
	}
	if DropReason(0).Error() == "" || DropReason(200).String() != "unknown" {
		t.Fatal("out-of-range reasons")
	}
}

// TestDecapAllocs: the per-packet path allocates nothing, drops included.
func TestDecapAllocs(t *testing.T) {
	cases := decapCases()
	allocs := testing.AllocsPerRun(100, func() {
		for i := range cases {
			_, _ = decap(cases[i].via, cases[i].next, cases[i].pkt)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}

func BenchmarkDecapIPIP(b *testing.B) {
	pkt := ipv4Packet(dir4, vip4, ProtoIPIP, innerTCP(false, string(make([]byte, 1400)), false))
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecapIPv4(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecapGUERemoteChecksum(b *testing.B) {
	inner := innerTCP(false, string(make([]byte, 1400)), true)
	pkt := guePacket(inner, true, 20, 36)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecapGUE(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
