package ipvs

import "testing"

// A connection may be offloaded once established and past OffloadAfter
// client packets; Touch counts what a fast path forwarded, restarts the
// timer from the last such packet, and says no once the connection is
// gone, closing, or its real server deleted.
func TestOffloadTouch(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 8080, Weight: 1, Forwarding: Forwarding{Method: Masq}})
	fp := e.NewWorker() // the fast path's own handle
	in := tcpFlow(client, 40000, vip, 80)
	out := &Flow{Family: IPv4, Protocol: ProtoTCP, Src: AddrFrom(rs1), SrcPort: 8080, Dst: AddrFrom(client), DstPort: 40000}
	if v := w.In(in, &PacketInfo{TCPFlags: TCPSyn, Bytes: 60}, 0); v.Offload {
		t.Fatal("a SYN_RECV connection offered for offload")
	}
	w.Out(out, &PacketInfo{TCPFlags: TCPSyn | TCPAck, Bytes: 60}, 0)
	var v Verdict
	for i := 2; i <= OffloadAfter; i++ {
		v = w.In(in, &PacketInfo{TCPFlags: TCPAck, Bytes: 100}, 0)
		if v.Offload != (i >= OffloadAfter) {
			t.Fatalf("client packet %d: Offload %v", i, v.Offload)
		}
	}
	if v.Timeout != 900_000 {
		t.Fatalf("timeout %d ms, want the established 900 s", v.Timeout)
	}
	if !fp.Touch(in, false, -1, 0, 0) || !fp.Touch(out, true, -1, 0, 0) {
		t.Fatal("an established connection refused in either direction")
	}
	// 1,000 packets forwarded by the fast path, the last at 800 s
	if !fp.Touch(in, false, 800*second, 1000, 100_000) || !fp.Touch(out, true, 800*second, 500, 1_000_000) {
		t.Fatal("Touch refused")
	}
	st, err := e.ServiceStatus(tcpSvc)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Stats; c.InPkts != OffloadAfter+1000 || c.OutPkts != 1+500 || c.InBytes != 60+(OffloadAfter-1)*100+100_000 || c.OutBytes != 60+1_000_000 {
		t.Fatalf("service counters %+v", c)
	}
	// the timer runs from 800 s: alive at 1,600 s, gone after 1,700 s
	e.Expire(1600 * second)
	if e.ConnCount() != 1 {
		t.Fatal("expired although the fast path's packets restarted its timer")
	}
	// an older time never shortens it
	fp.Touch(in, false, 100*second, 1, 1)
	e.Expire(1650 * second)
	if e.ConnCount() != 1 {
		t.Fatal("an older last-packet time shortened the timer")
	}
	// FIN: no longer offloadable, but the packets the fast path forwarded
	// before it still count
	w.In(in, &PacketInfo{TCPFlags: TCPFin | TCPAck}, 1650*second)
	if fp.Touch(in, false, -1, 0, 0) {
		t.Fatal("a closing connection still offloadable")
	}
	before, _ := e.ServiceStatus(tcpSvc)
	fp.Touch(in, false, -1, 5, 500)
	if after, _ := e.ServiceStatus(tcpSvc); after.Stats.InPkts != before.Stats.InPkts+5 || after.Stats.InBytes != before.Stats.InBytes+500 {
		t.Fatalf("the last counts of a closing connection: %+v, then %+v", before.Stats, after.Stats)
	}
	e.Expire(1800 * second)
	if fp.Touch(in, false, -1, 0, 0) {
		t.Fatal("an expired connection still offloadable")
	}
}

// A deleted real server ends the offload of its connections.
func TestOffloadDestDeleted(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: udpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 53, Weight: 1, Forwarding: Forwarding{Method: Route}})
	f := &Flow{Family: IPv4, Protocol: ProtoUDP, Src: AddrFrom(client), SrcPort: 5353, Dst: AddrFrom(vip), DstPort: 53}
	var v Verdict
	for i := 0; i < OffloadAfter; i++ {
		v = w.In(f, &PacketInfo{Bytes: 50}, 0)
	}
	if !v.Offload || !w.Touch(f, false, -1, 0, 0) {
		t.Fatalf("UDP connection after %d packets not offloadable: %+v", OffloadAfter, v)
	}
	if w.Touch(f, true, -1, 0, 0) {
		t.Fatal("a DR connection offloadable as a NAT reply")
	}
	if err := e.DelDest(udpSvc, rs1, 53); err != nil {
		t.Fatal(err)
	}
	if w.Touch(f, false, -1, 0, 0) {
		t.Fatal("offloadable after its real server was deleted")
	}
}

// The entries of a connection a kernel scheduler opened: the SYN is all
// the engine saw, so TouchKernel takes the kernel's later client packets
// for the ACK that makes it established, keeps its entries
// without OffloadAfter packets, keeps a NAT reply entry once the
// connection is established, and says of a half-open one that it is only
// opening.
func TestTouchKernel(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 8080, Weight: 1, Forwarding: Forwarding{Method: Masq}})
	id := destByAddr(t, e, tcpSvc, rs1).ID()
	fp := e.NewWorker()
	in := tcpFlow(client, 40000, vip, 80)
	out := &Flow{Family: IPv4, Protocol: ProtoTCP, Src: AddrFrom(rs1), SrcPort: 8080, Dst: AddrFrom(client), DstPort: 40000}
	if v := w.In(in, &PacketInfo{TCPFlags: TCPSyn, Bytes: 60, KernelDest: id}, 0); v.DestID != id {
		t.Fatalf("the SYN's record: %+v", v)
	}
	if keep, opening := fp.TouchKernel(out, true, -1, 1, 60); keep || !opening {
		t.Fatalf("a reply entry while the connection is SYN_RECV: keep %v, opening %v", keep, opening)
	}
	if fp.Touch(in, false, -1, 3, 300) {
		t.Fatal("Touch kept a kernel-scheduled connection short of OffloadAfter packets")
	}
	state := func(port uint16) (s string) {
		e.Conns(func(c ConnInfo) bool {
			if c.ClientPort == port {
				s = c.State
			}
			return true
		})
		return s
	}
	if s := state(40000); s != "SYN_RECV" {
		t.Fatalf("before: %s", s)
	}
	if keep, _ := fp.TouchKernel(in, false, -1, 2, 200); !keep {
		t.Fatal("TouchKernel handed back a connection whose client sent packets after its SYN")
	}
	if s := state(40000); s != "ESTABLISHED" {
		t.Fatalf("after: %s, want ESTABLISHED", s)
	}
	keepOut, _ := fp.TouchKernel(out, true, -1, 1, 60)
	keepIn, _ := fp.TouchKernel(in, false, -1, 0, 0)
	if !keepOut || !keepIn {
		t.Fatal("an established kernel-scheduled connection's entries handed back")
	}
	// a half-open connection: nothing after the SYN
	half := tcpFlow(client, 40001, vip, 80)
	w.In(half, &PacketInfo{TCPFlags: TCPSyn, Bytes: 60, KernelDest: id}, 0)
	if keep, opening := fp.TouchKernel(half, false, -1, 0, 0); keep || !opening {
		t.Fatalf("a half-open connection: keep %v, opening %v; want it opening only", keep, opening)
	}
	// the client's FIN reached the engine: handed back, as any entry
	w.In(in, &PacketInfo{TCPFlags: TCPFin | TCPAck}, 0)
	if keep, opening := fp.TouchKernel(in, false, -1, 0, 0); keep || opening {
		t.Fatalf("a closing connection: keep %v, opening %v", keep, opening)
	}
}
