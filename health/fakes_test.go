package health

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

// ---- manual clock ----

type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers map[int]*fakeTimer
}

type fakeTimer struct {
	at  time.Time
	seq int
	f   func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), timers: map[int]*fakeTimer{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := c.seq
	c.timers[id] = &fakeTimer{at: c.now.Add(d), seq: id, f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

// advance moves time forward, firing due timers in order (each in the
// caller's goroutine, with time set to its due instant).
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.at.After(end) && (next == nil || t.at.Before(next.at) || (t.at.Equal(next.at) && t.seq < next.seq)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		delete(c.timers, next.seq)
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// ---- recording target ----

type fakeTarget struct {
	mu    sync.Mutex
	dests map[ipvs.ServiceKey]map[netip.AddrPort]ipvs.DestConfig
	calls []string
	fail  error // every call fails with it when set
}

func newFakeTarget() *fakeTarget {
	return &fakeTarget{dests: map[ipvs.ServiceKey]map[netip.AddrPort]ipvs.DestConfig{}}
}

func (f *fakeTarget) record(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakeTarget) AddDest(k ipvs.ServiceKey, d ipvs.DestConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	ap := netip.AddrPortFrom(d.Addr, d.Port)
	if f.dests[k] == nil {
		f.dests[k] = map[netip.AddrPort]ipvs.DestConfig{}
	}
	if _, ok := f.dests[k][ap]; ok {
		return &ipvs.Error{Op: ipvs.OpAddDest, Code: ipvs.ErrExist}
	}
	f.dests[k][ap] = d
	f.record("add %s w=%d", ap, d.Weight)
	return nil
}

func (f *fakeTarget) EditDest(k ipvs.ServiceKey, d ipvs.DestConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	ap := netip.AddrPortFrom(d.Addr, d.Port)
	if _, ok := f.dests[k][ap]; !ok {
		return &ipvs.Error{Op: ipvs.OpEditDest, Code: ipvs.ErrNotFound}
	}
	f.dests[k][ap] = d
	f.record("edit %s w=%d", ap, d.Weight)
	return nil
}

func (f *fakeTarget) DelDest(k ipvs.ServiceKey, a netip.Addr, p uint16) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	ap := netip.AddrPortFrom(a, p)
	if _, ok := f.dests[k][ap]; !ok {
		return &ipvs.Error{Op: ipvs.OpDelDest, Code: ipvs.ErrNotFound}
	}
	delete(f.dests[k], ap)
	f.record("del %s", ap)
	return nil
}

func (f *fakeTarget) ExpireDestConns(k ipvs.ServiceKey, a netip.Addr, p uint16) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.record("expire %s", netip.AddrPortFrom(a, p))
	return nil
}

// take returns and forgets the calls so far.
func (f *fakeTarget) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// pool lists a service's destinations as "addr:port=weight", sorted.
func (f *fakeTarget) pool(k ipvs.ServiceKey) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for ap, d := range f.dests[k] {
		out = append(out, fmt.Sprintf("%s=%d", ap, d.Weight))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// ---- scripted checks ----

// script decides each destination's result (keyed by server addr:port);
// type "fake" checks consult it.
type scripted struct {
	mu      sync.Mutex
	results map[string]Result
	calls   map[string]int
}

func newScripted() *scripted {
	return &scripted{results: map[string]Result{}, calls: map[string]int{}}
}

func (s *scripted) set(server string, r Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[server] = r
}

func (s *scripted) count(server string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[server]
}

func (s *scripted) factory(c *config.Check) (Checker, error) {
	if c.Type != "fake" {
		return NewChecker(c)
	}
	return CheckerFunc(func(ctx context.Context, e Endpoint) Result {
		k := fmtAddrPort(e.ServerAddr, e.ServerPort)
		s.mu.Lock()
		s.calls[k]++
		r, ok := s.results[k]
		s.mu.Unlock()
		if !ok {
			return up()
		}
		if r.Err != nil && r.Err.Error() == "panic" {
			panic("scripted panic")
		}
		return r
	}), nil
}

// ---- harness ----

type harness struct {
	t   *testing.T
	m   *Manager
	clk *fakeClock
	tgt *fakeTarget
	sc  *scripted
	log *strings.Builder
	lmu *sync.Mutex
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func newHarness(t *testing.T, services ...config.Service) *harness {
	t.Helper()
	h := &harness{t: t, clk: newFakeClock(), tgt: newFakeTarget(), sc: newScripted(), log: &strings.Builder{}, lmu: &sync.Mutex{}}
	logger := slog.New(slog.NewTextHandler(syncWriter{h.lmu, h.log}, nil))
	h.m = New(h.tgt, Options{Logger: logger, Workers: 1, NewChecker: h.sc.factory, clock: h.clk, noJitter: true})
	t.Cleanup(h.m.Stop)
	if err := h.m.Update(services); err != nil {
		t.Fatal(err)
	}
	return h
}

// step advances the clock and waits for the checks it made due.
func (h *harness) step(d time.Duration) {
	h.clk.advance(d)
	h.m.pool.waitIdle()
}

func (h *harness) logs() string {
	h.lmu.Lock()
	defer h.lmu.Unlock()
	return h.log.String()
}

func (h *harness) status(server string) DestHealth {
	h.t.Helper()
	for _, s := range h.m.Status() {
		for _, d := range s.Dests {
			if netip.AddrPortFrom(d.Addr, d.Port).String() == server {
				return d
			}
		}
	}
	h.t.Fatalf("no status for %s", server)
	return DestHealth{}
}

func (h *harness) wantCalls(want ...string) {
	h.t.Helper()
	got := h.tgt.take()
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		h.t.Fatalf("target calls:\n got  %q\n want %q", got, want)
	}
}

// ---- configuration builders ----

var vip = netip.MustParseAddr("192.0.2.10")

var svcKey = ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: vip, Port: 80}

func rs(addr string, weight int32) config.RealServer {
	return config.RealServer{Address: config.Addr(netip.MustParseAddr(addr)), Port: 80, Weight: &weight}
}

func svc(check *config.Check, h config.Health, servers ...config.RealServer) config.Service {
	return config.Service{Name: "web", Protocol: config.Protocol(ipvs.ProtoTCP), Address: config.Addr(vip), Port: 80,
		Check: check, Health: h, RealServers: servers}
}

func fakeCheck(mod ...func(*config.Check)) *config.Check {
	c := &config.Check{Type: "fake", Interval: config.Duration(time.Second), Timeout: config.Duration(time.Second)}
	for _, f := range mod {
		f(c)
	}
	return c
}

var (
	downR = Result{Health: Down, Err: fmt.Errorf("refused")}
	upR   = Result{Health: Up}
)
