//go:build linux

package dataplane

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/govs/gvs/dataplane/tcencap"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/packet"
)

// fakeEncap hands out marks as the TC program's loader does.
type fakeEncap struct {
	calls   int
	err     error
	tunnels []tcencap.Tunnel
}

func (e *fakeEncap) Mark(t tcencap.Tunnel) (uint32, error) {
	e.calls++
	if e.err != nil {
		return 0, e.err
	}
	if t.Src != netip4(director4) || t.Dst != netip4(rs3) {
		return 0, errors.New("unexpected tunnel")
	}
	for i, o := range e.tunnels {
		if o == t {
			return 0x47560001 + uint32(i), nil
		}
	}
	e.tunnels = append(e.tunnels, t)
	return 0x47560000 + uint32(len(e.tunnels)), nil
}

// fakeMarkPort is a marking sender: it records each frame's mark.
type fakeMarkPort struct {
	fakePort
	marks []uint32
}

func (p *fakeMarkPort) QueueMark(b []byte, mark uint32) error {
	p.marks = append(p.marks, mark)
	return p.Queue(b)
}

// withKernelEncap gives the test worker a marking sender on eth1.
func (e *testEnv) withKernelEncap(enc *fakeEncap) *fakeMarkPort {
	mp := &fakeMarkPort{}
	e.d.kenc = enc
	e.w.kenc = kencapState{tx: map[int]markPort{2: mp}}
	e.w.txList = append(e.w.txList, mp)
	return mp
}

// TestKernelEncapSuperFrame: with the TC program in place, a TCP
// super-frame for an IPIP real server leaves whole on the marking sender,
// addressed to the real server's next hop, TTL decremented, partial
// checksum and GSO kept, gso_size fitting the tunnel; the flow's plain
// frames take the same sender (no mark), encapsulated here.
func TestKernelEncapSuperFrame(t *testing.T) {
	e := newTestEnv(t)
	enc := &fakeEncap{}
	mp := e.withKernelEncap(enc)
	e.in(e.eth0, mkFrame(t, client4, vipIPIP, 40000, 80, fopt{flags: packet.TCPSyn}))
	e.nothing(e.eth1)
	f, p := e.one(&mp.fakePort)
	if p.Key.Proto != packet.ProtoIPIP || p.Key.Dst != addr(rs3) || mp.marks[0] != 0 {
		t.Fatalf("SYN: %+v, mark %#x", p.Key, mp.marks[0])
	}
	_ = f

	sf, vh := gsoFrame(t, client4, vipIPIP, 40000, 80, 20000)
	e.eth0.push(sf, vh)
	e.drain(e.eth0)
	e.nothing(e.eth1)
	f, p = e.one(&mp.fakePort)
	if mp.marks[1] != 0x47560001 {
		t.Fatalf("mark %#x", mp.marks[1])
	}
	if p.Key.Proto != packet.ProtoTCP || p.Key.Dst != addr(vipIPIP) || p.IPLen() != 20040 ||
		packet.MAC(f.frame[0:6]) != macRS[rs3] || packet.MAC(f.frame[6:12]) != macEth1 ||
		packet.IPv4Header(f.frame[14:]).TTL() != 63 {
		t.Fatalf("inner frame: %+v, %d bytes, MACs % x", p.Key, p.IPLen(), f.frame[:12])
	}
	// 1500 less the outer header and the inner headers; partial checksum kept
	if f.vnet.GSOType != packet.GSOTCPv4 || f.vnet.GSOSize != 1440 || f.vnet.Flags != packet.VnetNeedsCsum || int(f.vnet.CsumStart) != p.L4Off {
		t.Fatalf("virtio-net header %+v", f.vnet)
	}
	if r := p.SetOffload(&f.vnet); r != packet.DropNone {
		t.Fatal(r)
	}
	packet.CompleteChecksum(f.frame, p)
	checksumsOK(t, f.frame, p) // the IPv4 header checksum follows the TTL

	// the tunnel's mark is asked for once
	e.eth0.push(sf, vh)
	e.drain(e.eth0)
	e.one(&mp.fakePort)
	if enc.calls != 1 {
		t.Fatalf("%d calls for a mark", enc.calls)
	}

	// a GUE tunnel without UDP checksum: whole, with its own mark
	gue := e.kernelSuperFrame(mp, vipGUE, 40001, 1428) // 1500 - 20 - 8 - 4 - 40
	if enc.tunnels[1] != (tcencap.Tunnel{Kind: tcencap.GUE, Src: netip4(director4), Dst: netip4(rs3), Port: 6080}) || gue != 0x47560002 {
		t.Fatalf("GUE tunnel %+v, mark %#x", enc.tunnels[1], gue)
	}
	// GRE without checksum: whole
	e.addTunnelService(vipGRE, ipvs.Forwarding{Method: ipvs.Tunnel, TunnelType: ipvs.TunnelGRE})
	gre := e.kernelSuperFrame(mp, vipGRE, 40002, 1436) // 1500 - 20 - 4 - 40
	if enc.tunnels[2] != (tcencap.Tunnel{Kind: tcencap.GRE, Src: netip4(director4), Dst: netip4(rs3)}) || gre != 0x47560003 {
		t.Fatalf("GRE tunnel %+v, mark %#x", enc.tunnels[2], gre)
	}

	// checksummed GUE and GRE tunnels: the kernel's segmentation would
	// not fill the checksums in, so they are segmented here, on the
	// bypassing sender
	e.addTunnelService(vipGUECsum, ipvs.Forwarding{Method: ipvs.Tunnel, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelCsum})
	e.addTunnelService(vipGUERemCsum, ipvs.Forwarding{Method: ipvs.Tunnel, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelRemCsum})
	e.addTunnelService(vipGRECsum, ipvs.Forwarding{Method: ipvs.Tunnel, TunnelType: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelCsum})
	for i, vip := range []string{vipGUECsum, vipGUERemCsum, vipGRECsum} {
		e.in(e.eth0, mkFrame(t, client4, vip, 40010+uint16(i), 80, fopt{flags: packet.TCPSyn}))
		e.eth1.take()
		sf, vh = gsoFrame(t, client4, vip, 40010+uint16(i), 80, 20000)
		e.eth0.push(sf, vh)
		e.drain(e.eth0)
		if n := len(e.eth1.take()); n < 14 {
			t.Fatalf("%s: %d segments", vip, n)
		}
		if len(mp.take()) != 0 {
			t.Fatalf("%s: frames on the marking sender", vip)
		}
	}
	if len(enc.tunnels) != 3 {
		t.Fatalf("tunnels %+v", enc.tunnels)
	}
}

// More TUN services to rs3 for the kernel encapsulation tests.
const vipGRE, vipGUECsum, vipGUERemCsum, vipGRECsum = "192.0.2.141", "192.0.2.142", "192.0.2.143", "192.0.2.144"

func (e *testEnv) addTunnelService(vip string, f ipvs.Forwarding) {
	e.t.Helper()
	k := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr(vip), Port: 80}
	if err := e.d.eng.AddService(ipvs.ServiceConfig{ServiceKey: k, Scheduler: "rr"}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.d.eng.AddDest(k, ipvs.DestConfig{Addr: netip.MustParseAddr(rs3), Port: 80, Weight: 1, Forwarding: f}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.d.Sync(); err != nil {
		e.t.Fatal(err)
	}
}

// kernelSuperFrame opens a connection to vip, sends a TCP super-frame on
// it and checks that it leaves whole on the marking sender (the SYN,
// encapsulated here, on the same sender without a mark), with gso_size
// size; it returns the super-frame's mark.
func (e *testEnv) kernelSuperFrame(mp *fakeMarkPort, vip string, sport uint16, size int) uint32 {
	t := e.t
	t.Helper()
	mp.marks = nil
	e.in(e.eth0, mkFrame(t, client4, vip, sport, 80, fopt{flags: packet.TCPSyn}))
	e.nothing(e.eth1)
	if _, p := e.one(&mp.fakePort); p.Key.Dst != addr(rs3) || mp.marks[0] != 0 {
		t.Fatalf("%s SYN: %+v, mark %#x", vip, p.Key, mp.marks[0])
	}
	sf, vh := gsoFrame(t, client4, vip, sport, 80, 20000)
	e.eth0.push(sf, vh)
	e.drain(e.eth0)
	e.nothing(e.eth1)
	f, p := e.one(&mp.fakePort)
	if p.Key.Proto != packet.ProtoTCP || p.Key.Dst != addr(vip) || p.IPLen() != 20040 ||
		f.vnet.GSOType != packet.GSOTCPv4 || int(f.vnet.GSOSize) != size || mp.marks[1] == 0 {
		t.Fatalf("%s: %+v, %d bytes, %+v, mark %#x", vip, p.Key, p.IPLen(), f.vnet, mp.marks[1])
	}
	return mp.marks[1]
}

// TestKernelEncapUnavailable: when the tunnel gets no mark, super-frames
// are segmented in user space, as without the TC program; the segments
// take the flow's marking sender (no mark), so they stay in order with
// its other frames.
func TestKernelEncapUnavailable(t *testing.T) {
	e := newTestEnv(t)
	enc := &fakeEncap{err: errors.New("map full")}
	mp := e.withKernelEncap(enc)
	e.in(e.eth0, mkFrame(t, client4, vipIPIP, 40000, 80, fopt{flags: packet.TCPSyn}))
	mp.take()
	sf, vh := gsoFrame(t, client4, vipIPIP, 40000, 80, 20000)
	for range 2 {
		mp.marks = nil
		e.eth0.push(sf, vh)
		e.drain(e.eth0)
		e.nothing(e.eth1)
		if n := len(mp.take()); n != 14 {
			t.Fatalf("%d segments, want 14", n)
		}
		for _, m := range mp.marks {
			if m != 0 {
				t.Fatalf("segment with mark %#x", m)
			}
		}
	}
	if enc.calls != 1 {
		t.Fatalf("%d calls for a mark", enc.calls)
	}
}

// TestKernelEncapTTLExceeded: a super-frame whose TTL runs out is answered
// with time exceeded, not sent.
func TestKernelEncapTTLExceeded(t *testing.T) {
	e := newTestEnv(t)
	mp := e.withKernelEncap(&fakeEncap{})
	e.in(e.eth0, mkFrame(t, client4, vipIPIP, 40000, 80, fopt{flags: packet.TCPSyn}))
	mp.take()
	sf, vh := gsoFrame(t, client4, vipIPIP, 40000, 80, 20000)
	sf[14+8] = 1
	sf[14+10], sf[14+11] = 0, 0
	c := ^fold(inetSum(sf[14:34], 0))
	sf[14+10], sf[14+11] = byte(c>>8), byte(c)
	e.eth0.push(sf, vh)
	e.drain(e.eth0)
	if len(mp.take()) != 0 {
		t.Fatal("sent")
	}
	_, p := e.one(e.eth0)
	if p.Key.Proto != packet.ProtoICMP || p.ICMPType != 11 {
		t.Fatalf("%+v type %d", p.Key, p.ICMPType)
	}
}
