package ipvs

import (
	"net/netip"
	"testing"
)

// firstAvailable is a minimal scheduler for the engine's own tests (the
// real schedulers live in package sched, which imports this one).
type firstAvailable struct{}

func (firstAvailable) Schedule(svc *Service, f *Flow, now int64) *Dest {
	for _, d := range svc.Dests() {
		if d.Weight() > 0 && !d.Overloaded() {
			return d
		}
	}
	return nil
}

// roundRobin cycles through the list (enough for tests that need spread).
type roundRobin struct{ next int }

func (r *roundRobin) Schedule(svc *Service, f *Flow, now int64) *Dest {
	svc.Lock()
	defer svc.Unlock()
	ds := svc.Dests()
	for i := 0; i < len(ds); i++ {
		d := ds[(r.next+i)%len(ds)]
		if d.Weight() > 0 && !d.Overloaded() {
			r.next = (r.next + i + 1) % len(ds)
			return d
		}
	}
	return nil
}

func init() {
	RegisterScheduler("test-first", func(*Service) (Scheduler, error) { return firstAvailable{}, nil })
	RegisterScheduler("test-rr", func(*Service) (Scheduler, error) { return &roundRobin{}, nil })
}

var (
	vip    = netip.MustParseAddr("10.0.0.1")
	client = netip.MustParseAddr("192.0.2.10")
	rs1    = netip.MustParseAddr("10.1.0.1")
	rs2    = netip.MustParseAddr("10.1.0.2")
	tcpSvc = ServiceKey{Protocol: ProtoTCP, Addr: vip, Port: 80}
	udpSvc = ServiceKey{Protocol: ProtoUDP, Addr: vip, Port: 53}
	second = int64(1e9)
)

func newTestEngine(t testing.TB, opts *Options) (*Engine, *Worker) {
	t.Helper()
	e, err := New(Config{MaxConns: 1 << 16, Options: opts, HashSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e, e.NewWorker()
}

func mustAddService(t testing.TB, e *Engine, cfg ServiceConfig, dests ...DestConfig) {
	t.Helper()
	if err := e.AddService(cfg); err != nil {
		t.Fatal(err)
	}
	for _, d := range dests {
		if err := e.AddDest(cfg.ServiceKey, d); err != nil {
			t.Fatal(err)
		}
	}
}

func tcpFlow(src netip.Addr, sport uint16, dst netip.Addr, dport uint16) *Flow {
	return &Flow{Family: FamilyOf(dst), Protocol: ProtoTCP, Src: AddrFrom(src), Dst: AddrFrom(dst), SrcPort: sport, DstPort: dport}
}

func (f *Flow) reversed() *Flow {
	return &Flow{Family: f.Family, Protocol: f.Protocol, Src: f.Dst, Dst: f.Src, SrcPort: f.DstPort, DstPort: f.SrcPort}
}

func destByAddr(t testing.TB, e *Engine, k ServiceKey, a netip.Addr) *Dest {
	t.Helper()
	s, err := e.Service(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range s.Dests() {
		if d.NetAddr() == a {
			return d
		}
	}
	t.Fatalf("no dest %s", a)
	return nil
}

func TestNATConnectionLifecycle(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 8080, Weight: 1, Forwarding: Forwarding{Method: Masq}})
	d := destByAddr(t, e, tcpSvc, rs1)

	in := tcpFlow(client, 40000, vip, 80)
	v := w.In(in, &PacketInfo{TCPFlags: TCPSyn, Bytes: 60}, 0)
	if v.Action != ActionForward || v.Dest != AddrFrom(rs1) || v.DestPort != 8080 || !v.NewConn || v.Method != Masq {
		t.Fatalf("SYN verdict %+v", v)
	}
	if d.ActiveConns() != 1 || d.InactConns() != 0 {
		t.Fatalf("after SYN active=%d inact=%d, want 1/0 (SYN_RECV is active)", d.ActiveConns(), d.InactConns())
	}
	// reply from the real server: rewritten back to the VIP
	out := &Flow{Family: IPv4, Protocol: ProtoTCP, Src: AddrFrom(rs1), SrcPort: 8080, Dst: AddrFrom(client), DstPort: 40000}
	v = w.Out(out, &PacketInfo{TCPFlags: TCPSyn | TCPAck, Bytes: 60}, second)
	if v.Action != ActionForward || v.VAddr != AddrFrom(vip) || v.VPort != 80 {
		t.Fatalf("SYN-ACK verdict %+v", v)
	}
	w.In(in, &PacketInfo{TCPFlags: TCPAck}, second)
	e.Conns(func(c ConnInfo) bool {
		if c.State != "ESTABLISHED" {
			t.Errorf("state %s, want ESTABLISHED", c.State)
		}
		return true
	})
	w.In(in, &PacketInfo{TCPFlags: TCPFin | TCPAck}, 2*second)
	w.Out(out, &PacketInfo{TCPFlags: TCPFin | TCPAck}, 2*second)
	w.In(in, &PacketInfo{TCPFlags: TCPAck}, 2*second)
	if d.ActiveConns() != 0 || d.InactConns() != 1 {
		t.Fatalf("after close active=%d inact=%d, want 0/1", d.ActiveConns(), d.InactConns())
	}
	var state string
	e.Conns(func(c ConnInfo) bool { state = c.State; return true })
	if state != "TIME_WAIT" {
		t.Fatalf("state %s, want TIME_WAIT", state)
	}
	// TIME_WAIT lasts 120 s
	e.Expire(2*second + 119*second)
	if e.ConnCount() != 1 {
		t.Fatal("expired too early")
	}
	e.Expire(2*second + 121*second)
	if e.ConnCount() != 0 || d.InactConns() != 0 {
		t.Fatalf("not expired: count=%d inact=%d", e.ConnCount(), d.InactConns())
	}
	// a reply after expiry is not translated
	if v := w.Out(out, &PacketInfo{TCPFlags: TCPAck}, 200*second); v.Action != ActionPass {
		t.Fatalf("reply after expiry: %+v", v)
	}
}
