package ipvs

import (
	"testing"
)

func TestThresholdHysteresis(t *testing.T) {
	for _, tc := range []struct {
		name         string
		upper, lower uint32
		clearBelow   int // overload clears once total connections drop below this
	}{
		{"upper only: clears below 3/4 of upper", 4, 0, 3},
		{"lower threshold", 4, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, w := newTestEngine(t, nil)
			mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
				DestConfig{Addr: rs1, Port: 80, Weight: 1, UThreshold: tc.upper, LThreshold: tc.lower})
			d := destByAddr(t, e, tcpSvc, rs1)
			for p := uint16(1); p <= uint16(tc.upper); p++ {
				if v := w.In(tcpFlow(client, p, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0); v.Action != ActionForward {
					t.Fatalf("conn %d refused before the threshold: %+v", p, v)
				}
			}
			if !d.Overloaded() {
				t.Fatal("not overloaded at the upper threshold")
			}
			if v := w.In(tcpFlow(client, 100, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0); v.Action != ActionReject {
				t.Fatalf("overloaded server took a connection: %+v", v)
			}
			// close connections one by one (RST from SYN_RECV needs an ACK first)
			for p := uint16(1); p <= uint16(tc.upper); p++ {
				f := tcpFlow(client, p, vip, 80)
				w.In(f, &PacketInfo{TCPFlags: TCPAck}, second)
				w.In(f, &PacketInfo{TCPFlags: TCPRst}, second)
				e.Expire(int64(p) * 20 * second)
				total := int(tc.upper) - int(p)
				if want := total >= tc.clearBelow; d.Overloaded() != want {
					t.Fatalf("%d connections left: overloaded=%v, want %v", total, d.Overloaded(), want)
				}
			}
		})
	}
}

func TestWeightZeroDrains(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 80, Weight: 1}, DestConfig{Addr: rs2, Port: 80, Weight: 1})
	old := tcpFlow(client, 1, vip, 80)
	first := w.In(old, &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
	w.In(old, &PacketInfo{TCPFlags: TCPAck}, 0)
	if err := e.SetWeight(tcpSvc, first.Netip(IPv4), 80, 0); err != nil {
		t.Fatal(err)
	}
	if v := w.In(old, &PacketInfo{TCPFlags: TCPAck}, second); v.Action != ActionForward || v.Dest != first {
		t.Fatalf("established connection must keep its quiescent server: %+v", v)
	}
	if v := w.In(tcpFlow(client, 2, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, second); v.Dest == first {
		t.Fatal("new connection went to a weight-0 server")
	}
}

func TestDeletedDestination(t *testing.T) {
	t.Run("gvs default expires at once", func(t *testing.T) {
		e, w := newTestEngine(t, nil)
		mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
			DestConfig{Addr: rs1, Port: 80, Weight: 1}, DestConfig{Addr: rs2, Port: 80, Weight: 1})
		f := tcpFlow(client, 1, vip, 80)
		first := w.In(f, &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
		if err := e.DelDest(tcpSvc, first.Netip(IPv4), 80); err != nil {
			t.Fatal(err)
		}
		if e.ConnCount() != 0 {
			t.Fatal("connections of a deleted server must be expired")
		}
		// the next segment finds no connection: it is refused (the data path may reset)
		if v := w.In(f, &PacketInfo{TCPFlags: TCPAck}, second); v.Action != ActionDrop || v.Reason != DropNoConn {
			t.Fatalf("%+v", v)
		}
		// a new SYN on the same port goes to the remaining server
		if v := w.In(f, &PacketInfo{TCPFlags: TCPSyn}, second); v.Action != ActionForward || v.Dest == first {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("kernel default drops until expiry", func(t *testing.T) {
		opts := KernelOptions()
		e, w := newTestEngine(t, &opts)
		mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
			DestConfig{Addr: rs1, Port: 80, Weight: 1})
		f := tcpFlow(client, 1, vip, 80)
		w.In(f, &PacketInfo{TCPFlags: TCPSyn}, 0)
		if err := e.DelDest(tcpSvc, rs1, 80); err != nil {
			t.Fatal(err)
		}
		if v := w.In(f, &PacketInfo{TCPFlags: TCPAck}, second); v.Reason != DropNoDest {
			t.Fatalf("%+v", v)
		}
		if e.ConnCount() != 1 {
			t.Fatal("kernel mode keeps the entry")
		}
		// re-adding the server revives it from the trash with its counters
		if err := e.AddDest(tcpSvc, DestConfig{Addr: rs1, Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
		if d := destByAddr(t, e, tcpSvc, rs1); d.ActiveConns() != 1 {
			t.Fatalf("revived dest lost its connection count: %d", d.ActiveConns())
		}
		if v := w.In(f, &PacketInfo{TCPFlags: TCPAck}, second); v.Action != ActionForward {
			t.Fatalf("%+v", v)
		}
	})
}

func TestConnReuseNoStall(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-rr"},
		DestConfig{Addr: rs1, Port: 80, Weight: 1}, DestConfig{Addr: rs2, Port: 80, Weight: 1})
	f := tcpFlow(client, 1, vip, 80)
	a := w.In(f, &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
	w.In(f, &PacketInfo{TCPFlags: TCPAck}, 0)
	w.In(f, &PacketInfo{TCPFlags: TCPFin | TCPAck}, 0)
	w.Out(&Flow{Family: IPv4, Protocol: ProtoTCP, Src: a, SrcPort: 80, Dst: AddrFrom(client), DstPort: 1}, &PacketInfo{TCPFlags: TCPFin | TCPAck}, 0)
	w.In(f, &PacketInfo{TCPFlags: TCPAck}, 0)
	if connState(t, e, 1) != "TIME_WAIT" {
		t.Fatal("setup: want TIME_WAIT")
	}
	// The client reuses the port: the SYN is scheduled afresh in the same packet.
	v := w.In(f, &PacketInfo{TCPFlags: TCPSyn}, second)
	if v.Action != ActionForward || !v.NewConn || v.Dest == a {
		t.Fatalf("SYN on a TIME_WAIT entry: %+v", v)
	}
	if connState(t, e, 1) != "SYN_RECV" || e.ConnCount() != 1 {
		t.Fatal("old entry not replaced")
	}
}

func TestTableFullAndSourceLimit(t *testing.T) {
	e, err := New(Config{MaxConns: 3, HashSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := e.NewWorker()
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"}, DestConfig{Addr: rs1, Port: 80, Weight: 1})
	for p := uint16(1); p <= 3; p++ {
		w.In(tcpFlow(client, p, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0)
	}
	if v := w.In(tcpFlow(client, 4, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0); v.Reason != DropTableFull {
		t.Fatalf("%+v", v)
	}
	if got := e.DropCounts()[DropTableFull]; got != 1 {
		t.Fatalf("table-full drops %d", got)
	}

	opts := DefaultOptions()
	opts.PerSourceLimit = 2
	e2, w2 := newTestEngine(t, &opts)
	mustAddService(t, e2, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"}, DestConfig{Addr: rs1, Port: 80, Weight: 1})
	w2.In(tcpFlow(client, 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0)
	w2.In(tcpFlow(client, 2, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0)
	if v := w2.In(tcpFlow(client, 3, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0); v.Reason != DropSourceLimit {
		t.Fatalf("%+v", v)
	}
	if v := w2.In(tcpFlow(ip4("192.0.2.99"), 3, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0); v.Action != ActionForward {
		t.Fatal("another client is not limited")
	}
	e2.Expire(1000 * second)
	if e2.SourceConns(IPv4, AddrFrom(client)) != 0 {
		t.Fatal("per-source count leaked after expiry")
	}
}

func TestNoDestinationRejects(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"})
	if v := w.In(tcpFlow(client, 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0); v.Action != ActionReject {
		t.Fatalf("%+v", v)
	}
	if v := w.In(tcpFlow(client, 1, vip, 81), &PacketInfo{TCPFlags: TCPSyn}, 0); v.Action != ActionPass {
		t.Fatalf("a port without a service belongs to the kernel: %+v", v)
	}
}

func TestConfigErrors(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	check := func(err error, want Code) {
		t.Helper()
		if CodeOf(err) != want {
			t.Fatalf("got %v, want code %s", err, want)
		}
	}
	check(e.AddService(ServiceConfig{ServiceKey: tcpSvc, Scheduler: "nope"}), ErrNotFound)
	check(e.AddService(ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"}), 0)
	check(e.AddService(ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"}), ErrExist)
	check(e.EditService(ServiceConfig{ServiceKey: udpSvc}), ErrNoService)
	check(e.AddDest(udpSvc, DestConfig{Addr: rs1, Weight: 1}), ErrNoService)
	check(e.AddDest(tcpSvc, DestConfig{Addr: rs1, Port: 80, Weight: -1}), ErrRange)
	check(e.AddDest(tcpSvc, DestConfig{Addr: rs1, Port: 80, Weight: 1, UThreshold: 1, LThreshold: 2}), ErrRange)
	check(e.AddDest(tcpSvc, DestConfig{Addr: ip4("0.0.0.0"), Port: 80, Weight: 1}), ErrInvalid)
	check(e.AddDest(tcpSvc, DestConfig{Addr: ip4("224.0.0.1"), Port: 80, Weight: 1}), ErrInvalid)
	check(e.AddDest(tcpSvc, DestConfig{Addr: rs1, Port: 80, Weight: 1, Forwarding: Forwarding{Method: Tunnel, TunnelType: TunnelGUE}}), ErrInvalid)
	check(e.AddDest(tcpSvc, DestConfig{Addr: rs1, Port: 80, Weight: 1}), 0)
	check(e.AddDest(tcpSvc, DestConfig{Addr: rs1, Port: 80, Weight: 1}), ErrExist)
	check(e.EditDest(tcpSvc, DestConfig{Addr: rs2, Port: 80, Weight: 1}), ErrNotFound)
	check(e.DelDest(tcpSvc, rs2, 80), ErrNotFound)
	check(e.DelService(udpSvc), ErrNoService)
	check(e.AddService(ServiceConfig{ServiceKey: ServiceKey{Protocol: 1, Addr: vip, Port: 1}, Scheduler: "test-first"}), ErrProtocol)
	if err := e.Flush(); err != nil || len(e.Services()) != 0 {
		t.Fatal("flush")
	}
}

func TestEditServiceKeepsConnections(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"}, DestConfig{Addr: rs1, Port: 80, Weight: 1})
	f := tcpFlow(client, 1, vip, 80)
	w.In(f, &PacketInfo{TCPFlags: TCPSyn}, 0)
	if err := e.EditService(ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-rr", Flags: SvcPersistent, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	st, _ := e.ServiceStatus(tcpSvc)
	if st.Scheduler != "test-rr" || st.Flags&SvcPersistent == 0 || st.Timeout != 10 {
		t.Fatalf("%+v", st.ServiceConfig)
	}
	if v := w.In(f, &PacketInfo{TCPFlags: TCPAck}, 0); v.Action != ActionForward {
		t.Fatal("connection lost by an edit")
	}
}
