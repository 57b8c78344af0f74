package dataplane

import (
	"net/netip"
	"testing"
	"time"

	"github.com/govs/gvs/netctl"
	"github.com/govs/gvs/packet"
)

func TestNATInOut(t *testing.T) {
	for _, c := range []struct{ client, vip, rs string }{{client4, vipNAT, rs1}, {client6, vipNAT6, rs6}} {
		e := newTestEnv(t)
		e.in(e.eth0, mkFrame(t, c.client, c.vip, 40000, 80, fopt{flags: packet.TCPSyn, payload: 10}))
		f, p := e.one(e.eth1)
		eh := packet.EtherHeader(f.frame)
		if p.Key.Src != addr(c.client) || p.Key.Dst != addr(c.rs) || p.Key.SrcPort != 40000 || p.Key.DstPort != 8080 ||
			eh.Dst() != macRS[c.rs] || eh.Src() != macEth1 {
			t.Fatalf("in: %+v %v %v", p.Key, eh.Dst(), eh.Src())
		}
		if ttl(f.frame, p) != 63 {
			t.Fatal("TTL not decremented")
		}
		checksumsOK(t, f.frame, p)
		e.nothing(e.eth0)

		// the real server's reply goes back from the VIP
		e.in(e.eth1, mkFrame(t, c.rs, c.client, 8080, 40000, fopt{flags: packet.TCPSyn | packet.TCPAck, srcMAC: macRS[c.rs], dstMAC: macEth1}))
		f, p = e.one(e.eth0)
		eh = packet.EtherHeader(f.frame)
		if p.Key.Src != addr(c.vip) || p.Key.Dst != addr(c.client) || p.Key.SrcPort != 80 || p.Key.DstPort != 40000 ||
			eh.Dst() != macClient || eh.Src() != macEth0 {
			t.Fatalf("out: %+v", p.Key)
		}
		checksumsOK(t, f.frame, p)
		e.nothing(e.eth1)
	}
}

func ttl(frame []byte, p *packet.Packet) uint8 {
	if p.Key.Family == packet.IPv4 {
		return frame[p.L3Off+8]
	}
	return frame[p.L3Off+7]
}

// The reply of a connection GVS does not know never leaks with the real
// server's address; addressed to the director itself (a health check's
// connection), it goes to the local stack unchanged.
func TestNATReplyWithoutConnection(t *testing.T) {
	e := newTestEnv(t)
	e.in(e.eth1, mkFrame(t, rs1, client4, 8080, 40001, fopt{flags: packet.TCPAck, srcMAC: macRS[rs1], dstMAC: macEth1}))
	e.nothing(e.eth0, e.eth1)
	if len(e.tun.got) != 0 {
		t.Fatal("delivered locally")
	}
	orig := mkFrame(t, rs1, director4, 8080, 40001, fopt{flags: packet.TCPAck, srcMAC: macRS[rs1], dstMAC: macEth1})
	e.in(e.eth1, orig)
	e.nothing(e.eth0, e.eth1)
	if len(e.tun.got) != 1 || string(e.tun.got[0][vnetLen:]) != string(ipPacket(t, orig)) {
		t.Fatalf("local delivery: %d packets", len(e.tun.got))
	}
}

func TestLocalMethod(t *testing.T) {
	e := newTestEnv(t)
	orig := mkFrame(t, client4, vipLocal, 40000, 80, fopt{flags: packet.TCPSyn})
	e.in(e.eth0, orig)
	e.nothing(e.eth0, e.eth1)
	if len(e.tun.got) != 1 || string(e.tun.got[0][vnetLen:]) != string(ipPacket(t, orig)) {
		t.Fatalf("local delivery: %d packets", len(e.tun.got))
	}
}

func TestDirectRouting(t *testing.T) {
	e := newTestEnv(t)
	orig := mkFrame(t, client4, vipDR, 40000, 80, fopt{flags: packet.TCPSyn, payload: 100})
	e.in(e.eth0, orig)
	f, p := e.one(e.eth1)
	eh := packet.EtherHeader(f.frame)
	if p.Key != mustKey(t, orig) || eh.Dst() != macRS[rs2] || eh.Src() != macEth1 || ttl(f.frame, p) != 63 {
		t.Fatalf("%+v", p.Key)
	}
	checksumsOK(t, f.frame, p)
}

func mustKey(t testing.TB, frame []byte) packet.FlowKey {
	var p packet.Packet
	if r := packet.Parse(frame, &p); r != packet.DropNone {
		t.Fatal(r)
	}
	return p.Key
}

func TestTunnel(t *testing.T) {
	for _, c := range []struct {
		client, vip, src, rs string
		proto                uint8
		inner                int // inner IP header offset in the frame
	}{
		{client4, vipIPIP, director4, rs3, packet.ProtoIPIP, 14 + 20},
		{client4, vipGUE, director4, rs3, packet.ProtoUDP, 14 + 20 + 8 + 4},
		{client6, vipTun6, "fd00:2::1", rs6tun, packet.ProtoIPv6, 14 + 40},
	} {
		e := newTestEnv(t)
		orig := mkFrame(t, c.client, c.vip, 40000, 80, fopt{flags: packet.TCPSyn, payload: 200})
		e.in(e.eth0, orig)
		f, p := e.one(e.eth1)
		if p.Key.Proto != c.proto || p.Key.Src != addr(c.src) || p.Key.Dst != addr(c.rs) || packet.EtherHeader(f.frame).Dst() != macRS[c.rs] {
			t.Fatalf("outer %+v", p.Key)
		}
		if c.proto == packet.ProtoUDP && p.Key.DstPort != 6080 {
			t.Fatalf("GUE port %d", p.Key.DstPort)
		}
		checksumsOK(t, f.frame, p)
		inner := append(append([]byte(nil), orig[:14]...), f.frame[c.inner:]...)
		var ip packet.Packet
		if r := packet.Parse(inner, &ip); r != packet.DropNone || ip.Key != mustKey(t, orig) || ttl(inner, &ip) != 63 {
			t.Fatalf("inner %v %+v", r, ip.Key)
		}
		checksumsOK(t, inner, &ip)
	}
}

// A packet that does not fit the path with DF set (and any IPv6 packet)
// gets ICMP fragmentation needed / packet too big back to the client, from
// the VIP, quoting the client's own packet; IPv4 without DF is fragmented.
func TestPathMTU(t *testing.T) {
	e := newTestEnv(t)
	for _, c := range []struct {
		client, vip string
		mtu         int
	}{
		{client4, vipIPIP, 1500 - 20}, // tunnel overhead
		{client4, vipSmall, 1400},     // NAT over a 1400-byte route
		{client6, vipSmall6, 1400},    // IPv6: never fragmented by routers
		{client6, vipTun6, 1500 - 40}, // inner IPv6 in a tunnel: packet too big, whatever DF would say
	} {
		orig := mkFrame(t, c.client, c.vip, 40000, 80, fopt{flags: packet.TCPSyn, payload: 1500 - 40, df: true})
		e.in(e.eth0, orig)
		e.nothing(e.eth1)
		f, p := e.one(e.eth0)
		if p.Key.Src != addr(c.vip) || p.Key.Dst != addr(c.client) || !p.IsICMPError() || p.Inner.Key != mustKey(t, orig) {
			t.Fatalf("%s: %+v", c.vip, p.Key)
		}
		icmp := packet.ICMPHeader(f.frame[p.L4Off:])
		got := int(icmp.Rest())
		if p.Key.Family == packet.IPv4 {
			if icmp.Type() != packet.ICMPv4DestUnreach || icmp.Code() != packet.ICMPv4FragNeeded {
				t.Fatalf("type %d code %d", icmp.Type(), icmp.Code())
			}
		} else if icmp.Type() != packet.ICMPv6PacketTooBig {
			t.Fatalf("type %d", icmp.Type())
		}
		if got != c.mtu {
			t.Fatalf("%s: MTU %d, want %d", c.vip, got, c.mtu)
		}
		checksumsOK(t, f.frame, p)
	}
	if e.d.Drops()["too_big"] != 4 {
		t.Fatalf("drops %v", e.d.Drops())
	}
	// IPv4 without DF: fragments on the NAT path and outer fragments in the tunnel
	for _, vip := range []string{vipSmall, vipIPIP} {
		e.in(e.eth0, mkFrame(t, client4, vip, 40001, 80, fopt{flags: packet.TCPSyn, payload: 1500 - 40}))
		out := e.eth1.take()
		if len(out) != 2 {
			t.Fatalf("%s: %d fragments", vip, len(out))
		}
		for i, f := range out {
			var p packet.Packet
			if r := packet.Parse(f.frame, &p); r != packet.DropNone || !p.Frag.IsFragment() || p.IPLen() > 1500 || (i == 0) != p.Frag.IsFirst() {
				t.Fatalf("%s fragment %d: %v %+v", vip, i, r, p.Frag)
			}
			if vip == vipSmall && p.IPLen() > 1400 {
				t.Fatalf("fragment of %d bytes on a 1400-byte path", p.IPLen())
			}
		}
	}
}

func TestTTLExceeded(t *testing.T) {
	e := newTestEnv(t)
	orig := mkFrame(t, client4, vipNAT, 40000, 80, fopt{flags: packet.TCPSyn, ttl: 1})
	e.in(e.eth0, orig)
	e.nothing(e.eth1)
	f, p := e.one(e.eth0)
	if icmp := packet.ICMPHeader(f.frame[p.L4Off:]); icmp.Type() != packet.ICMPv4TimeExceeded || p.Inner.Key != mustKey(t, orig) {
		t.Fatalf("type %d", icmp.Type())
	}
	if e.d.Drops()["ttl_exceeded"] != 1 {
		t.Fatal(e.d.Drops())
	}
}

func TestRejectNoDestination(t *testing.T) {
	e := newTestEnv(t)
	e.in(e.eth0, mkFrame(t, client4, vipReject, 40000, 80, fopt{flags: packet.TCPSyn}))
	f, p := e.one(e.eth0)
	icmp := packet.ICMPHeader(f.frame[p.L4Off:])
	if icmp.Type() != packet.ICMPv4DestUnreach || icmp.Code() != packet.ICMPv4PortUnreach || p.Key.Src != addr(vipReject) {
		t.Fatalf("type %d code %d from %v", icmp.Type(), icmp.Code(), p.Key.Src)
	}
	checksumsOK(t, f.frame, p)
}

// An ICMP error from a NAT real server about a connection reaches the
// client translated: outer source and quoted destination become the VIP.
func TestICMPErrorTranslated(t *testing.T) {
	e := newTestEnv(t)
	e.in(e.eth0, mkFrame(t, client4, vipNAT, 40000, 80, fopt{flags: packet.TCPSyn}))
	fwd, fp := e.one(e.eth1)
	// the real server answers the forwarded packet with port unreachable
	buf := make([]byte, 1500)
	n, r := packet.BuildICMPError(buf, fwd.frame, fp, packet.ICMPv4DestUnreach, packet.ICMPv4PortUnreach, 0, addr(rs1), macRS[rs1])
	if r != packet.DropNone {
		t.Fatal(r)
	}
	copy(buf[0:6], macEth1[:])
	e.in(e.eth1, buf[:n])
	f, p := e.one(e.eth0)
	if p.Key.Src != addr(vipNAT) || p.Key.Dst != addr(client4) || p.Inner.Key.Dst != addr(vipNAT) || p.Inner.Key.DstPort != 80 || p.Inner.Key.Src != addr(client4) {
		t.Fatalf("%+v / %+v", p.Key, p.Inner.Key)
	}
	checksumsOK(t, f.frame, p)
}

// Later fragments take the ports of their first fragment (FragCache) and
// follow the connection; without a first fragment they are dropped and
// counted.
func TestFragments(t *testing.T) {
	e := newTestEnv(t)
	whole := mkFrame(t, client4, vipNAT, 40000, 53, fopt{udp: true, payload: 2000})
	var frags [3]packet.Frame
	for i := range frags {
		frags[i] = packet.NewFrame(make([]byte, 2048), 0)
	}
	k, r := packet.Fragment(frags[:], whole, 1500, 0x1234)
	if r != packet.DropNone || k != 2 {
		t.Fatal(k, r)
	}
	e.in(e.eth0, frags[0].Bytes(), frags[1].Bytes())
	out := e.eth1.take()
	if len(out) != 2 {
		t.Fatalf("%d fragments forwarded", len(out))
	}
	var ps [2]packet.Packet
	for i := range out {
		if r := packet.Parse(out[i].frame, &ps[i]); r != packet.DropNone || ps[i].Key.Dst != addr(rs1) || ps[i].Key.Src != addr(client4) {
			t.Fatalf("fragment %d: %v %+v", i, r, ps[i].Key)
		}
		checksumsOK(t, out[i].frame, &ps[i])
	}
	if ps[0].Key.DstPort != 5353 || !ps[1].Frag.IsLater() || ps[1].Frag.ID != ps[0].Frag.ID {
		t.Fatalf("%+v %+v", ps[0].Key, ps[1].Frag)
	}
	// reassembled, the datagram's UDP checksum verifies at the real server
	dgram := append(append([]byte(nil), out[0].frame[ps[0].L4Off:ps[0].End]...), out[1].frame[ps[1].L3Off+20:ps[1].End]...)
	pseudo := inetSum(out[0].frame[ps[0].L3Off+12:ps[0].L3Off+20], 0) + packet.ProtoUDP + uint32(len(dgram))
	if fold(inetSum(dgram, pseudo)) != 0xffff {
		t.Fatal("reassembled datagram's checksum")
	}
	// a later fragment of a datagram whose first fragment was never seen
	whole = mkFrame(t, client4, vipNAT, 40002, 53, fopt{udp: true, payload: 2000})
	packet.Fragment(frags[:], whole, 1500, 0x4321)
	e.in(e.eth0, frags[1].Bytes())
	e.nothing(e.eth1)
	if e.d.Drops()["fragment_unmatched"] != 1 {
		t.Fatal(e.d.Drops())
	}
}

// gsoFrame makes a TCP super-frame as a packet socket delivers it with
// offloads on: one IP packet of payload bytes, CHECKSUM_PARTIAL (the
// field holds the pseudo-header sum) and a GSO size.
func gsoFrame(t testing.TB, src, dst string, sport, dport uint16, payload int) ([]byte, packet.VnetHeader) {
	b := mkFrame(t, src, dst, sport, dport, fopt{flags: packet.TCPAck | packet.TCPPsh, payload: payload, df: true})
	var p packet.Packet
	if r := packet.Parse(b, &p); r != packet.DropNone {
		t.Fatal(r)
	}
	l4 := p.L4Off
	s := inetSum(b[p.L3Off+12:p.L3Off+20], 0) + packet.ProtoTCP + uint32(p.End-l4)
	b[l4+16], b[l4+17] = byte(fold(s)>>8), byte(fold(s))
	return b, packet.VnetHeader{Flags: packet.VnetNeedsCsum, GSOType: packet.GSOTCPv4, GSOSize: 1448, HdrLen: uint16(p.PayloadOff), CsumStart: uint16(l4), CsumOffset: 16}
}

func TestGSOSuperFrame(t *testing.T) {
	e := newTestEnv(t)
	// NAT keeps the super-frame whole, with its offloads, for the kernel to segment
	e.in(e.eth0, mkFrame(t, client4, vipNAT, 40000, 80, fopt{flags: packet.TCPSyn}))
	e.eth1.take()
	sf, vh := gsoFrame(t, client4, vipNAT, 40000, 80, 20000)
	e.eth0.push(sf, vh)
	e.drain(e.eth0)
	f, p := e.one(e.eth1)
	if p.IPLen() != 20040 || f.vnet.GSOType != packet.GSOTCPv4 || f.vnet.GSOSize != 1448 || f.vnet.Flags != packet.VnetNeedsCsum ||
		int(f.vnet.CsumStart) != p.L4Off || p.Key.Dst != addr(rs1) || p.Key.DstPort != 8080 {
		t.Fatalf("%+v %+v", f.vnet, p.Key)
	}
	// the partial sum was updated for the new pseudo-header: completed, it verifies
	if r := p.SetOffload(&f.vnet); r != packet.DropNone {
		t.Fatal(r)
	}
	packet.CompleteChecksum(f.frame, p)
	checksumsOK(t, f.frame, p)

	// a tunnel cannot carry it whole: segments of at most the path MTU, full checksums
	e.in(e.eth0, mkFrame(t, client4, vipIPIP, 40000, 80, fopt{flags: packet.TCPSyn}))
	e.eth1.take()
	sf, vh = gsoFrame(t, client4, vipIPIP, 40000, 80, 20000)
	e.eth0.push(sf, vh)
	e.drain(e.eth0)
	out := e.eth1.take()
	total := 0
	for _, f := range out {
		var p packet.Packet
		if r := packet.Parse(f.frame, &p); r != packet.DropNone || p.Key.Proto != packet.ProtoIPIP || p.IPLen() > 1500 || f.vnet != (packet.VnetHeader{}) {
			t.Fatalf("%v %+v %d %+v", r, p.Key, p.IPLen(), f.vnet)
		}
		inner := append(append([]byte(nil), sf[:14]...), f.frame[34:]...)
		var ip packet.Packet
		if r := packet.Parse(inner, &ip); r != packet.DropNone {
			t.Fatal(r)
		}
		checksumsOK(t, inner, &ip)
		total += ip.PayloadLen()
	}
	if total != 20000 || len(out) != 14 { // 20000 / (1500-20-40) rounded up
		t.Fatalf("%d segments, %d bytes", len(out), total)
	}
}

// Malformed frames are dropped and counted by their packet.DropReason.
func TestMalformedCounted(t *testing.T) {
	e := newTestEnv(t)
	good := mkFrame(t, client4, vipNAT, 40000, 80, fopt{flags: packet.TCPSyn})
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	e.in(e.eth0,
		mut(func(b []byte) []byte { return b[:30] }),                    // truncated IPv4 header
		mut(func(b []byte) []byte { b[14] = 0x44; return b }),           // IHL 16
		mut(func(b []byte) []byte { b[24] ^= 0xff; return b }),          // header checksum
		mut(func(b []byte) []byte { b[14+20+12] = 0x20; return b }),     // TCP data offset 2
		mut(func(b []byte) []byte { b[16], b[17] = 0xff, 0; return b }), // total length past the frame
	)
	e.nothing(e.eth0, e.eth1)
	d := e.d.Drops()
	if d["malformed"] != 5 || d["malformed_truncated"] != 1 || d["malformed_bad_ihl"] != 1 || d["malformed_bad_ip_checksum"] != 1 ||
		d["malformed_bad_tcp_header"] != 1 || d["malformed_bad_total_len"] != 1 {
		t.Fatal(d)
	}
	// and traffic still flows
	e.in(e.eth0, good)
	e.one(e.eth1)
}

// VIPs on no interface: ARP and neighbour solicitations are answered,
// gratuitous ARP / unsolicited NA announce them, and the resolver's
// requests are ARP requests / neighbour solicitations.
func TestNeighbours(t *testing.T) {
	e := newTestEnv(t)
	// Sync announced every owned VIP on both interfaces
	var garp, una int
	for _, f := range append(e.ctl0.take(), e.ctl1.take()...) {
		var p packet.Packet
		packet.Parse(f.frame, &p)
		switch {
		case p.IsARP() && p.ARP(f.frame).SPA() == p.ARP(f.frame).TPA():
			garp++
		case p.Key.Proto == packet.ProtoICMPv6 && p.ICMPType == packet.ICMPv6NeighborAdv:
			una++
		}
	}
	if garp != 2*8 || una != 2*3 { // 8 IPv4 VIPs (7 of services, 1 of vips:), 3 IPv6 VIPs
		t.Fatalf("%d gratuitous ARP, %d unsolicited NA", garp, una)
	}
	req := make([]byte, 64)
	n, _ := packet.BuildARPRequest(req, macClient, addr(client4), addr(vipOwned))
	e.in(e.eth0, req[:n])
	f, p := e.one(e.eth0)
	if a := p.ARP(f.frame); !p.IsARP() || a.Op() != packet.ARPReply || a.SPA() != addr(vipOwned) || a.SHA() != macEth0 || a.TPA() != addr(client4) {
		t.Fatal("ARP reply")
	}
	n, _ = packet.BuildARPRequest(req, macClient, addr(client4), addr("10.0.1.99"))
	e.in(e.eth0, req[:n])
	e.nothing(e.eth0)

	ns := make([]byte, 128)
	n, _ = packet.BuildNeighborSolicit(ns, macClient, addr(client6), addr(vipNAT6))
	e.in(e.eth0, ns[:n])
	f, p = e.one(e.eth0)
	var na packet.NeighborAdvert
	if r := packet.ParseNeighborAdvert(f.frame, p, &na); r != packet.DropNone || na.Target != addr(vipNAT6) || na.TgtLLA != macEth0 || p.Key.Dst != addr(client6) {
		t.Fatalf("%v %+v", r, na)
	}

	e.d.solicit(2, netip4(director4), netip4("10.0.2.77"))
	f, p = e.one(e.ctl1)
	if a := p.ARP(f.frame); !p.IsARP() || a.Op() != packet.ARPRequest || a.TPA() != addr("10.0.2.77") || a.SPA() != addr(director4) {
		t.Fatal("ARP request")
	}
	e.d.solicit(2, netip4("fd00:2::1"), netip4("fd00:2::77"))
	f, p = e.one(e.ctl1)
	var sol packet.NeighborSolicitation
	if r := packet.ParseNeighborSolicitation(f.frame, p, &sol); r != packet.DropNone || sol.Target != addr("fd00:2::77") {
		t.Fatal("neighbour solicitation", r)
	}
	// an advertisement teaches the resolver
	adv := make([]byte, 128)
	n, _ = packet.BuildUnsolicitedNA(adv, packet.MAC{0xaa, 0xbb, 0, 0, 0, 0x77}, addr("fd00:2::77"))
	e.in(e.eth1, adv[:n])
	if mac, ok := e.d.hops.neigh.Load(neighKey{2, netip4("fd00:2::77")}); !ok || mac.([6]byte) != [6]byte{0xaa, 0xbb, 0, 0, 0, 0x77} {
		t.Fatal("not learnt")
	}
}

// TestJumboTunnelSegments: on a jumbo-frame LAN a tunnelled super-frame is
// cut into segments of the large path MTU; the worker's own frame buffers
// are sized from the interfaces' MTU, not for 1500-byte frames.
func TestJumboTunnelSegments(t *testing.T) {
	e := newTestEnvLAN(t, 9000)
	e.in(e.eth0, mkFrame(t, client4, vipIPIP, 40000, 80, fopt{flags: packet.TCPSyn}))
	e.eth1.take()
	sf, vh := gsoFrame(t, client4, vipIPIP, 40000, 80, 40000)
	vh.GSOSize = 8948 // a client on jumbo frames too
	e.eth0.push(sf, vh)
	e.drain(e.eth0)
	out := e.eth1.take()
	total, biggest := 0, 0
	for _, f := range out {
		var p packet.Packet
		if r := packet.Parse(f.frame, &p); r != packet.DropNone || p.Key.Proto != packet.ProtoIPIP || p.IPLen() > 9000 {
			t.Fatalf("%v %+v %d", r, p.Key, p.IPLen())
		}
		biggest = max(biggest, p.IPLen())
		total += p.IPLen() - 20 - 40 // outer IPv4, inner IPv4 + TCP
	}
	if total != 40000 || biggest != 9000 {
		t.Fatalf("%d segments of at most %d bytes carrying %d payload bytes, want 40000 in segments of 9000 (drops %v)",
			len(out), biggest, total, e.d.Drops())
	}
}

// A NAT reply to a client whose link-layer address the director does not
// know yet waits for the neighbour's answer instead of being dropped (the
// client would otherwise retransmit its SYN a second later); without an
// answer it is dropped and counted once the resolver gives up.
func TestReplyHeldUntilNeighbour(t *testing.T) {
	for _, c := range []struct{ client, vip, rs string }{{"10.0.1.55", vipNAT, rs1}, {"fd00:1::55", vipNAT6, rs6}} {
		e := newTestEnv(t)
		fake := e.d.ctl.(*netctl.Fake)
		fake.RouteMap[netip.MustParseAddr(c.client)] = netctl.Route{Ifindex: 1} // on the client link, no neighbour entry
		e.d.hops.loadTables()
		e.ctl0.take() // Sync's announcements

		e.in(e.eth0, mkFrame(t, c.client, c.vip, 40000, 80, fopt{flags: packet.TCPSyn, srcMAC: macClient, dstMAC: macEth0}))
		e.one(e.eth1)
		// the SYN made the director ask for the client's address ahead of the reply
		if _, p := e.one(e.ctl0); p.IsARP() != netip.MustParseAddr(c.client).Is4() {
			t.Fatalf("%s: no ARP request / neighbour solicitation: %+v", c.client, p.Key)
		}
		synAck := mkFrame(t, c.rs, c.client, 8080, 40000, fopt{flags: packet.TCPSyn | packet.TCPAck, srcMAC: macRS[c.rs], dstMAC: macEth1})
		e.in(e.eth1, synAck)
		e.nothing(e.eth0, e.ctl0) // held: nothing on the wire yet, and no second request

		// the client answers: the held reply leaves with its MAC, rewritten from the VIP
		clientMAC := packet.MAC{0x02, 0, 0, 0, 0, 0x55}
		ans := make([]byte, 128)
		var n int
		if a := netip.MustParseAddr(c.client); a.Is4() {
			n, _ = packet.BuildGratuitousARP(ans, clientMAC, addr(c.client))
		} else {
			n, _ = packet.BuildUnsolicitedNA(ans, clientMAC, addr(c.client))
		}
		e.in(e.eth0, ans[:n])
		f, p := e.one(e.ctl0)
		eh := packet.EtherHeader(f.frame)
		if p.Key.Src != addr(c.vip) || p.Key.Dst != addr(c.client) || p.Key.SrcPort != 80 || eh.Dst() != clientMAC || eh.Src() != macEth0 {
			t.Fatalf("%s: released reply %+v to %v from %v", c.client, p.Key, eh.Dst(), eh.Src())
		}
		checksumsOK(t, f.frame, p)
		// later replies go straight out
		e.in(e.eth1, mkFrame(t, c.rs, c.client, 8080, 40000, fopt{flags: packet.TCPAck, srcMAC: macRS[c.rs], dstMAC: macEth1}))
		if _, p = e.one(e.eth0); p.Key.Dst != addr(c.client) {
			t.Fatalf("%s: %+v", c.client, p.Key)
		}
		if sent, dropped := e.d.HeldFrames(); sent != 1 || dropped != 0 {
			t.Fatalf("%s: held frames sent %d dropped %d, want 1 and 0", c.client, sent, dropped)
		}
	}
}

// Held frames are bounded per destination, and dropped (counted as
// next_hop_unresolved) when the neighbour never answers.
func TestHeldFramesBounded(t *testing.T) {
	e := newTestEnv(t)
	fake := e.d.ctl.(*netctl.Fake)
	client := "10.0.1.56"
	fake.RouteMap[netip.MustParseAddr(client)] = netctl.Route{Ifindex: 1}
	e.d.hops.loadTables()
	e.in(e.eth0, mkFrame(t, client, vipNAT, 40000, 80, fopt{flags: packet.TCPSyn}))
	e.eth1.take()
	for i := 0; i < maxHeldFramesPerHop+4; i++ {
		e.in(e.eth1, mkFrame(t, rs1, client, 8080, 40000, fopt{flags: packet.TCPAck, srcMAC: macRS[rs1], dstMAC: macEth1}))
	}
	e.nothing(e.eth0)
	if _, dropped := e.d.HeldFrames(); dropped != 4 {
		t.Fatalf("%d dropped beyond the bound, want 4", dropped)
	}
	// the resolver gives up after its retries: the rest are dropped too
	now := time.Now()
	for i := 1; i <= 6; i++ {
		e.d.hops.retryPending(now.Add(time.Duration(i) * 5 * time.Second))
	}
	if sent, dropped := e.d.HeldFrames(); sent != 0 || dropped != maxHeldFramesPerHop+4 {
		t.Fatalf("sent %d dropped %d after giving up, want 0 and %d", sent, dropped, maxHeldFramesPerHop+4)
	}
	if got := e.d.Drops()["next_hop_unresolved"]; got != maxHeldFramesPerHop+4 {
		t.Fatalf("next_hop_unresolved %d", got)
	}
	if e.d.hops.heldBytes.Load() != 0 {
		t.Fatalf("%d bytes still accounted as held", e.d.hops.heldBytes.Load())
	}
}
