package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvs"
)

// fakeDataplane counts syncs.
type fakeDataplane struct {
	mu    sync.Mutex
	syncs int
}

func (f *fakeDataplane) Start(context.Context) error { return nil }
func (f *fakeDataplane) Sync() error {
	f.mu.Lock()
	f.syncs++
	f.mu.Unlock()
	return nil
}
func (f *fakeDataplane) SetVIPs([]netip.Addr)                     {}
func (f *fakeDataplane) Interfaces() []string                     { return nil }
func (f *fakeDataplane) Workers() int                             { return 0 }
func (f *fakeDataplane) WorkerPackets() (received, sent []uint64) { return nil, nil }
func (f *fakeDataplane) Drops() map[string]uint64                 { return nil }
func (f *fakeDataplane) ReceiveDelay() ([]time.Duration, []uint64, time.Duration) {
	return nil, nil, 0
}
func (f *fakeDataplane) FastPath() (uint64, map[string]uint64, bool) { return 0, nil, false }
func (f *fakeDataplane) Close() error                                { return nil }
func (f *fakeDataplane) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestDaemon(t *testing.T, opts Options) (*Daemon, *fakeDataplane, *logBuf) {
	t.Helper()
	fdp := &fakeDataplane{}
	lb := &logBuf{}
	opts.Logger = slog.New(slog.NewTextHandler(lb, nil))
	opts.NewDataplane = func(*ipvs.Engine, *config.Config, *slog.Logger) (Dataplane, error) { return fdp, nil }
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.health.Stop)
	return d, fdp, lb
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	svcKey = ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}
	rs1    = netip.MustParseAddr("127.0.0.1")
)

func TestHealthTarget(t *testing.T) {
	d, fdp, _ := newTestDaemon(t, Options{})
	if err := d.eng.AddService(ipvs.ServiceConfig{ServiceKey: svcKey, Scheduler: "wlc", Netmask: 0xffffffff}); err != nil {
		t.Fatal(err)
	}
	tg := healthTarget{d}
	dc := ipvs.DestConfig{Addr: rs1, Port: 80, Weight: 5, Forwarding: ipvs.Forwarding{Method: ipvs.Masq}}
	steps := []struct {
		what      string
		call      func() error
		code      ipvs.Code // expected error code, 0: success
		syncAfter bool
	}{
		{"add", func() error { return tg.AddDest(svcKey, dc) }, 0, true},
		{"add again", func() error { return tg.AddDest(svcKey, dc) }, ipvs.ErrExist, false},
		{"weight only", func() error { c := dc; c.Weight = 2; return tg.EditDest(svcKey, c) }, 0, false},
		{"method", func() error { c := dc; c.Forwarding.Method = ipvs.Route; return tg.EditDest(svcKey, c) }, 0, true},
		{"expire", func() error { return tg.ExpireDestConns(svcKey, rs1, 80) }, 0, true}, // the fast path may hold them
		{"delete", func() error { return tg.DelDest(svcKey, rs1, 80) }, 0, true},
		{"delete again", func() error { return tg.DelDest(svcKey, rs1, 80) }, ipvs.ErrNotFound, false},
		{"edit missing", func() error { return tg.EditDest(svcKey, dc) }, ipvs.ErrNotFound, false},
		{"no service", func() error { k := svcKey; k.Port = 81; return tg.AddDest(k, dc) }, ipvs.ErrNoService, false},
	}
	for _, s := range steps {
		before := fdp.count()
		err := s.call()
		if got := ipvs.CodeOf(err); got != s.code || (s.code == 0) != (err == nil) {
			t.Fatalf("%s: error %v (code %v), want code %v", s.what, err, got, s.code)
		}
		var ee *ipvs.Error
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s: %T is not the engine's error", s.what, err)
		}
		if synced := fdp.count() > before; synced != s.syncAfter {
			t.Fatalf("%s: synced %v, want %v", s.what, synced, s.syncAfter)
		}
	}
	if err := tg.AddDest(svcKey, dc); err != nil {
		t.Fatal(err)
	}
	got, err := tg.Dests(svcKey)
	if err != nil || len(got) != 1 || got[0] != dc {
		t.Fatalf("Dests: %v %v", got, err)
	}
}

// TestHealthTargetSerialized: the target's calls wait for the daemon's
// lock (reloads, API changes).
func TestHealthTargetSerialized(t *testing.T) {
	d, _, _ := newTestDaemon(t, Options{})
	if err := d.eng.AddService(ipvs.ServiceConfig{ServiceKey: svcKey, Scheduler: "wlc", Netmask: 0xffffffff}); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	done := make(chan error)
	go func() {
		done <- healthTarget{d}.AddDest(svcKey, ipvs.DestConfig{Addr: rs1, Port: 80, Weight: 1, Forwarding: ipvs.Forwarding{Method: ipvs.Masq}})
	}()
	select {
	case err := <-done:
		t.Fatalf("AddDest ran while the daemon held its lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	d.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestReconcileLeavesCheckedDests(t *testing.T) {
	eng, err := ipvs.New(ipvs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`services:
  - {protocol: tcp, address: 192.0.2.1, port: 80, check: {type: tcp}, real_servers: [{address: 10.0.0.1, port: 80, forward: masq}]}
  - {protocol: tcp, address: 192.0.2.2, port: 80, real_servers: [{address: 10.0.0.1, port: 80, forward: masq}]}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Reconcile(eng, cfg, nil); err != nil {
		t.Fatal(err)
	}
	checked := normalized(cfg.Services[0].Key())
	plain := normalized(cfg.Services[1].Key())
	dests := func(k ipvs.ServiceKey) []string {
		st, err := eng.ServiceStatus(k)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range st.Dests {
			out = append(out, fmt.Sprintf("%s:%d/%d", d.Addr, d.Port, d.Weight))
		}
		return out
	}
	if got := dests(checked); len(got) != 0 {
		t.Fatalf("checked service got destinations from Reconcile: %v", got)
	}
	if got := dests(plain); len(got) != 1 {
		t.Fatalf("unchecked service: %v", got)
	}
	// what the Manager did (a server at a ramped weight, a failed one gone)
	// survives a reconciliation; the unchecked service is put back
	if err := eng.AddDest(checked, ipvs.DestConfig{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 3, Forwarding: ipvs.Forwarding{Method: ipvs.Masq}}); err != nil {
		t.Fatal(err)
	}
	if err := eng.DelDest(plain, netip.MustParseAddr("10.0.0.1"), 80); err != nil {
		t.Fatal(err)
	}
	changes, err := Reconcile(eng, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := dests(checked); len(got) != 1 || got[0] != "10.0.0.1:80/3" {
		t.Fatalf("Reconcile touched a checked service's destinations: %v", got)
	}
	if len(changes) != 1 || changes[0].Op != "add-dest" || changes[0].Service != plain {
		t.Fatalf("changes: %+v", changes)
	}
}

// listener accepts TCP connections on loopback until the test ends.
func listener(t *testing.T) (*net.TCPListener, uint16) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln, uint16(ln.Addr().(*net.TCPAddr).Port)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out: " + what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDaemonHealthLifecycle: the Manager gets the checked services at
// start, owns their destinations (a dead one goes), reloads update it, and
// a service that stops being checked gets its configured destinations back.
func TestDaemonHealthLifecycle(t *testing.T) {
	_, up := listener(t)
	dead, deadPort := listener(t)
	dead.Close() // refuses connections
	yaml := func(check string) string {
		return fmt.Sprintf(`services:
  - protocol: tcp
    address: 192.0.2.1
    port: 80
    %s
    real_servers:
      - {address: 127.0.0.1, port: %d, forward: masq, weight: 4}
      - {address: 127.0.0.1, port: %d, forward: masq, weight: 4}
`, check, up, deadPort)
	}
	file := writeFile(t, "gvsd.yaml", yaml("check: {type: tcp, interval: 50ms, timeout: 500ms}"))
	d, _, _ := newTestDaemon(t, Options{ConfigFile: file})
	inEngine := func() map[uint16]int32 {
		st, err := d.eng.ServiceStatus(svcKey)
		if err != nil {
			t.Fatal(err)
		}
		out := map[uint16]int32{}
		for _, ds := range st.Dests {
			out[ds.Port] = ds.Weight
		}
		return out
	}
	if n := len(inEngine()); n != 0 {
		t.Fatalf("destinations before the Manager started: %d", n)
	}
	if err := d.startHealth(d.cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dead server removed, the live one kept", func() bool {
		e := inEngine()
		_, deadIn := e[deadPort]
		hs, _ := d.Health(context.Background())
		checked := len(hs) == 1 && len(hs[0].Dests) == 2 && !hs[0].Dests[0].LastCheck.IsZero() && !hs[0].Dests[1].LastCheck.IsZero()
		return e[up] == 4 && !deadIn && checked
	})
	hs, err := d.Health(context.Background())
	if err != nil || len(hs) != 1 || len(hs[0].Dests) != 2 {
		t.Fatalf("Health: %+v %v", hs, err)
	}
	for _, dh := range hs[0].Dests {
		wantUp := dh.Port == up
		if dh.InPool != wantUp || (dh.State == health.Up) != wantUp || (!wantUp && (dh.LastError == "" || dh.Transitions != 1)) {
			t.Fatalf("listing: %+v", dh)
		}
	}
	// reload without checks: the file's destinations come back
	if err := os.WriteFile(file, []byte(yaml("")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if e := inEngine(); len(e) != 2 {
		t.Fatalf("after the checks were removed: %v", e)
	}
	if hs, _ := d.Health(context.Background()); len(hs) != 0 {
		t.Fatalf("still checked: %+v", hs)
	}
	// and checks again: the Manager adopts the service and removes the dead one
	if err := os.WriteFile(file, []byte(yaml("check: {type: tcp, interval: 50ms, timeout: 500ms}")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dead server removed again", func() bool { return len(inEngine()) == 1 })
	// an invalid check rejects the reload whole
	if err := os.WriteFile(file, []byte(yaml("check: {type: nosuch}")), 0o644); err != nil {
		t.Fatal(err)
	}
	err = d.Reload()
	if err == nil || !strings.Contains(err.Error(), "gvsd.yaml:") || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("invalid check: %v", err)
	}
	if hs, _ := d.Health(context.Background()); len(hs) != 1 {
		t.Fatalf("a rejected reload changed the checks: %+v", hs)
	}
}

const keepalivedConf = `global_defs {
    router_id LVS_TEST
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.1
    }
}
virtual_server 192.0.2.1 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    ha_suspend
    real_server 127.0.0.1 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`

func TestKeepalivedConf(t *testing.T) {
	conf := writeFile(t, "keepalived.conf", keepalivedConf)
	_, err := New(Options{KeepalivedConf: conf, Logger: slog.New(slog.NewTextHandler(&logBuf{}, nil))})
	var be *BlockingError
	if !errors.As(err, &be) || len(be.Lines) != 1 || !strings.Contains(be.Lines[0], "keepalived.conf:18: ha_suspend") ||
		!strings.Contains(err.Error(), "--ignore") {
		t.Fatalf("unsupported keyword: %v", err)
	}
	d, _, log := newTestDaemon(t, Options{KeepalivedConf: conf, Ignore: []string{"ha_suspend"}})
	if len(d.cfg.Services) != 1 || !health.Checked(&d.cfg.Services[0]) {
		t.Fatalf("services: %+v", d.cfg.Services)
	}
	for _, want := range []string{"keepalived.conf:4: vrrp_instance", "failover", "keepalived.conf:1: global_defs"} {
		if !strings.Contains(log.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, log.String())
		}
	}
	// the YAML file adds its own services; a service defined twice is refused
	yaml := writeFile(t, "gvsd.yaml", "services:\n  - {protocol: tcp, address: 192.0.2.2, port: 80}\n")
	d2, _, _ := newTestDaemon(t, Options{ConfigFile: yaml, KeepalivedConf: conf, Ignore: []string{"all"}})
	if len(d2.cfg.Services) != 2 {
		t.Fatalf("merged services: %d", len(d2.cfg.Services))
	}
	dup := writeFile(t, "dup.yaml", "services:\n  - {protocol: tcp, address: 192.0.2.1, port: 80}\n")
	if _, err := New(Options{ConfigFile: dup, KeepalivedConf: conf, Ignore: []string{"all"}, Logger: slog.New(slog.NewTextHandler(&logBuf{}, nil))}); err == nil ||
		!strings.Contains(err.Error(), "already defined") {
		t.Fatalf("a service in both files: %v", err)
	}
	if err := d2.SaveConfig(context.Background()); err == nil {
		t.Fatal("SaveConfig wrote keepalived's services into the YAML file")
	}
}
