package dataplane

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/govs/gvs/internal/nettest"
	"github.com/govs/gvs/ipvs"
	_ "github.com/govs/gvs/ipvs/sched"
	"github.com/govs/gvs/netctl"
	"github.com/govs/gvs/packet"
)

// fakePort is an in-memory Port: frames pushed into its inbox are
// received (copied into buffers with headroom, as a ring slot holds
// them); queued frames are copied out on Flush. With replay set it
// receives those frames forever and only counts what is sent
// (benchmarks: nothing allocates).
type fakePort struct {
	inbox   []fakeFrame
	bufs    [][]byte
	pending []fakeFrame
	out     []fakeFrame
	replay  []fakeFrame
	next    int
	stamp   int64 // receive stamp given to every frame (0: none, as a port without stamps)
	queued  int
	sent    int
	closed  bool
}

type fakeFrame struct {
	vnet  packet.VnetHeader
	frame []byte
}

const fakeHeadroom = 128

func (p *fakePort) push(frame []byte, vnet packet.VnetHeader) {
	p.inbox = append(p.inbox, fakeFrame{vnet, append([]byte(nil), frame...)})
}

func (p *fakePort) Receive(frames []RxFrame) int {
	if p.bufs == nil {
		p.bufs = make([][]byte, len(frames))
	}
	n := 0
	for n < len(frames) {
		var f fakeFrame
		switch {
		case p.replay != nil:
			f = p.replay[p.next%len(p.replay)]
			p.next++
		case len(p.inbox) > 0:
			f, p.inbox = p.inbox[0], p.inbox[1:]
		default:
			return n
		}
		size := fakeHeadroom + vnetLen + len(f.frame) + 64
		if cap(p.bufs[n]) < size {
			p.bufs[n] = make([]byte, size)
		}
		b := p.bufs[n][:size]
		off := fakeHeadroom + vnetLen
		f.vnet.Encode(b[fakeHeadroom:])
		copy(b[off:], f.frame)
		frames[n] = RxFrame{Buf: b, Off: off, Len: len(f.frame), Orig: len(f.frame), Stamp: p.stamp}
		n++
	}
	return n
}

func (p *fakePort) Release() {}

func (p *fakePort) Queue(b []byte) error {
	p.queued++
	if p.replay != nil {
		return nil
	}
	var h packet.VnetHeader
	h.Decode(b)
	p.pending = append(p.pending, fakeFrame{h, append([]byte(nil), b[vnetLen:]...)})
	return nil
}

func (p *fakePort) Flush() (int, error) {
	n := p.queued
	p.queued = 0
	p.sent += n
	p.out = append(p.out, p.pending...)
	p.pending = p.pending[:0]
	return n, nil
}

func (p *fakePort) Close() error { p.closed = true; return nil }

// take returns and forgets what was sent.
func (p *fakePort) take() []fakeFrame {
	out := p.out
	p.out = nil
	return out
}

// fakeSink records what is delivered to the director's own stack.
type fakeSink struct{ got [][]byte }

func (s *fakeSink) write(b []byte) error {
	s.got = append(s.got, append([]byte(nil), b...))
	return nil
}

// The test network: eth0 (index 1) faces the clients, eth1 (index 2) the
// real servers; lo (index 9) carries the director's own clients.
var (
	macEth0   = packet.MAC{2, 0, 0, 0, 0, 1}
	macEth1   = packet.MAC{2, 0, 0, 0, 0, 2}
	macClient = packet.MAC{0xcc, 0, 0, 0, 0, 1}
	macRS     = map[string]packet.MAC{}

	client4, client6 = "10.0.1.10", "fd00:1::10"
	other4           = "10.0.1.20"
	director4        = "10.0.2.1"
	rs1, rs2, rs3    = "10.0.2.11", "10.0.2.12", "10.0.2.13"
	rs4              = "10.0.2.14" // behind a 1400-byte path
	rs6, rs6small    = "fd00:2::11", "fd00:2::14"
	rs6tun           = "fd00:2::13"

	vipNAT, vipDR, vipIPIP, vipGUE = "192.0.2.10", "192.0.2.20", "192.0.2.30", "192.0.2.31"
	vipSmall, vipLocal, vipReject  = "192.0.2.32", "192.0.2.40", "192.0.2.50"
	vipNAT6, vipSmall6, vipTun6    = "fd00:ff::10", "fd00:ff::14", "fd00:ff::30"
	vipOwned                       = "192.0.2.99" // no service, announced
)

type testEnv struct {
	t          testing.TB
	d          *Dataplane
	w          *worker
	eth0, eth1 *fakePort
	lo         *fakePort
	ctl0, ctl1 *fakePort // the control worker's
	tun        *fakeSink
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	return newTestEnvLAN(t, 1500)
}

// newTestEnvLAN is newTestEnv with the real servers' interface (eth1) at
// the MTU lanMTU.
func newTestEnvLAN(t testing.TB, lanMTU int) *testEnv {
	t.Helper()
	ctl := netctl.NewFake()
	pfx := netip.MustParsePrefix
	ctl.Ifaces = []netctl.Interface{
		{Name: "eth0", Index: 1, MAC: net.HardwareAddr(macEth0[:]), MTU: 1500, Up: true, Addrs: []netip.Prefix{pfx("10.0.1.1/24"), pfx("fd00:1::1/64")}},
		{Name: "eth1", Index: 2, MAC: net.HardwareAddr(macEth1[:]), MTU: lanMTU, Up: true, Addrs: []netip.Prefix{pfx("10.0.2.1/24"), pfx("fd00:2::1/64")}},
		{Name: "lo", Index: 9, MTU: 65536, Up: true, Loop: true, Addrs: []netip.Prefix{pfx("127.0.0.1/8")}},
	}
	host := func(a string, ifindex, mtu int, mac packet.MAC) {
		addr := netip.MustParseAddr(a)
		ctl.RouteMap[addr] = netctl.Route{Ifindex: ifindex, MTU: mtu}
		ctl.NeighborMap[addr] = netctl.Neighbor{Ifindex: ifindex, Addr: addr, MAC: net.HardwareAddr(mac[:])}
	}
	host(client4, 1, 0, macClient)
	host(client6, 1, 0, macClient)
	host(other4, 1, 0, macClient)
	for i, a := range []string{rs1, rs2, rs3, rs4, rs6, rs6small, rs6tun} {
		mac := packet.MAC{0xaa, 0, 0, 0, 0, byte(i + 1)}
		macRS[a] = mac
		mtu := 0
		if a == rs4 || a == rs6small {
			mtu = 1400
		}
		host(a, 2, mtu, mac)
	}
	ctl.RouteMap[netip.MustParseAddr(director4)] = netctl.Route{Ifindex: 2, Local: true}

	eng, err := ipvs.New(ipvs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc := func(proto ipvs.Protocol, vip string, port uint16, dests ...ipvs.DestConfig) {
		a := netip.MustParseAddr(vip)
		fam := ipvs.IPv4
		if a.Is6() {
			fam = ipvs.IPv6
		}
		k := ipvs.ServiceKey{Family: fam, Protocol: proto, Addr: a, Port: port}
		if err := eng.AddService(ipvs.ServiceConfig{ServiceKey: k, Scheduler: "rr"}); err != nil {
			t.Fatal(err)
		}
		for _, d := range dests {
			d.Weight = 1
			if err := eng.AddDest(k, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	dest := func(a string, port uint16, f ipvs.Forwarding) ipvs.DestConfig {
		return ipvs.DestConfig{Addr: netip.MustParseAddr(a), Port: port, Forwarding: f}
	}
	masq := ipvs.Forwarding{Method: ipvs.Masq}
	svc(ipvs.ProtoTCP, vipNAT, 80, dest(rs1, 8080, masq))
	svc(ipvs.ProtoUDP, vipNAT, 53, dest(rs1, 5353, masq))
	svc(ipvs.ProtoTCP, vipSmall, 80, dest(rs4, 80, masq))
	svc(ipvs.ProtoTCP, vipNAT6, 80, dest(rs6, 8080, masq))
	svc(ipvs.ProtoTCP, vipSmall6, 80, dest(rs6small, 80, masq))
	svc(ipvs.ProtoTCP, vipDR, 80, dest(rs2, 80, ipvs.Forwarding{Method: ipvs.Route}))
	svc(ipvs.ProtoTCP, vipIPIP, 80, dest(rs3, 80, ipvs.Forwarding{Method: ipvs.Tunnel}))
	svc(ipvs.ProtoTCP, vipGUE, 80, dest(rs3, 80, ipvs.Forwarding{Method: ipvs.Tunnel, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080}))
	svc(ipvs.ProtoTCP, vipTun6, 80, dest(rs6tun, 80, ipvs.Forwarding{Method: ipvs.Tunnel}))
	svc(ipvs.ProtoTCP, vipLocal, 80, dest(director4, 80, ipvs.Forwarding{Method: ipvs.Local}))
	svc(ipvs.ProtoTCP, vipReject, 80)

	e := &testEnv{t: t, eth0: &fakePort{}, eth1: &fakePort{}, lo: &fakePort{}, ctl0: &fakePort{}, ctl1: &fakePort{}, tun: &fakeSink{}}
	d := &Dataplane{eng: eng, ctl: ctl, log: slog.Default(), byIx: map[int]*iface{}, tun: e.tun,
		cfg: Config{VIPs: []netip.Addr{netip.MustParseAddr(vipOwned)}}}
	for _, x := range ctl.Ifaces {
		f := &iface{name: x.Name, index: x.Index, mtu: x.MTU, addrs: x.Addrs, loop: x.Loop}
		copy(f.mac[:], x.MAC)
		if x.Loop {
			d.lo = f
			continue
		}
		d.ifs = append(d.ifs, f)
		d.byIx[f.index] = f
	}
	d.state.Store(&dpState{})
	d.marks.Store(&[]MarkRule{})
	d.hops = newNextHops(ctl, d.ifaceInfo, d.solicit, d.transmitHeld)
	d.frags = packet.NewFragCache(1024, fragTimeout)
	d.ctrl = d.newWorker(-1, false, nil, map[int]Port{1: e.ctl0, 2: e.ctl1})
	e.w = d.newWorker(0, true, []rxPort{{e.eth0, d.ifs[0]}, {e.eth1, d.ifs[1]}, {e.lo, d.lo}}, map[int]Port{1: e.eth0, 2: e.eth1})
	d.workers = []*worker{e.w}
	e.d = d
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	return e
}

// in receives frames on a port and processes them as one batch.
func (e *testEnv) in(p *fakePort, frames ...[]byte) {
	for _, f := range frames {
		p.push(f, packet.VnetHeader{})
	}
	e.drain(p)
}

func (e *testEnv) drain(p *fakePort) {
	for i := range e.w.rx {
		if e.w.rx[i].port == p {
			for e.w.drain(&e.w.rx[i]) > 0 {
			}
			return
		}
	}
	e.t.Fatal("no such port")
}

// one expects exactly one frame sent on p and parses it.
func (e *testEnv) one(p *fakePort) (fakeFrame, *packet.Packet) {
	e.t.Helper()
	out := p.take()
	if len(out) != 1 {
		e.t.Fatalf("%d frames sent, want 1", len(out))
	}
	var pk packet.Packet
	if r := packet.Parse(out[0].frame, &pk); r != packet.DropNone {
		e.t.Fatalf("sent frame does not parse: %v", r)
	}
	return out[0], &pk
}

func (e *testEnv) nothing(ports ...*fakePort) {
	e.t.Helper()
	for _, p := range ports {
		if out := p.take(); len(out) != 0 {
			e.t.Fatalf("%d frames sent, want none", len(out))
		}
	}
}

// frame options
type fopt struct {
	srcMAC, dstMAC packet.MAC
	ttl            uint8
	df             bool
	flags          uint8 // TCP flags
	payload        int
	udp            bool
}

func ipOf(s string) net.IP { return net.IP(netip.MustParseAddr(s).AsSlice()) }

// mkFrame builds a TCP (or UDP) frame with valid checksums.
func mkFrame(t testing.TB, src, dst string, sport, dport uint16, o fopt) []byte {
	t.Helper()
	if o.ttl == 0 {
		o.ttl = 64
	}
	if o.srcMAC == (packet.MAC{}) {
		o.srcMAC = macClient
	}
	if o.dstMAC == (packet.MAC{}) {
		o.dstMAC = macEth0
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(o.srcMAC[:]), DstMAC: net.HardwareAddr(o.dstMAC[:]), EthernetType: layers.EthernetTypeIPv4}
	var nl gopacket.NetworkLayer
	var l3 gopacket.SerializableLayer
	proto := layers.IPProtocolTCP
	if o.udp {
		proto = layers.IPProtocolUDP
	}
	if netip.MustParseAddr(src).Is4() {
		ip := &layers.IPv4{Version: 4, TTL: o.ttl, Protocol: proto, SrcIP: ipOf(src), DstIP: ipOf(dst), Id: 0x1234}
		if o.df {
			ip.Flags = layers.IPv4DontFragment
		}
		nl, l3 = ip, ip
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: o.ttl, NextHeader: proto, SrcIP: ipOf(src), DstIP: ipOf(dst)}
		nl, l3 = ip, ip
	}
	pl := make([]byte, o.payload)
	for i := range pl {
		pl[i] = byte(i)
	}
	var l4 gopacket.SerializableLayer
	if o.udp {
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		u.SetNetworkLayerForChecksum(nl)
		l4 = u
	} else {
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, Window: 1000,
			SYN: o.flags&packet.TCPSyn != 0, ACK: o.flags&packet.TCPAck != 0, FIN: o.flags&packet.TCPFin != 0, PSH: o.flags&packet.TCPPsh != 0}
		tcp.SetNetworkLayerForChecksum(nl)
		l4 = tcp
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, l3, l4, gopacket.Payload(pl)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checksumsOK verifies the IPv4 header and the TCP/UDP/ICMP checksum in
// full (over the pseudo-header), independently of package packet's code.
func checksumsOK(t testing.TB, frame []byte, p *packet.Packet) {
	t.Helper()
	b := frame[:p.End]
	l3 := p.L3Off
	var pseudo uint32
	if p.Key.Family == packet.IPv4 {
		if fold(inetSum(b[l3:l3+packet.IPv4Header(b[l3:]).IHL()], 0)) != 0xffff {
			t.Fatal("bad IPv4 header checksum")
		}
		pseudo = inetSum(b[l3+12:l3+20], 0)
	} else {
		pseudo = inetSum(b[l3+8:l3+40], 0)
	}
	if p.Key.Proto == packet.ProtoICMP && p.L4Off != 0 {
		if fold(inetSum(b[p.L4Off:], 0)) != 0xffff {
			t.Fatal("bad ICMP checksum")
		}
		return
	}
	if p.Key.Proto != packet.ProtoTCP && p.Key.Proto != packet.ProtoUDP && p.Key.Proto != packet.ProtoICMPv6 {
		return
	}
	if p.Frag.IsFragment() {
		return // covers the whole datagram
	}
	seg := b[p.L4Off:]
	if p.Key.Proto == packet.ProtoUDP && p.Key.Family == packet.IPv4 && seg[6]|seg[7] == 0 {
		return // no checksum
	}
	s := pseudo + uint32(p.Key.Proto) + uint32(len(seg))
	if fold(inetSum(seg, s)) != 0xffff {
		t.Fatalf("bad %d checksum", p.Key.Proto)
	}
}

var inetSum, fold = nettest.Sum, nettest.Fold

// ipPacket is the IP packet of a frame, without link padding.
func ipPacket(t testing.TB, frame []byte) []byte {
	var p packet.Packet
	if r := packet.Parse(frame, &p); r != packet.DropNone {
		t.Fatal(r)
	}
	return frame[p.L3Off:p.End]
}

func addr(s string) packet.Addr { return packet.MustParseAddr(s) }

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }
