package sched

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// Test harness shared by the scheduler tests.
//
// A harness is an engine with one TCP service 10.0.0.1:80 and real servers
// rs1, rs2, ... (10.0.11.2, 10.0.12.2, ... as in the oracle) added in that
// order, so the kernel's list order is newest first: rsN ... rs1.
//
// Two ways to drive a scheduler:
//   - through the engine (newHarness with the scheduler's name): connections
//     are scheduled by the service's own instance;
//   - directly (newHarness with pinScheduler, then h.pick(s)): the service
//     places connections where the test says (Flow.Mark names the server),
//     which sets up exact ActiveConn/InActConn counts, and the test calls
//     an instance of the scheduler under test itself.

// pinScheduler places each connection on the server whose number is the
// flow's Mark (rs<Mark>), so tests can set up any load.
const pinScheduler = "gvs-test-pin"

func init() {
	ipvs.RegisterScheduler(pinScheduler, func(*ipvs.Service) (ipvs.Scheduler, error) { return pin{}, nil })
}

type pin struct{}

func (pin) Schedule(svc *ipvs.Service, f *ipvs.Flow, _ int64) *ipvs.Dest {
	for _, d := range svc.Dests() {
		if a := d.Addr(); a[14] == byte(10+f.Mark) {
			return d
		}
	}
	return nil
}

var (
	testVIP = netip.MustParseAddr("10.0.0.1")
	testSvc = ipvs.ServiceKey{Protocol: ipvs.ProtoTCP, Addr: testVIP, Port: 80}
)

func rsAddr(n int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(10 + n), 2}) }

type harness struct {
	t     testing.TB
	e     *ipvs.Engine
	w     *ipvs.Worker
	svc   *ipvs.Service
	now   int64
	sport uint16
	nrs   int         // real servers added by add
	conns []ipvs.Flow // held connections, by open order
}

func newHarness(t testing.TB, sched string, flags ipvs.ServiceFlags, weights ...int32) *harness {
	t.Helper()
	opts := ipvs.KernelOptions()
	e, err := ipvs.New(ipvs.Config{HashSeed: 1, MaxConns: 1 << 18, Options: &opts})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddService(ipvs.ServiceConfig{ServiceKey: testSvc, Scheduler: sched, Flags: flags}); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, e: e, w: e.NewWorker(), sport: 1024}
	for _, w := range weights {
		h.add(w)
	}
	if h.svc, err = e.Service(testSvc); err != nil {
		t.Fatal(err)
	}
	return h
}

// add adds the next real server (rs1, rs2, ... in call order) with weight w.
func (h *harness) add(w int32) {
	h.t.Helper()
	h.nrs++
	h.addRS(h.nrs, w)
}

func (h *harness) addRS(n int, w int32) {
	h.t.Helper()
	if err := h.e.AddDest(testSvc, ipvs.DestConfig{Addr: rsAddr(n), Port: 80, Weight: w}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) dest(n int) *ipvs.Dest {
	h.t.Helper()
	for _, d := range h.svc.Dests() {
		if d.NetAddr() == rsAddr(n) {
			return d
		}
	}
	h.t.Fatalf("no rs%d", n)
	return nil
}

// edit changes rs<n>'s settings.
func (h *harness) edit(n int, change func(*ipvs.DestConfig)) {
	h.t.Helper()
	cfg := h.dest(n).Config()
	change(&cfg)
	if err := h.e.EditDest(testSvc, cfg); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) weight(n int, w int32) { h.edit(n, func(c *ipvs.DestConfig) { c.Weight = w }) }

// overload sets rs<n>'s upper threshold to its current connection count
// (at least one), which raises its overload flag.
func (h *harness) overload(n int) {
	h.t.Helper()
	d := h.dest(n)
	total := uint32(d.ActiveConns() + d.InactConns())
	if total == 0 {
		h.t.Fatalf("rs%d has no connection to be overloaded with", n)
	}
	h.edit(n, func(c *ipvs.DestConfig) { c.UThreshold = total })
	if !d.Overloaded() {
		h.t.Fatalf("rs%d not overloaded", n)
	}
}

func (h *harness) del(n int) {
	h.t.Helper()
	if err := h.e.DelDest(testSvc, rsAddr(n), 80); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) tick() int64 {
	h.now += 1e6
	return h.now
}

// flow is the next client flow: 192.0.2.1 with a fresh source port.
func (h *harness) flow() ipvs.Flow {
	h.sport++
	return ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom4([4]byte{192, 0, 2, 1}),
		SrcPort: h.sport, Dst: ipvs.AddrFrom(testVIP), DstPort: 80}
}

// connect opens a connection (SYN, SYN-ACK, ACK) scheduled by the
// service's scheduler (mark 0) or pinned to rs<mark>; it stays ESTABLISHED
// (active) unless closed. It returns the server's name, "" if refused.
func (h *harness) connect(f ipvs.Flow, closed bool) string {
	h.t.Helper()
	v := h.w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn}, h.tick())
	if v.Action != ipvs.ActionForward {
		return ""
	}
	out := ipvs.Flow{Family: f.Family, Protocol: f.Protocol, Src: v.Dest, SrcPort: v.DestPort, Dst: f.Src, DstPort: f.SrcPort}
	h.w.Out(&out, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn | ipvs.TCPAck}, h.tick())
	h.w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPAck}, h.tick())
	if closed {
		h.w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPFin | ipvs.TCPAck}, h.tick())
		h.w.Out(&out, &ipvs.PacketInfo{TCPFlags: ipvs.TCPFin | ipvs.TCPAck}, h.tick())
		h.w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPAck}, h.tick())
	} else {
		h.conns = append(h.conns, f)
	}
	return rsName(v.Dest)
}

// next schedules n connections through the service's scheduler and
// returns the servers chosen ("-" for a refusal).
func (h *harness) next(n int, closed bool) string {
	h.t.Helper()
	var s []string
	for i := 0; i < n; i++ {
		name := h.connect(h.flow(), closed)
		if name == "" {
			name = "-"
		}
		s = append(s, name)
	}
	return strings.Join(s, " ")
}

// load opens active (held) and inactive (closed) connections on rs<n>;
// the service must use pinScheduler.
func (h *harness) load(n, active, inactive int) {
	h.t.Helper()
	for i := 0; i < active+inactive; i++ {
		f := h.flow()
		f.Mark = uint32(n)
		if got := h.connect(f, i >= active); got != fmt.Sprintf("rs%d", n) {
			h.t.Fatalf("pinned connection went to %q, not rs%d", got, n)
		}
	}
}

// pick calls scheduler s directly, the way the engine would for a new
// connection from f (the next client flow when f is nil), and names the
// choice ("-" for none).
func (h *harness) pick(s ipvs.Scheduler, f *ipvs.Flow) string {
	if f == nil {
		fl := h.flow()
		f = &fl
	}
	d := s.Schedule(h.svc, f, h.tick())
	if d == nil {
		return "-"
	}
	return rsName(d.Addr())
}

// picks calls pick n times.
func (h *harness) picks(s ipvs.Scheduler, n int) string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, h.pick(s, nil))
	}
	return strings.Join(out, " ")
}

// instance creates the named scheduler for the harness's service, bound
// as the engine binds one (its DestUpdater runs once).
func (h *harness) instance(name string) ipvs.Scheduler {
	h.t.Helper()
	return newScheduler(h.t, name, h.svc)
}

// update tells s the destination list changed, as the engine does.
func (h *harness) update(s ipvs.Scheduler) {
	if u, ok := s.(ipvs.DestUpdater); ok {
		u.UpdateDests(h.svc)
	}
}

// newScheduler builds a registered scheduler by name for svc.
func newScheduler(t testing.TB, name string, svc *ipvs.Service) ipvs.Scheduler {
	t.Helper()
	f, ok := constructors[name]
	if !ok {
		t.Fatalf("no scheduler %q", name)
	}
	s := f(svc)
	if u, ok := s.(ipvs.DestUpdater); ok {
		u.UpdateDests(svc)
	}
	return s
}

func expect(t testing.TB, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got  %s\n want %s", what, got, want)
	}
}
