package ipvs

import (
	"net/netip"
	"slices"
	"testing"
)

// cycler is a stand-in for rr and wrr (package sched, tested there): it
// states a cycle, each destination as often as its weight, in list order.
type cycler struct{ roundRobin }

func (cycler) Advance(*Service) {}

func (cycler) Cycle(svc *Service, limit int) []*Dest {
	var out []*Dest
	for _, d := range svc.Dests() {
		for range d.Weight() {
			out = append(out, d)
		}
	}
	if len(out) > limit {
		return nil
	}
	return out
}

func init() {
	RegisterScheduler("test-cycle", func(*Service) (Scheduler, error) { return &cycler{}, nil })
}

// KernelPlans lists exactly the services a kernel round robin schedules
// as the engine would: the scheduler's cycle (Cycler) becomes the slots
// (NAT ones with the real server's port), and persistence, thresholds,
// local delivery, a scheduler without a cycle or a per-source limit keep
// a service in the engine.
func TestKernelPlans(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	dr := Forwarding{Method: Route}
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-cycle"},
		DestConfig{Addr: rs1, Port: 80, Weight: 3, Forwarding: dr}, DestConfig{Addr: rs2, Port: 80, Weight: 1, Forwarding: dr})
	for i, cfg := range []struct {
		sc ServiceConfig
		d  DestConfig
	}{
		{ServiceConfig{Scheduler: "test-cycle", Flags: SvcPersistent, Timeout: 300, Netmask: 0xffffffff}, DestConfig{Forwarding: dr}},
		{ServiceConfig{Scheduler: "test-cycle"}, DestConfig{Forwarding: dr, UThreshold: 10}},
		{ServiceConfig{Scheduler: "test-cycle"}, DestConfig{Forwarding: Forwarding{Method: Local}}},
		{ServiceConfig{Scheduler: "test-first"}, DestConfig{Forwarding: dr}},
	} {
		cfg.sc.ServiceKey = ServiceKey{Protocol: ProtoTCP, Addr: vip, Port: uint16(81 + i)}
		cfg.d.Addr, cfg.d.Port, cfg.d.Weight = rs1, 80, 1
		mustAddService(t, e, cfg.sc, cfg.d)
	}
	natSvc := ServiceKey{Protocol: ProtoTCP, Addr: vip, Port: 90}
	mustAddService(t, e, ServiceConfig{ServiceKey: natSvc, Scheduler: "test-cycle"},
		DestConfig{Addr: rs1, Port: 8080, Weight: 1, Forwarding: Forwarding{Method: Masq}},
		DestConfig{Addr: rs2, Port: 0, Weight: 1, Forwarding: Forwarding{Method: Masq}})
	plans := e.KernelPlans(64)
	if len(plans) != 2 || plans[0].Key.String() != tcpSvc.String() || plans[0].Timeout != 900 || plans[1].Key.String() != natSvc.String() {
		t.Fatalf("plans %+v, want the first service and the NAT one", plans)
	}
	// a server without a port takes the service's, as the engine's own scheduling does
	if s := plans[1].Slots; len(s) != 2 || s[0].Addr != rs2 || s[0].Port != 90 || s[1].Addr != rs1 || s[1].Port != 8080 || s[1].Fwd.Method != Masq {
		t.Fatalf("NAT slots %+v, want %v:90 and %v:8080 masquerading", s, rs2, rs1)
	}
	var got []netip.Addr
	for _, s := range plans[0].Slots {
		got = append(got, s.Addr)
	}
	// the scheduler's cycle over the list (newest first: rs2, rs1)
	if want := []netip.Addr{rs2, rs1, rs1, rs1}; !slices.Equal(got, want) {
		t.Fatalf("cycle %v, want %v", got, want)
	}
	if p := e.KernelPlans(3); len(p) != 1 || p[0].Key.String() != natSvc.String() {
		t.Fatalf("a 4-slot cycle planned within 3 slots: %+v", p)
	}
	o := e.Options()
	o.PerSourceLimit = 10
	if err := e.SetOptions(o); err != nil {
		t.Fatal(err)
	}
	if p := e.KernelPlans(64); len(p) != 0 {
		t.Fatalf("planned with a per-source limit: %+v", p)
	}
}

// A connection the kernel scheduled is bound to the kernel's choice, not
// scheduled again; a choice that is no longer the service's is ignored.
func TestKernelDest(t *testing.T) {
	e, w := newTestEngine(t, nil)
	dr := Forwarding{Method: Route}
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-cycle"},
		DestConfig{Addr: rs1, Port: 80, Weight: 1, Forwarding: dr}, DestConfig{Addr: rs2, Port: 80, Weight: 1, Forwarding: dr})
	slots := e.KernelPlans(64)[0].Slots
	for i := range 4 {
		want := slots[i%2]
		v := w.In(tcpFlow(client, uint16(40000+i), vip, 80), &PacketInfo{TCPFlags: TCPSyn, Bytes: 60, KernelDest: want.DestID}, 0)
		if v.Action != ActionForward || v.DestID != want.DestID || v.Dest.Netip(v.DestFamily) != want.Addr || !v.NewConn {
			t.Fatalf("SYN %d: verdict %+v, want destination %v", i, v, want.Addr)
		}
	}
	// the same ports, a new SYN the kernel sent elsewhere: the old entry gives way
	v := w.In(tcpFlow(client, 40000, vip, 80), &PacketInfo{TCPFlags: TCPSyn, Bytes: 60, KernelDest: slots[1].DestID}, 0)
	if v.DestID != slots[1].DestID {
		t.Fatalf("reused ports: verdict to %v, want the kernel's %v", v.Dest, slots[1].Addr)
	}
	if v := w.In(tcpFlow(client, 41000, vip, 80), &PacketInfo{TCPFlags: TCPSyn, Bytes: 60, KernelDest: 9999}, 0); v.Action != ActionForward || v.DestID == 9999 {
		t.Fatalf("an unknown kernel destination: verdict %+v", v)
	}

	// the SYN's record was lost: a later packet with the kernel's choice
	// creates the connection there; without it, or an RST, or a choice
	// that is gone, it is dropped (never scheduled anew mid-connection)
	fin := tcpFlow(client, 42000, vip, 80)
	if w.Knows(fin) {
		t.Fatal("Knows: a connection before any packet")
	}
	if v := w.In(fin, &PacketInfo{TCPFlags: TCPFin | TCPAck, Bytes: 52}, 0); v.Action != ActionDrop || v.Reason != DropNoConn {
		t.Fatalf("a FIN without a connection: verdict %+v", v)
	}
	for _, pi := range []PacketInfo{{TCPFlags: TCPRst, KernelDest: slots[0].DestID}, {TCPFlags: TCPFin | TCPAck, KernelDest: 9999}} {
		if v := w.In(fin, &pi, 0); v.Action != ActionDrop || v.Reason != DropNoConn {
			t.Fatalf("%+v without a connection: verdict %+v", pi, v)
		}
	}
	if v := w.In(fin, &PacketInfo{TCPFlags: TCPFin | TCPAck, Bytes: 52, KernelDest: slots[0].DestID}, 0); v.Action != ActionForward || v.DestID != slots[0].DestID {
		t.Fatalf("a FIN with the kernel's choice: verdict %+v, want destination %v", v, slots[0].Addr)
	}
	if !w.Knows(fin) {
		t.Fatal("Knows: no connection after the FIN created it")
	}
}
