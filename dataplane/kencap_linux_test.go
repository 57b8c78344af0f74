//go:build linux

package dataplane

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/govs/gvs/packet"
)

// fakeEncap hands out marks as the TC program's loader does.
type fakeEncap struct {
	calls int
	err   error
}

func (e *fakeEncap) Mark(src, dst netip.Addr) (uint32, error) {
	e.calls++
	if e.err != nil {
		return 0, e.err
	}
	if src != netip4(director4) || dst != netip4(rs3) {
		return 0, errors.New("unexpected tunnel")
	}
	return 0x47560001, nil
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
	e.w.kenc = kencapState{tx: map[int]markPort{2: mp}, marks: map[[8]byte]uint32{}}
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

	// GUE super-frames are still segmented here, on the bypassing sender
	e.in(e.eth0, mkFrame(t, client4, vipGUE, 40001, 80, fopt{flags: packet.TCPSyn}))
	e.eth1.take()
	sf, vh = gsoFrame(t, client4, vipGUE, 40001, 80, 20000)
	e.eth0.push(sf, vh)
	e.drain(e.eth0)
	if n := len(e.eth1.take()); n < 14 {
		t.Fatalf("GUE: %d segments", n)
	}
	if len(mp.take()) != 0 {
		t.Fatal("GUE frames on the marking sender")
	}
}

// TestKernelEncapUnavailable: when the tunnel gets no mark, super-frames
// are segmented in user space, as without the TC program.
func TestKernelEncapUnavailable(t *testing.T) {
	e := newTestEnv(t)
	enc := &fakeEncap{err: errors.New("map full")}
	mp := e.withKernelEncap(enc)
	e.in(e.eth0, mkFrame(t, client4, vipIPIP, 40000, 80, fopt{flags: packet.TCPSyn}))
	mp.take()
	sf, vh := gsoFrame(t, client4, vipIPIP, 40000, 80, 20000)
	for range 2 {
		e.eth0.push(sf, vh)
		e.drain(e.eth0)
		if n := len(e.eth1.take()); n != 14 {
			t.Fatalf("%d segments, want 14", n)
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
