//go:build linux

package tcencap

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/govs/gvs/packet"
	"golang.org/x/sys/unix"
)

var (
	outerSrc6 = netip.MustParseAddr("fd98::1")
	outerDst6 = netip.MustParseAddr("fd98::2")
	client6   = netip.MustParseAddr("fd00:1::10")
	vip6      = netip.MustParseAddr("fd00:2::30")
)

// superFrame6 is superFrame's IPv6 twin: a TCP GSO super-frame (TCPV6,
// checksum partial) with traffic class CE and hop limit innerTTL.
func superFrame6(dst, src net.HardwareAddr) []byte {
	b := frameStart(dst, src, 4, 40) // TCPV6
	f := b[10:]
	ip := f[14:54]
	ip[0], ip[1] = 0x60, 0x30 // traffic class 0x03: CE
	binary.BigEndian.PutUint16(ip[4:], uint16(20+payloadLen))
	ip[6], ip[7] = 6, innerTTL
	s, d := client6.As16(), vip6.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	tcp := f[54:74]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	binary.BigEndian.PutUint32(tcp[8:], 1)
	tcp[12], tcp[13] = 5<<4, 0x18
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	for i := range payloadLen {
		f[74+i] = byte(i)
	}
	binary.BigEndian.PutUint16(tcp[16:], fold(sum(ip[8:40], 6+uint32(20+payloadLen))))
	return b
}

// tunnelHeaderOf is the tunnel header packet.Encap writes for a plain
// 100-byte segment of the super-frame's flow over the given outer
// addresses (UDP + GUE, or GRE; nothing for IPIP).
func tunnelHeaderOf(t *testing.T, tun Tunnel, inner6 bool) []byte {
	t.Helper()
	sf, l3 := superFrame(make(net.HardwareAddr, 6), make(net.HardwareAddr, 6))[10:], 20
	if inner6 {
		sf, l3 = superFrame6(make(net.HardwareAddr, 6), make(net.HardwareAddr, 6))[10:], 40
	}
	n := 14 + l3 + 20 + 100
	f := make([]byte, 128+n)
	copy(f[128:], sf[:n])
	ip := f[128+14:]
	if inner6 {
		binary.BigEndian.PutUint16(ip[4:], 20+100)
	} else {
		binary.BigEndian.PutUint16(ip[2:], uint16(l3+20+100))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip[:20], 0)))
	}
	fr := packet.FrameOver(f, 128, n)
	var p packet.Packet
	if r := packet.Parse(fr.Bytes(), &p); r != packet.DropNone {
		t.Fatal(r)
	}
	pt := packet.Tunnel{Src: packet.AddrFromNetip(tun.Src), Dst: packet.AddrFromNetip(tun.Dst), Port: tun.Port}
	switch tun.Kind {
	case GUE:
		pt.Type = packet.TunnelGUE
	case GRE:
		pt.Type = packet.TunnelGRE
	}
	if r := packet.Encap(&fr, &p, &pt, 1); r != packet.DropNone {
		t.Fatal(r)
	}
	outer := 20
	if tun.Src.Is6() {
		outer = 40
	}
	return fr.Bytes()[14+outer : p.L3Off]
}

// TestSuperFrameFamilies: super-frames leave whole, encapsulated as
// packet.Encap would, for every mix of IPv4 and IPv6 the program writes:
// IPv6 in IPv6, IPv4 in IPv6, IPv6 in IPv4, and GUE and GRE over IPv6.
// The peer's packet socket reads each one whole.
func TestSuperFrameFamilies(t *testing.T) {
	cases := []struct {
		name   string
		tun    Tunnel
		inner6 bool
		proto  byte // the outer header's protocol / next header
	}{
		{"6in6", Tunnel{Kind: IPIP, Src: outerSrc6, Dst: outerDst6}, true, 41},
		{"4in6", Tunnel{Kind: IPIP, Src: outerSrc6, Dst: outerDst6}, false, 4},
		{"6in4", Tunnel{Kind: IPIP, Src: outerSrc, Dst: outerDst}, true, 41},
		{"gue over ipv6, ipv6 inside", Tunnel{Kind: GUE, Src: outerSrc6, Dst: outerDst6, Port: 6080}, true, 17},
		{"gue over ipv4, ipv6 inside", Tunnel{Kind: GUE, Src: outerSrc, Dst: outerDst, Port: 6080}, true, 17},
		{"gre over ipv6", Tunnel{Kind: GRE, Src: outerSrc6, Dst: outerDst6}, false, 47},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := tunnelHeaderOf(t, c.tun, c.inner6)
			a, b := twoNamespaces(t)
			fd, mac := packetSocket(t, b, unix.ETH_P_ALL)
			inNetns(t, a, func() {
				e, va := attachVA(t)
				mark, err := e.Mark(c.tun)
				if err != nil {
					t.Fatal(err)
				}
				frame := superFrame(mac, va.HardwareAddr)
				if c.inner6 {
					frame = superFrame6(mac, va.HardwareAddr)
				}
				if err := sendMarked(va, frame, mark); err != nil {
					t.Fatal(err)
				}
			})
			buf := make([]byte, 1<<17)
			for deadline := time.Now().Add(3 * time.Second); ; {
				if time.Now().After(deadline) {
					t.Fatal("no encapsulated super-frame arrived")
				}
				n, _, err := unix.Recvfrom(fd, buf, 0)
				if err != nil {
					continue
				}
				if f := buf[:n]; checkEncapsulated(t, f, c.tun, c.inner6, c.proto, want) {
					return
				}
			}
		})
	}
}

// checkEncapsulated checks frame f as the whole encapsulated super-frame;
// false when it is some other frame (router solicitations and the like).
func checkEncapsulated(t *testing.T, f []byte, tun Tunnel, inner6 bool, proto byte, want []byte) bool {
	t.Helper()
	et := binary.BigEndian.Uint16(f[12:])
	var o, rest []byte
	switch {
	case tun.Src.Is6() && et == 0x86dd && len(f) > 14+40 && f[14+6] == proto:
		o, rest = f[14:54], f[54:]
		if o[0] != 0x60 || o[1] != 0x20 || o[2] != 0 || o[3] != 0 {
			t.Fatalf("outer IPv6 version, traffic class, flow label % x: want 6, ECT(0), 0", o[:4])
		}
		if int(binary.BigEndian.Uint16(o[4:])) != len(rest) || o[7] != innerTTL ||
			netip.AddrFrom16([16]byte(o[8:24])) != tun.Src || netip.AddrFrom16([16]byte(o[24:40])) != tun.Dst {
			t.Fatalf("outer IPv6 header % x (frame of %d bytes)", o, len(f))
		}
	case tun.Src.Is4() && et == 0x0800 && len(f) > 14+20 && f[14+9] == proto:
		o, rest = f[14:34], f[34:]
		if o[0] != 0x45 || o[1] != 0x02 || int(binary.BigEndian.Uint16(o[2:])) != len(f)-14 || o[8] != innerTTL ||
			netip.AddrFrom4([4]byte(o[12:16])) != tun.Src || netip.AddrFrom4([4]byte(o[16:20])) != tun.Dst || fold(sum(o, 0)) != 0xffff {
			t.Fatalf("outer IPv4 header % x (frame of %d bytes)", o, len(f))
		}
		if inner6 && o[6]&0x40 != 0 {
			t.Fatal("DF set on the outer header of an IPv6 packet")
		}
	default:
		return false
	}
	th := append([]byte(nil), rest[:len(want)]...)
	if proto == 17 {
		if int(binary.BigEndian.Uint16(th[4:])) != len(rest) {
			t.Fatalf("UDP length %d, %d bytes from the UDP header on", binary.BigEndian.Uint16(th[4:]), len(rest))
		}
		copy(th[4:6], want[4:6])
	}
	if string(th) != string(want) {
		t.Fatalf("tunnel header % x, want % x", th, want)
	}
	in := rest[len(want):]
	var seg []byte
	if inner6 {
		if in[0]>>4 != 6 || int(binary.BigEndian.Uint16(in[4:])) != len(in)-40 || in[6] != 6 || in[7] != innerTTL {
			t.Fatalf("inner IPv6 header % x (%d bytes)", in[:40], len(in))
		}
		seg = in[40:]
	} else {
		if in[0] != 0x45 || int(binary.BigEndian.Uint16(in[2:])) != len(in) || fold(sum(in[:20], 0)) != 0xffff {
			t.Fatalf("inner IPv4 header % x (%d bytes)", in[:20], len(in))
		}
		seg = in[20:]
	}
	if len(seg) != 20+payloadLen {
		t.Fatalf("inner TCP segment of %d bytes: want the whole super-frame (%d)", len(seg), 20+payloadLen)
	}
	for i, c := range seg[20:] {
		if c != byte(i) {
			t.Fatalf("payload byte %d", i)
		}
	}
	return true
}
