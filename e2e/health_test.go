package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvsadm"
	"github.com/govs/gvs/lab"
)

// The health tests run gvsd's health checks against the lab's real
// servers (nginx) and test helpers listening in the real servers'
// namespaces. Intervals are a few hundred milliseconds so the file runs in
// well under a minute.

var healthVIP = lab.VIP(0, false) // NAT, as in the forwarding matrix

func rsAddr(n int) netip.Addr { return lab.RealServer(n, false) }

// healthList is gvsadm -L --health --json.
func healthList(t *testing.T, d *lab.Director) []health.ServiceHealth {
	t.Helper()
	out := adm(t, d, "-L", "--health", "--json")
	var doc ipvsadm.JSONHealth
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("gvsadm -L --health --json: %v\n%s", err, out)
	}
	return doc.Health
}

// destOf returns real server n's health in the (first) checked service.
func destOf(list []health.ServiceHealth, n int) (health.DestHealth, bool) {
	for _, s := range list {
		for _, d := range s.Dests {
			if d.Addr == rsAddr(n) || d.Addr == lab.RealServer(n, true) {
				return d, true
			}
		}
	}
	return health.DestHealth{}, false
}

// eventually polls cond every 50 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// engineWeight returns real server n's weight in gvsadm -Ln (the engine),
// or -1 when the engine does not list it.
func engineWeight(t *testing.T, d *lab.Director, n int, port int) int {
	t.Helper()
	block := serviceBlock(adm(t, d, "-Ln"), netip.AddrPortFrom(healthVIP, lab.HTTPPort))
	want := netip.AddrPortFrom(rsAddr(n), uint16(port)).String()
	for _, line := range block[1:] {
		f := strings.Fields(line) // -> addr forward weight active inactive
		if len(f) >= 4 && f[1] == want {
			w, _ := strconv.Atoi(f[3])
			return w
		}
	}
	return -1
}

// restartNginxAfter makes sure the shared lab's nginx runs again on the
// given real servers when the test ends.
func restartNginxAfter(t *testing.T, l *lab.Lab, servers ...int) {
	t.Cleanup(func() {
		for _, n := range servers {
			c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := l.StartNginx(c, n); err != nil {
				t.Errorf("restarting nginx on rs%d: %v", n, err)
			}
			cancel()
		}
	})
}

// get fetches http://VIP/ once from the client, on a new connection.
func get(t *testing.T, l *lab.Lab) (string, error) {
	out, err := l.HTTPGet(ctx(t), lab.Client(0, false).String(), url(healthVIP, lab.HTTPPort, "/"))
	return strings.TrimSpace(out), err
}

// ---- client load ----

type request struct {
	start, end time.Time
	server     string
	err        error
}

type load struct {
	mu   sync.Mutex
	reqs []request
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// startLoad runs workers that each fetch http://VIP/ in a loop, one new
// connection (Connection: close) per request, from distinct client
// addresses.
func startLoad(l *lab.Lab, workers int) *load {
	ld := &load{stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		ld.wg.Add(1)
		go func(w int) {
			defer ld.wg.Done()
			tr := &http.Transport{DialContext: l.DialContext("client", lab.Client(w%lab.Clients, false)), DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
			for {
				select {
				case <-ld.stop:
					return
				default:
				}
				r := request{start: time.Now()}
				resp, err := hc.Get(url(healthVIP, lab.HTTPPort, "/"))
				if err == nil {
					var b [64]byte
					n, _ := resp.Body.Read(b[:])
					resp.Body.Close()
					r.server = strings.TrimSpace(string(b[:n]))
					if resp.StatusCode != 200 {
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
				}
				r.err, r.end = err, time.Now()
				ld.mu.Lock()
				ld.reqs = append(ld.reqs, r)
				ld.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}(w)
	}
	return ld
}

func (ld *load) finish() []request {
	ld.once.Do(func() { close(ld.stop) })
	ld.wg.Wait()
	return ld.snapshot()
}

func (ld *load) snapshot() []request {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return append([]request(nil), ld.reqs...)
}

func servedBy(reqs []request, from time.Time) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		if !r.start.Before(from) && r.err == nil {
			out[r.server]++
		}
	}
	return out
}

// TestHealthFailover: nginx stops on one real server under a steady
// client load; within interval × fall + 1 s no new connection goes to it
// and no request fails after that moment; it starts again and returns,
// its weight ramping up (slow start).
func TestHealthFailover(t *testing.T) {
	const (
		interval = 300 * time.Millisecond
		fall     = 2
	)
	window := interval*fall + time.Second
	d := director(t, fmt.Sprintf(`services:
  - protocol: tcp
    address: %q
    port: 80
    scheduler: wrr
    check: {type: http, interval: %s, timeout: 500ms, fall: %d, rise: 2, http: {path: /, status: [200]}}
    health: {slow_start: 3s}
    real_servers:
      - {address: %q, port: 80, forward: masq, weight: 10}
      - {address: %q, port: 80, forward: masq, weight: 10}
      - {address: %q, port: 80, forward: masq, weight: 10}
`, healthVIP, interval, fall, rsAddr(1), rsAddr(2), rsAddr(3)))
	l := d.Lab
	restartNginxAfter(t, l, 2)
	eventually(t, 5*time.Second, "three real servers up and in the pool", func() bool {
		n := 0
		for i := 1; i <= 3; i++ {
			if dh, ok := destOf(healthList(t, d), i); ok && dh.State == health.Up && dh.InPool {
				n++
			}
		}
		return n == 3
	})

	ld := startLoad(l, 4)
	defer ld.finish()
	time.Sleep(time.Second) // warm-up: every server takes requests
	if by := servedBy(ld.snapshot(), time.Time{}); by["rs1"] == 0 || by["rs2"] == 0 || by["rs3"] == 0 {
		t.Fatalf("before the failure the load did not reach every server: %v", by)
	}

	t0 := time.Now()
	l.StopNginx(2)
	time.Sleep(window + 2*time.Second) // the window, then two seconds of load to judge
	reqs := ld.snapshot()
	deadline := t0.Add(window)
	var after, failed int
	for _, r := range reqs {
		if r.start.Before(deadline) {
			continue
		}
		after++
		if r.err != nil || r.server == "rs2" {
			failed++
			if failed <= 5 {
				t.Errorf("request at t0+%v (window %v): server %q, error %v", r.start.Sub(t0).Round(time.Millisecond), window, r.server, r.err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d requests after the window failed or reached the stopped server", failed, after)
	}
	if after < 50 {
		t.Fatalf("only %d requests after the window: the load is not steady", after)
	}
	var lastBad time.Duration
	for _, r := range reqs {
		if !r.start.Before(t0) && (r.err != nil || r.server == "rs2") {
			lastBad = max(lastBad, r.start.Sub(t0))
		}
	}
	t.Logf("stopped rs2: last failed request began t0+%v (window %v); %d requests after the window, all served by rs1/rs3",
		lastBad.Round(time.Millisecond), window, after)
	dh, _ := destOf(healthList(t, d), 2)
	if dh.State != health.Down || dh.InPool || dh.Transitions < 1 || dh.LastError == "" || dh.LastCheck.IsZero() {
		t.Fatalf("listing of the stopped server: %+v", dh)
	}
	if w := engineWeight(t, d, 2, 80); w != -1 {
		t.Fatalf("the engine still lists rs2 (weight %d)", w)
	}

	// back: rise checks, then a slow start from weight 1 up to 10
	t1 := time.Now()
	if err := l.StartNginx(ctx(t), 2); err != nil {
		t.Fatal(err)
	}
	var ramp []int32
	eventually(t, 2*time.Second+4*time.Second, "rs2 back at its full weight after the slow start", func() bool {
		dh, _ := destOf(healthList(t, d), 2)
		if dh.InPool && (len(ramp) == 0 || ramp[len(ramp)-1] != dh.Weight) {
			ramp = append(ramp, dh.Weight)
		}
		return dh.InPool && dh.Weight == 10 && !dh.SlowStart
	})
	t.Logf("rs2 back after %v, weights seen in the engine: %v", time.Since(t1).Round(time.Millisecond), ramp)
	intermediate := false
	for _, w := range ramp {
		if w > 0 && w < 10 {
			intermediate = true
		}
	}
	if !intermediate || ramp[0] >= 10 {
		t.Fatalf("no slow start: weights %v", ramp)
	}
	time.Sleep(500 * time.Millisecond)
	reqs = ld.finish()
	if by := servedBy(reqs, time.Now().Add(-time.Second)); by["rs2"] == 0 {
		t.Fatalf("rs2 takes no requests again: %v", by)
	}
	for _, r := range reqs {
		if !r.start.Before(deadline) && r.err != nil {
			t.Fatalf("request at t0+%v failed: %v", r.start.Sub(t0).Round(time.Millisecond), r.err)
		}
	}
	dh, _ = destOf(healthList(t, d), 2)
	if dh.Transitions < 2 {
		t.Fatalf("transitions %d, want 2 (down, up)", dh.Transitions)
	}
}

// TestHealthSorryServer: with every real server down the sorry server
// answers; one real server back and the sorry server leaves.
func TestHealthSorryServer(t *testing.T) {
	d := director(t, fmt.Sprintf(`services:
  - protocol: tcp
    address: %q
    port: 80
    scheduler: rr
    check: {type: tcp, interval: 200ms, timeout: 500ms}
    health:
      sorry_server: {address: %q, port: 8080, forward: masq}
    real_servers:
      - {address: %q, port: 80, forward: masq}
      - {address: %q, port: 80, forward: masq}
`, healthVIP, rsAddr(3), rsAddr(1), rsAddr(2)))
	l := d.Lab
	restartNginxAfter(t, l, 1, 2)
	sorry := netip.AddrPortFrom(rsAddr(3), 8080).String()
	eventually(t, 5*time.Second, "both real servers in the pool", func() bool {
		a, _ := destOf(healthList(t, d), 1)
		b, _ := destOf(healthList(t, d), 2)
		return a.InPool && b.InPool
	})
	if strings.Contains(adm(t, d, "-Ln"), sorry) {
		t.Fatal("the sorry server is in the pool while the real servers are healthy")
	}
	l.StopNginx(1)
	l.StopNginx(2)
	eventually(t, 3*time.Second, "the sorry server answers", func() bool {
		out, err := get(t, l)
		return err == nil && out == "rs3"
	})
	for i := 0; i < 4; i++ {
		if out, err := get(t, l); err != nil || out != "rs3" {
			t.Fatalf("with every real server down: %q %v", out, err)
		}
	}
	list := healthList(t, d)
	if len(list) != 1 || !list[0].SorryActive || list[0].QuorumUp {
		t.Fatalf("listing: %+v", list)
	}
	if err := l.StartNginx(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "the sorry server leaves", func() bool {
		return !strings.Contains(adm(t, d, "-Ln"), sorry)
	})
	for i := 0; i < 4; i++ {
		if out, err := get(t, l); err != nil || out != "rs1" {
			t.Fatalf("with rs1 back: %q %v", out, err)
		}
	}
	if list := healthList(t, d); list[0].SorryActive || !list[0].QuorumUp {
		t.Fatalf("listing: %+v", list[0])
	}
}

// TestHealthExecDynamic: an external check's exit code moves the
// destination: 0 up, 1 down, 2..255 up with weight code - 2 (dynamic).
func TestHealthExecDynamic(t *testing.T) {
	dir := t.TempDir()
	codeFile := filepath.Join(dir, "code")
	setCode := func(c int) {
		if err := os.WriteFile(codeFile+".tmp", []byte(strconv.Itoa(c)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(codeFile+".tmp", codeFile); err != nil {
			t.Fatal(err)
		}
	}
	setCode(0)
	d := director(t, fmt.Sprintf(`services:
  - protocol: tcp
    address: %[5]q
    port: 80
    scheduler: wrr
    health:
      notify_up: [/bin/sh, -c, 'echo "$GVS_EVENT $GVS_SERVER $GVS_WEIGHT" >> %[4]s']
      notify_down: [/bin/sh, -c, 'echo "$GVS_EVENT $GVS_SERVER" >> %[4]s']
    real_servers:
      - address: %[1]q
        port: 80
        forward: masq
        weight: 5
        check: {type: exec, interval: 200ms, timeout: 2s, exec: {command: [/bin/sh, -c, 'exit $(cat %[2]s)'], dynamic: true}}
      - {address: %[3]q, port: 80, forward: masq, weight: 5}
`, rsAddr(1), codeFile, rsAddr(2), filepath.Join(dir, "events"), healthVIP))
	for _, step := range []struct {
		code   int
		inPool bool
		weight int
	}{{0, true, 5}, {1, false, -1}, {9, true, 7}, {2, true, 0}, {1, false, -1}, {12, true, 10}} {
		setCode(step.code)
		eventually(t, 3*time.Second, fmt.Sprintf("exit %d: in the pool %v, weight %d", step.code, step.inPool, step.weight), func() bool {
			dh, _ := destOf(healthList(t, d), 1)
			return dh.InPool == step.inPool && (!step.inPool || int(dh.Weight) == step.weight)
		})
		if w := engineWeight(t, d, 1, 80); w != step.weight {
			t.Fatalf("exit %d: engine weight %d, want %d", step.code, w, step.weight)
		}
		if w := engineWeight(t, d, 2, 80); w != 5 {
			t.Fatalf("exit %d: the unchecked server's weight is %d", step.code, w)
		}
	}
	out := adm(t, d, "-L", "--health")
	if !strings.Contains(out, "exec") || !strings.Contains(out, rsAddr(1).String()+":80") {
		t.Fatalf("gvsadm -L --health:\n%s", out)
	}
	// every transition ran the notification commands, with the GVS_* variables
	want := fmt.Sprintf("server-down %[1]s:80\nserver-up %[1]s:80 7\nserver-down %[1]s:80\nserver-up %[1]s:80 10\n", rsAddr(1))
	eventually(t, 2*time.Second, "notifications: "+want, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "events"))
		return string(b) == want
	})
}

// listenIn listens on TCP port in a real server's namespace.
func listenIn(t *testing.T, l *lab.Lab, n, port int) net.Listener {
	t.Helper()
	var ln net.Listener
	err := l.Do(lab.RS(n), func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestHealthAgent: the real server's agent reports its load and the
// weight follows (HAProxy agent-check / feedbackd replies).
func TestHealthAgent(t *testing.T) {
	l := needLab(t)
	const agentPort = 10001
	var reply atomic.Value
	reply.Store("up 100%\n")
	ln := listenIn(t, l, 1, agentPort)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, reply.Load().(string))
			c.Close()
		}
	}()
	d := director(t, fmt.Sprintf(`services:
  - protocol: tcp
    address: %q
    port: 80
    scheduler: wlc
    real_servers:
      - address: %q
        port: 80
        forward: masq
        weight: 20
        check: {type: agent, interval: 200ms, timeout: 1s, agent: {port: %d}}
      - {address: %q, port: 80, forward: masq, weight: 20}
`, healthVIP, rsAddr(1), agentPort, rsAddr(2)))
	for _, step := range []struct {
		reply  string
		inPool bool
		weight int
	}{{"up 100%\n", true, 20}, {"load 50\n", true, 10}, {"25%\n", true, 5}, {"load=90\n", true, 2},
		{"drain\n", true, 0}, {"down # maintenance\n", false, -1}, {"up\n", true, 20}} {
		reply.Store(step.reply)
		eventually(t, 3*time.Second, fmt.Sprintf("agent %q: in the pool %v, weight %d", step.reply, step.inPool, step.weight), func() bool {
			dh, _ := destOf(healthList(t, d), 1)
			return dh.InPool == step.inPool && (!step.inPool || int(dh.Weight) == step.weight)
		})
		if w := engineWeight(t, d, 1, 80); w != step.weight {
			t.Fatalf("agent %q: engine weight %d, want %d", step.reply, w, step.weight)
		}
	}
}

// TestHealthHangingCheck: a server that accepts and never answers is
// timed out (down), and meanwhile the other destinations' checks keep
// their schedule.
func TestHealthHangingCheck(t *testing.T) {
	l := needLab(t)
	const hangPort = 7001
	ln := listenIn(t, l, 1, hangPort)
	var accepted atomic.Int64
	var held sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			held.Lock()
			conns = append(conns, c) // never answered, never closed by us
			held.Unlock()
		}
	}()
	t.Cleanup(func() {
		held.Lock()
		defer held.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	const interval = 200 * time.Millisecond
	d := director(t, fmt.Sprintf(`services:
  - protocol: tcp
    address: %q
    port: 80
    scheduler: rr
    check: {type: http, interval: %s, timeout: 1s, http: {path: /}}
    real_servers:
      - {address: %q, port: 80, forward: masq, check: {type: http, port: %d, interval: %s, timeout: 1s, http: {path: /}}}
      - {address: %q, port: 80, forward: masq}
      - {address: %q, port: 80, forward: masq}
`, healthVIP, interval, rsAddr(1), hangPort, interval, rsAddr(2), rsAddr(3)))
	took := eventually(t, 4*time.Second, "the hanging server is down", func() bool {
		dh, _ := destOf(healthList(t, d), 1)
		return dh.State == health.Down && !dh.InPool
	})
	dh, _ := destOf(healthList(t, d), 1)
	t.Logf("hanging server down after %v: %q (%d connections accepted, none answered)", took.Round(time.Millisecond), dh.LastError, accepted.Load())
	if accepted.Load() == 0 || dh.LastDuration < 900*time.Millisecond || dh.LastDuration > 2500*time.Millisecond {
		t.Fatalf("the check did not hang until its timeout: %d accepted, last check took %v", accepted.Load(), dh.LastDuration)
	}
	// for two seconds (two hanging checks' worth), every other check stays
	// on its schedule: never older than the interval plus slack
	end := time.Now().Add(2 * time.Second)
	var worst time.Duration
	firstOK := map[int]int{}
	for time.Now().Before(end) {
		list := healthList(t, d)
		now := time.Now()
		for _, n := range []int{2, 3} {
			dh, _ := destOf(list, n)
			if dh.State != health.Up || !dh.InPool {
				t.Fatalf("rs%d: %+v", n, dh)
			}
			worst = max(worst, now.Sub(dh.LastCheck))
			if _, ok := firstOK[n]; !ok {
				firstOK[n] = dh.Successes
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	list := healthList(t, d)
	for _, n := range []int{2, 3} {
		dh, _ := destOf(list, n)
		// about ten checks in two seconds at 200 ms
		if got := dh.Successes - firstOK[n]; got < 7 {
			t.Fatalf("rs%d: %d checks in 2s while the hanging check ran, want about 10", n, got)
		}
	}
	if worst > interval+400*time.Millisecond {
		t.Fatalf("a healthy server's last check was %v old (interval %v): the hanging check delayed it", worst, interval)
	}
	t.Logf("healthy servers' checks at most %v old while the hanging check ran", worst.Round(time.Millisecond))
}

// TestHealthKeepalivedConf: gvsd runs a keepalived.conf as it is: the
// virtual server balances, a stopped server fails out; the VRRP section is
// reported as left to the failover work.
func TestHealthKeepalivedConf(t *testing.T) {
	l := needLab(t)
	conf := filepath.Join(l.Dir, "health-keepalived.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`! keepalived.conf for the health e2e test
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        %[1]s
    }
}

virtual_server %[1]s 80 {
    delay_loop 0.3
    lb_algo rr
    lb_kind NAT
    protocol TCP

    real_server %[2]s 80 {
        weight 1
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
            retry 1
            delay_before_retry 0.1
        }
    }
    real_server %[3]s 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 0.1
        }
    }
}
`, healthVIP, rsAddr(1), rsAddr(2))), 0o644); err != nil {
		t.Fatal(err)
	}
	d := director(t, "# services from keepalived.conf\n", "--keepalived-conf", conf)
	restartNginxAfter(t, l, 2)
	eventually(t, 5*time.Second, "both real servers in the pool", func() bool {
		a, _ := destOf(healthList(t, d), 1)
		b, _ := destOf(healthList(t, d), 2)
		return a.InPool && b.InPool
	})
	seen := map[string]int{}
	for i := 0; i < 6; i++ {
		out, err := get(t, l)
		if err != nil {
			t.Fatal(err)
		}
		seen[out]++
	}
	if seen["rs1"] != 3 || seen["rs2"] != 3 {
		t.Fatalf("rr over the keepalived real servers: %v", seen)
	}
	l.StopNginx(2)
	// delay_loop 0.3 s, one retry 0.1 s later, fall 1: well within 2 s
	eventually(t, 2*time.Second, "the stopped server fails out", func() bool {
		dh, _ := destOf(healthList(t, d), 2)
		return !dh.InPool
	})
	for i := 0; i < 4; i++ {
		if out, err := get(t, l); err != nil || out != "rs1" {
			t.Fatalf("with rs2 stopped: %q %v", out, err)
		}
	}
	if log := d.Log(); !strings.Contains(log, "vrrp_instance") || !strings.Contains(log, "failover") {
		t.Fatalf("the VRRP section is not reported:\n%s", log)
	}
}

// TestHealthViaVIP: a via_vip check of DR and TUN real servers reaches
// each one addressed to the VIP (nginx's /whoami shows the local address
// the real server saw), through the director's path router (for tunnels,
// encapsulated by the data path's TC program; the real servers'
// decapsulator takes them in); a stopped server fails.
func TestHealthViaVIP(t *testing.T) {
	for _, m := range []struct {
		name, forward string
		v6            bool
	}{
		{"DR", "route", false},
		{"TUN ipip", "tunnel", false},
		{"TUN gue", "tunnel, tunnel: {type: gue, port: 6080}", false},
		{"TUN 6in6", "tunnel", true},
	} {
		t.Run(m.name, func(t *testing.T) { testHealthViaVIP(t, m.forward, m.v6) })
	}
}

func testHealthViaVIP(t *testing.T, forward string, v6 bool) {
	vip := lab.VIP(1, v6)
	// before gvsd starts, so the capture is running by the first checks
	// (no client traffic until it stops: what reaches rs1 encapsulated is
	// the checks')
	tunnelled, err := needLab(t).Capture(ctx(t), "rs1", "eth0", "ip proto 4 or ip6 proto 41 or udp dst port 6080")
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(500 * time.Millisecond) // tcpdump's start-up, generously
	d := director(t, fmt.Sprintf(`services:
  - protocol: tcp
    address: %[1]q
    port: 80
    scheduler: rr
    check: {type: http, via_vip: true, interval: 200ms, timeout: 500ms, http: {path: /whoami, regex: "local=%[1]s:80"}}
    real_servers:
      - {address: %[2]q, port: 80, forward: %[4]s}
      - {address: %[3]q, port: 80, forward: %[4]s}
`, vip, lab.RealServer(1, v6), lab.RealServer(2, v6), forward))
	l := d.Lab
	restartNginxAfter(t, l, 2)
	eventually(t, 5*time.Second, "both real servers checked up through the VIP (rs1 since the capture runs)", func() bool {
		n := 0
		for i := 1; i <= 2; i++ {
			if dh, ok := destOf(healthList(t, d), i); ok && dh.State == health.Up && dh.LastError == "" &&
				(i == 2 && !dh.LastCheck.IsZero() || dh.LastCheck.After(since)) {
				n++
			}
		}
		return n == 2
	})
	tunnelled.Stop()
	pkts, err := tunnelled.Packets(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if tunnel := strings.Contains(forward, "tunnel"); tunnel != (len(pkts) > 0) {
		t.Fatalf("%s real servers: %d encapsulated check packets reached rs1:\n%s", forward, len(pkts), strings.Join(pkts, "\n"))
	}
	l.StopNginx(2)
	eventually(t, 3*time.Second, "the stopped server fails its via_vip check", func() bool {
		dh, _ := destOf(healthList(t, d), 2)
		return dh.State == health.Down && !dh.InPool
	})
	if dh, _ := destOf(healthList(t, d), 1); dh.State != health.Up || !dh.InPool {
		t.Fatalf("rs1 (still running): %+v", dh)
	}
	for i := 0; i < 4; i++ {
		out, err := l.HTTPGet(ctx(t), lab.Client(0, v6).String(), url(vip, lab.HTTPPort, "/"))
		if err != nil || strings.TrimSpace(out) != "rs1" {
			t.Fatalf("with rs2 stopped: %q %v", out, err)
		}
	}
}
