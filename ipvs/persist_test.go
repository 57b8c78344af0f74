package ipvs

import (
	"net/netip"
	"testing"
)

func persistentEngine(t *testing.T, opts *Options, netmask uint32) (*Engine, *Worker) {
	e, w := newTestEngine(t, opts)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-rr", Flags: SvcPersistent, Timeout: 300, Netmask: netmask},
		DestConfig{Addr: rs1, Port: 80, Weight: 1}, DestConfig{Addr: rs2, Port: 80, Weight: 1})
	return e, w
}

func ip4(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestPersistenceSameClientSameServer(t *testing.T) {
	e, w := persistentEngine(t, nil, 0xffffffff)
	first := w.In(tcpFlow(client, 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
	for p := uint16(2); p < 10; p++ {
		if got := w.In(tcpFlow(client, p, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0).Dest; got != first {
			t.Fatalf("conn %d went to %s, want %s", p, got, first)
		}
	}
	// another client (rr moves on) lands elsewhere
	other := w.In(tcpFlow(ip4("192.0.2.77"), 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
	if other == first {
		t.Fatal("second client should get the other server from rr")
	}
	if n := destByAddr(t, e, tcpSvc, first.Netip(IPv4)).PersistConns(); n != 1 {
		t.Fatalf("persistconns %d, want 1 template", n)
	}
}

func TestPersistenceNetmaskGroupsClients(t *testing.T) {
	_, w := persistentEngine(t, nil, 0xffffff00) // /24
	a := w.In(tcpFlow(ip4("192.0.2.10"), 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
	b := w.In(tcpFlow(ip4("192.0.2.200"), 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
	c := w.In(tcpFlow(ip4("192.0.3.10"), 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
	if a != b {
		t.Fatal("clients in one /24 must share the template")
	}
	if c == a {
		t.Fatal("a client of another /24 should be scheduled anew (rr -> other server)")
	}
}

func TestTemplateLifetime(t *testing.T) {
	e, w := persistentEngine(t, nil, 0xffffffff)
	f := tcpFlow(client, 1, vip, 80)
	first := w.In(f, &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
	w.In(f, &PacketInfo{TCPFlags: TCPAck}, second)
	w.In(f, &PacketInfo{TCPFlags: TCPRst}, second) // ESTABLISHED -> CLOSE (10 s)
	e.Expire(20 * second)
	if n := countEntries(e, false); n != 0 {
		t.Fatalf("closed conn still there: %d", n)
	}
	if n := countEntries(e, true); n != 1 {
		t.Fatal("template must outlive its connection for the persistence timeout")
	}
	// within the persistence timeout the client still goes to the same server
	if got := w.In(tcpFlow(client, 2, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 100*second).Dest; got != first {
		t.Fatal("template not used")
	}
	// that connection refreshed the template: it lives 300 s from t=100
	w.In(tcpFlow(client, 2, vip, 80), &PacketInfo{TCPFlags: TCPAck}, 101*second)
	w.In(tcpFlow(client, 2, vip, 80), &PacketInfo{TCPFlags: TCPRst}, 101*second)
	e.Expire(390 * second)
	if countEntries(e, true) != 1 {
		t.Fatal("template expired before 300 s after its last use")
	}
	e.Expire(402 * second)
	if countEntries(e, true) != 0 {
		t.Fatal("template did not expire")
	}
}

func TestTemplateAssured(t *testing.T) {
	e, w := persistentEngine(t, nil, 0xffffffff)
	f := tcpFlow(client, 1, vip, 80)
	w.In(f, &PacketInfo{TCPFlags: TCPSyn}, 0)
	state := func() string {
		s := ""
		e.Conns(func(c ConnInfo) bool {
			if c.Template {
				s = c.State
			}
			return true
		})
		return s
	}
	if got := state(); got != "NONE" {
		t.Fatalf("fresh template %s, want NONE", got)
	}
	w.In(f, &PacketInfo{TCPFlags: TCPAck}, 0)
	if got := state(); got != "ASSURED" {
		t.Fatalf("template of an established connection %s, want ASSURED", got)
	}
}

func TestTemplateKeptWhileControlling(t *testing.T) {
	e, w := persistentEngine(t, nil, 0xffffffff)
	f := tcpFlow(client, 1, vip, 80)
	w.In(f, &PacketInfo{TCPFlags: TCPSyn}, 0)
	w.In(f, &PacketInfo{TCPFlags: TCPAck}, 0) // ESTABLISHED: 900 s
	e.Expire(400 * second)
	if countEntries(e, true) != 1 {
		t.Fatal("a template controlling a live connection must not expire")
	}
	e.Expire(1000 * second) // connection gone at 900 s; template rechecked every 60 s
	e.Expire(1100 * second)
	if countEntries(e, true) != 0 || countEntries(e, false) != 0 {
		t.Fatalf("left: %d templates %d conns", countEntries(e, true), countEntries(e, false))
	}
}

func TestFWMarkPersistenceAcrossPorts(t *testing.T) {
	e, w := newTestEngine(t, nil)
	key := ServiceKey{FWMark: 1}
	mustAddService(t, e, ServiceConfig{ServiceKey: key, Scheduler: "test-rr", Flags: SvcPersistent, Timeout: 300, Netmask: 0xffffffff},
		DestConfig{Addr: rs1, Weight: 1}, DestConfig{Addr: rs2, Weight: 1})
	f80 := tcpFlow(client, 1, vip, 80)
	f80.Mark = 1
	f443 := tcpFlow(client, 2, vip, 443)
	f443.Mark = 1
	a := w.In(f80, &PacketInfo{TCPFlags: TCPSyn}, 0)
	b := w.In(f443, &PacketInfo{TCPFlags: TCPSyn}, 0)
	if a.Dest != b.Dest {
		t.Fatal("both ports of one client must share the fwmark template")
	}
	if a.DestPort != 80 || b.DestPort != 443 {
		t.Fatalf("port-less dests keep the packet's port: %d %d", a.DestPort, b.DestPort)
	}
}

func TestQuiescentTemplate(t *testing.T) {
	for _, kernel := range []bool{false, true} {
		opts := DefaultOptions()
		if kernel {
			opts = KernelOptions()
		}
		e, w := persistentEngine(t, &opts, 0xffffffff)
		first := w.In(tcpFlow(client, 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0).Dest
		if err := e.SetWeight(tcpSvc, first.Netip(IPv4), 80, 0); err != nil {
			t.Fatal(err)
		}
		next := w.In(tcpFlow(client, 2, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, second).Dest
		if kernel && next != first {
			t.Fatal("kernel default: a quiescent template keeps the client")
		}
		if !kernel && next == first {
			t.Fatal("GVS default (expire_quiescent_template): new connection must leave the weight-0 server")
		}
	}
}

func TestPortZeroPersistentService(t *testing.T) {
	e, w := newTestEngine(t, nil)
	key := ServiceKey{Protocol: ProtoTCP, Addr: vip, Port: 0}
	mustAddService(t, e, ServiceConfig{ServiceKey: key, Scheduler: "test-rr", Flags: SvcPersistent, Timeout: 60, Netmask: 0xffffffff},
		DestConfig{Addr: rs1, Weight: 1}, DestConfig{Addr: rs2, Weight: 1})
	a := w.In(tcpFlow(client, 1, vip, 22), &PacketInfo{TCPFlags: TCPSyn}, 0)
	b := w.In(tcpFlow(client, 2, vip, 25), &PacketInfo{TCPFlags: TCPSyn}, 0)
	if a.Action != ActionForward || a.Dest != b.Dest || a.DestPort != 22 || b.DestPort != 25 {
		t.Fatalf("port-zero service: %+v %+v", a, b)
	}
}

func countEntries(e *Engine, templates bool) int {
	n := 0
	e.Conns(func(c ConnInfo) bool {
		if c.Template == templates {
			n++
		}
		return true
	})
	return n
}
