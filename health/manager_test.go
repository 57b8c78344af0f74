package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/govs/gvs/ipvs"
	_ "github.com/govs/gvs/ipvs/sched" // the schedulers, for the real engine
)

const (
	s1 = "10.0.0.1:80"
	s2 = "10.0.0.2:80"
	s3 = "10.0.0.3:80"
	s4 = "10.0.0.4:80"
)

func TestFallRiseDamping(t *testing.T) {
	h := newHarness(t, svc(fakeCheck(func(c *config.Check) { c.Fall, c.Rise = 3, 2 }), config.Health{},
		rs("10.0.0.1", 5), rs("10.0.0.2", 5)))
	h.wantCalls("add "+s1+" w=5", "add "+s2+" w=5") // without alpha servers start up
	if st := h.status(s1); st.State != Unknown || !st.InPool {
		t.Fatalf("before the first check: %+v", st)
	}
	h.sc.set(s1, downR)
	h.step(0)
	h.step(time.Second)
	if st := h.status(s1); st.State != Up || st.Failures != 2 || !st.InPool {
		t.Fatalf("two failures of three: %+v", st)
	}
	h.wantCalls()
	h.step(time.Second)
	h.wantCalls("del " + s1)
	st := h.status(s1)
	if st.State != Down || st.Transitions != 1 || st.InPool || st.LastError != "refused" {
		t.Fatalf("after the third failure: %+v", st)
	}
	// a flap (one success) does not bring it back with rise 2
	h.sc.set(s1, upR)
	h.step(time.Second)
	h.sc.set(s1, downR)
	h.step(time.Second)
	h.sc.set(s1, upR)
	h.step(time.Second)
	h.wantCalls()
	h.step(time.Second)
	h.wantCalls("add " + s1 + " w=5")
	if st := h.status(s1); st.State != Up || st.Transitions != 2 || st.Weight != 5 {
		t.Fatalf("back up: %+v", st)
	}
	if n := strings.Count(h.logs(), "health: server down"); n != 1 {
		t.Fatalf("%d 'server down' lines:\n%s", n, h.logs())
	}
	if n := strings.Count(h.logs(), "health: server up"); n != 1 {
		t.Fatalf("%d 'server up' lines:\n%s", n, h.logs())
	}
}

func TestRetries(t *testing.T) {
	h := newHarness(t, svc(fakeCheck(func(c *config.Check) {
		c.Retries, c.RetryDelay = 2, config.Duration(100*time.Millisecond)
	}), config.Health{}, rs("10.0.0.1", 1)))
	h.take()
	h.sc.set(s1, downR)
	h.step(0) // first attempt fails: retry in 100ms
	h.step(100 * time.Millisecond)
	h.wantCalls()
	if n := h.sc.count(s1); n != 2 {
		t.Fatalf("%d attempts", n)
	}
	h.step(100 * time.Millisecond) // third attempt: the check fails
	h.wantCalls("del " + s1)
	// a retry that succeeds keeps it up
	h.sc.set(s1, upR)
	h.step(time.Second)
	h.wantCalls("add " + s1 + " w=1")
}

func (h *harness) take() { h.tgt.take() }

func TestRemoveVersusInhibit(t *testing.T) {
	h := newHarness(t, svc(fakeCheck(), config.Health{OnFailure: "inhibit"}, rs("10.0.0.1", 5), rs("10.0.0.2", 3)))
	h.wantCalls("add "+s1+" w=5", "add "+s2+" w=3")
	h.sc.set(s1, downR)
	h.step(0)
	h.wantCalls("edit " + s1 + " w=0")
	if st := h.status(s1); !st.InPool || st.Weight != 0 || st.State != Down {
		t.Fatalf("inhibited: %+v", st)
	}
	h.sc.set(s1, upR)
	h.step(time.Second)
	h.wantCalls("edit " + s1 + " w=5")

	h2 := newHarness(t, svc(fakeCheck(), config.Health{OnFailure: "remove"}, rs("10.0.0.1", 5)))
	h2.take()
	h2.sc.set(s1, downR)
	h2.step(0)
	h2.wantCalls("del " + s1)
}

func TestFailedConnsExpire(t *testing.T) {
	h := newHarness(t, svc(fakeCheck(), config.Health{FailedConns: "expire"}, rs("10.0.0.1", 5)))
	h.take()
	h.sc.set(s1, downR)
	h.step(0)
	// quiesce, end the connections, then remove
	h.wantCalls("edit "+s1+" w=0", "expire "+s1, "del "+s1)

	h = newHarness(t, svc(fakeCheck(), config.Health{FailedConns: "expire", OnFailure: "inhibit"}, rs("10.0.0.1", 5)))
	h.take()
	h.sc.set(s1, downR)
	h.step(0)
	h.wantCalls("edit "+s1+" w=0", "expire "+s1)
	h.step(time.Second) // still down: no second expiry
	h.wantCalls()

	h = newHarness(t, svc(fakeCheck(), config.Health{FailedConns: "keep"}, rs("10.0.0.1", 5)))
	h.take()
	h.sc.set(s1, downR)
	h.step(0)
	h.wantCalls("del " + s1)
}

func TestSlowStartRamp(t *testing.T) {
	h := newHarness(t, svc(fakeCheck(), config.Health{SlowStart: config.Duration(10 * time.Second)},
		rs("10.0.0.1", 10), rs("10.0.0.2", 4)))
	h.wantCalls("add "+s1+" w=10", "add "+s2+" w=4") // starting servers get their weight at once
	h.sc.set(s1, downR)
	h.step(0)
	h.wantCalls("del " + s1)
	h.sc.set(s1, upR)
	h.step(time.Second)
	h.wantCalls("add " + s1 + " w=1") // a returning server starts at 1
	if st := h.status(s1); !st.SlowStart || st.TargetWeight != 10 {
		t.Fatalf("ramping: %+v", st)
	}
	var weights []string
	for range 10 {
		h.step(time.Second)
		for _, c := range h.tgt.take() {
			weights = append(weights, strings.TrimPrefix(c, "edit "+s1+" "))
		}
	}
	if got := strings.Join(weights, " "); got != "w=2 w=3 w=4 w=5 w=6 w=7 w=8 w=9 w=10" {
		t.Fatalf("ramp steps: %s", got)
	}
	if st := h.status(s1); st.SlowStart || st.Weight != 10 {
		t.Fatalf("after the ramp: %+v", st)
	}
	// the quorum counts the target weight during the ramp
	if hw := h.m.Status()[0].HealthyWeight; hw != 14 {
		t.Fatalf("healthy weight %d", hw)
	}
	// a short slow start steps every tenth of it
	if rampStep(500*time.Millisecond) != 50*time.Millisecond || rampStep(time.Minute) != time.Second {
		t.Fatal("rampStep")
	}
}

func waitFile(t *testing.T, path string, want string) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want it to contain %q (%v)", path, b, want, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func appendCmd(file string) []string {
	return []string{"/bin/sh", "-c", `echo "$GVS_EVENT $GVS_STATE $GVS_SERVER $GVS_SERVICE w=$GVS_WEIGHT hw=$GVS_HEALTHY_WEIGHT arg={server}" >> ` + file}
}

func TestQuorumHysteresis(t *testing.T) {
	dir := t.TempDir()
	qfile := filepath.Join(dir, "quorum")
	h := newHarness(t, svc(fakeCheck(), config.Health{Quorum: 3, Hysteresis: 1, QuorumUp: appendCmd(qfile), QuorumDown: appendCmd(qfile)},
		rs("10.0.0.1", 1), rs("10.0.0.2", 1), rs("10.0.0.3", 1), rs("10.0.0.4", 1)))
	quorumUp := func() bool { return h.m.Status()[0].QuorumUp }
	if !quorumUp() { // 4 >= 3+1
		t.Fatal("starts without quorum")
	}
	set := func(server string, r Result) {
		h.sc.set(server, r)
		h.step(time.Second)
	}
	set(s1, downR) // 3 >= 2
	set(s2, downR) // 2, not below 3-1
	if !quorumUp() {
		t.Fatal("lost quorum at the hysteresis bound")
	}
	set(s3, downR) // 1 < 2
	if quorumUp() {
		t.Fatal("kept quorum below quorum - hysteresis")
	}
	waitFile(t, qfile, "quorum-down down  TCP 192.0.2.10:80 w= hw=1")
	set(s1, upR) // 2
	set(s2, upR) // 3: not yet quorum + hysteresis
	if quorumUp() {
		t.Fatal("regained quorum below quorum + hysteresis")
	}
	set(s3, upR) // 4
	if !quorumUp() {
		t.Fatal("no quorum at quorum + hysteresis")
	}
	got := waitFile(t, qfile, "quorum-up up  TCP 192.0.2.10:80 w= hw=4")
	if n := strings.Count(got, "\n"); n != 2 {
		t.Fatalf("quorum notifications:\n%s", got)
	}
	if st := h.m.Status()[0]; st.QuorumTransitions != 2 || st.Quorum != 3 || st.Hysteresis != 1 {
		t.Fatalf("%+v", st)
	}
	// keepalived's correction: hysteresis below the quorum
	s := &service{health: config.Health{Quorum: 2, Hysteresis: 5}}
	if q, hy := s.quorum(); q != 2 || hy != 1 {
		t.Fatalf("corrected quorum %d/%d", q, hy)
	}
}

func sorryServer(addr string) *config.RealServer {
	r := rs(addr, 1)
	return &r
}

func TestSorryServer(t *testing.T) {
	const sorry = "10.9.9.9:80"
	h := newHarness(t, svc(fakeCheck(), config.Health{Sorry: sorryServer("10.9.9.9")}, rs("10.0.0.1", 1), rs("10.0.0.2", 1)))
	h.wantCalls("add "+s1+" w=1", "add "+s2+" w=1")
	h.sc.set(s1, downR)
	h.sc.set(s2, downR)
	h.step(0)
	// the sorry server comes in before the last real server goes
	h.wantCalls("del "+s1, "add "+sorry+" w=1", "del "+s2)
	if st := h.m.Status()[0]; !st.SorryActive || st.QuorumUp {
		t.Fatalf("%+v", st)
	}
	h.sc.set(s2, upR)
	h.step(time.Second)
	// ... and goes as soon as one returns, after it is in
	h.wantCalls("add "+s2+" w=1", "del "+sorry)
	if h.tgt.pool(svcKey) != s2+"=1" {
		t.Fatalf("pool %s", h.tgt.pool(svcKey))
	}
}

func TestSorryServerWithQuorum(t *testing.T) {
	// keepalived: once the quorum is lost the sorry server replaces every
	// real server, healthy ones too
	h := newHarness(t, svc(fakeCheck(), config.Health{Quorum: 2, Sorry: sorryServer("10.9.9.9")},
		rs("10.0.0.1", 1), rs("10.0.0.2", 1), rs("10.0.0.3", 1)))
	h.take()
	h.sc.set(s1, downR)
	h.step(0)
	if p := h.tgt.pool(svcKey); p != s2+"=1 "+s3+"=1" {
		t.Fatalf("pool %s", p)
	}
	h.sc.set(s2, downR)
	h.step(time.Second)
	if p := h.tgt.pool(svcKey); p != "10.9.9.9:80=1" {
		t.Fatalf("quorum lost, pool %s", p)
	}
	h.sc.set(s1, upR)
	h.step(time.Second)
	if p := h.tgt.pool(svcKey); p != s1+"=1 "+s3+"=1" {
		t.Fatalf("quorum back, pool %s", p)
	}
}

func TestAlpha(t *testing.T) {
	h := newHarness(t, svc(fakeCheck(func(c *config.Check) { c.Rise = 3 }), config.Health{Alpha: true},
		rs("10.0.0.1", 2), rs("10.0.0.2", 2)))
	h.wantCalls() // nothing until a first success
	if st := h.status(s1); st.State != Unknown || st.InPool || st.Up {
		t.Fatalf("alpha start: %+v", st)
	}
	h.sc.set(s2, downR)
	h.step(0)
	h.wantCalls("add " + s1 + " w=2") // first success brings it up, rise notwithstanding
	if st := h.status(s2); st.State != Down || st.InPool || st.Transitions != 0 {
		t.Fatalf("alpha, failing: %+v", st)
	}
	// inhibit + alpha: servers start in the pool at weight 0
	h = newHarness(t, svc(fakeCheck(), config.Health{Alpha: true, OnFailure: "inhibit"}, rs("10.0.0.1", 2)))
	h.wantCalls("add " + s1 + " w=0")
	h.step(0)
	h.wantCalls("edit " + s1 + " w=2")
}

func TestOmega(t *testing.T) {
	for _, omega := range []bool{true, false} {
		dir := t.TempDir()
		f := filepath.Join(dir, "notify")
		r1, r2 := rs("10.0.0.1", 1), rs("10.0.0.2", 1)
		h := newHarness(t, svc(fakeCheck(), config.Health{Omega: omega, NotifyDown: appendCmd(f), QuorumDown: appendCmd(f)}, r1, r2))
		h.sc.set(s2, downR)
		h.step(0)
		h.m.notif.wait()
		os.Remove(f)
		h.take()
		if err := h.m.Update(nil); err != nil { // the service goes
			t.Fatal(err)
		}
		h.m.notif.wait()
		h.wantCalls() // the daemon deletes the service itself
		b, _ := os.ReadFile(f)
		if omega {
			if got := string(b); !strings.Contains(got, "server-down down "+s1) || strings.Contains(got, s2) || !strings.Contains(got, "quorum-down") {
				t.Fatalf("omega notifications:\n%s", got)
			}
		} else if len(b) != 0 {
			t.Fatalf("notifications without omega:\n%s", b)
		}
	}
}

func TestNotifyCommands(t *testing.T) {
	dir := t.TempDir()
	svcFile, ownFile := filepath.Join(dir, "svc"), filepath.Join(dir, "own")
	r2 := rs("10.0.0.2", 3)
	r2.NotifyUp, r2.NotifyDown = appendCmd(ownFile), appendCmd(ownFile)
	h := newHarness(t, svc(fakeCheck(), config.Health{NotifyUp: appendCmd(svcFile), NotifyDown: appendCmd(svcFile)},
		rs("10.0.0.1", 2), r2))
	h.sc.set(s1, downR)
	h.sc.set(s2, downR)
	h.step(0)
	h.sc.set(s1, upR)
	h.sc.set(s2, upR)
	h.step(time.Second)
	h.m.notif.wait()
	got := waitFile(t, svcFile, "server-up")
	want := "server-down down " + s1 + " TCP 192.0.2.10:80 w=2 hw= arg=" + s1 + "\n" +
		"server-up up " + s1 + " TCP 192.0.2.10:80 w=2 hw= arg=" + s1 + "\n"
	if got != want {
		t.Fatalf("service notifications:\n%s\nwant\n%s", got, want)
	}
	// a server's own commands replace the service's
	if got := waitFile(t, ownFile, "server-up up "+s2); !strings.HasPrefix(got, "server-down down "+s2) {
		t.Fatalf("own notifications:\n%s", got)
	}
	// a command that hangs is killed at the timeout and does not block others
	h2 := New(newFakeTarget(), Options{NotifyTimeout: 100 * time.Millisecond, Logger: h.m.log})
	defer h2.Stop()
	start := time.Now()
	h2.notif.run("k", []string{"/bin/sleep", "30"}, event{name: "x"})
	h2.notif.run("k2", []string{"/bin/true"}, event{name: "y"})
	h2.notif.wait()
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("hanging notification held us %v", el)
	}
}

func TestDynamicWeightFromExec(t *testing.T) {
	dir := t.TempDir()
	codeFile := filepath.Join(dir, "code")
	os.WriteFile(codeFile, []byte("7"), 0o644)
	cmd := script(t, dir, "weight", `exit $(cat `+codeFile+`)`)
	chk := &config.Check{Type: "exec", Interval: config.Duration(time.Second), Exec: &config.ExecCheck{Command: []string{cmd}, Dynamic: true}}
	h := newHarness(t, svc(chk, config.Health{}, rs("10.0.0.1", 10)))
	h.wantCalls("add " + s1 + " w=10")
	h.step(0)
	h.wantCalls("edit " + s1 + " w=5") // exit 7: weight 5
	os.WriteFile(codeFile, []byte("0"), 0o644)
	h.step(time.Second)
	h.wantCalls("edit " + s1 + " w=10") // exit 0: the configured weight
	os.WriteFile(codeFile, []byte("1"), 0o644)
	h.step(time.Second)
	h.wantCalls("del " + s1)
	os.WriteFile(codeFile, []byte("2"), 0o644)
	h.step(time.Second)
	h.wantCalls("add " + s1 + " w=0") // exit 2: up at weight 0
	if st := h.status(s1); st.State != Up || st.TargetWeight != 0 {
		t.Fatalf("%+v", st)
	}
	if hw := h.m.Status()[0].HealthyWeight; hw != 0 {
		t.Fatalf("healthy weight %d", hw)
	}
}

func TestDynamicWeightFromAgent(t *testing.T) {
	var mu sync.Mutex
	reply := "50%\n"
	addr := tcpServer(t, func(c net.Conn) {
		mu.Lock()
		r := reply
		mu.Unlock()
		c.Write([]byte(r))
	})
	port := netip.MustParseAddrPort(addr).Port()
	r1 := rs("127.0.0.1", 8)
	chk := &config.Check{Type: "agent", Interval: config.Duration(time.Second), Agent: &config.AgentCheck{Port: port}}
	h := newHarness(t, svc(chk, config.Health{}, r1))
	h.wantCalls("add 127.0.0.1:80 w=8")
	h.step(0)
	h.wantCalls("edit 127.0.0.1:80 w=4")
	mu.Lock()
	reply = "drain\n"
	mu.Unlock()
	h.step(time.Second)
	h.wantCalls("edit 127.0.0.1:80 w=0")
	mu.Lock()
	reply = "maint\n"
	mu.Unlock()
	h.step(time.Second)
	h.wantCalls("del 127.0.0.1:80")
	mu.Lock()
	reply = "ready\n"
	mu.Unlock()
	h.step(time.Second)
	h.wantCalls("add 127.0.0.1:80 w=8")
}

func TestPanickingCheckerIsError(t *testing.T) {
	h := newHarness(t, svc(fakeCheck(), config.Health{}, rs("10.0.0.1", 1)))
	h.take()
	h.sc.set(s1, Result{Health: Down, Err: errors.New("panic")})
	h.step(0)
	h.wantCalls() // neither healthy nor failed: nothing changes
	st := h.status(s1)
	if st.State != Error || !st.InPool || st.Transitions != 0 || !strings.Contains(st.LastError, "checker panic") {
		t.Fatalf("%+v", st)
	}
	h.sc.set(s1, upR)
	h.step(time.Second)
	if st := h.status(s1); st.State != Up || st.LastError != "" {
		t.Fatalf("%+v", st)
	}
	if !strings.Contains(h.logs(), "health: check error") || !strings.Contains(h.logs(), "health: check up") {
		t.Fatalf("logs:\n%s", h.logs())
	}
	// a checker returning nonsense is an error too
	if r := h.m.pool.runChecker(context.Background(), CheckerFunc(func(context.Context, Endpoint) Result { return Result{} }),
		Endpoint{}, time.Second); r.Health != Error {
		t.Fatalf("%+v", r)
	}
}

func TestCheckerIgnoringDeadlineIsAbandoned(t *testing.T) {
	old := abandonGrace
	abandonGrace = 50 * time.Millisecond
	defer func() { abandonGrace = old }()
	release := make(chan struct{})
	defer close(release)
	p := newPool(1, func(job) {})
	defer p.close()
	start := time.Now()
	r := p.runChecker(context.Background(), CheckerFunc(func(context.Context, Endpoint) Result {
		<-release // ignores its context
		return up()
	}), Endpoint{}, 50*time.Millisecond)
	if r.Health != Error || time.Since(start) > time.Second || p.stats().Abandoned != 1 {
		t.Fatalf("%+v after %v, %+v", r, time.Since(start), p.stats())
	}
}

func TestUpdateKeepsState(t *testing.T) {
	mk := func(servers ...config.RealServer) []config.Service {
		return []config.Service{svc(fakeCheck(), config.Health{}, servers...)}
	}
	h := newHarness(t, mk(rs("10.0.0.1", 1), rs("10.0.0.2", 1))...)
	h.take()
	h.sc.set(s1, downR)
	h.step(0)
	h.wantCalls("del " + s1)
	h.step(500 * time.Millisecond) // mid-interval
	n1 := h.sc.count(s1)

	// the same configuration again: nothing moves, timers keep their phase
	if err := h.m.Update(mk(rs("10.0.0.1", 1), rs("10.0.0.2", 1))); err != nil {
		t.Fatal(err)
	}
	h.m.pool.waitIdle()
	h.wantCalls()
	if st := h.status(s1); st.State != Down || st.Transitions != 1 || st.InPool {
		t.Fatalf("state lost: %+v", st)
	}
	h.step(499 * time.Millisecond)
	if h.sc.count(s1) != n1 {
		t.Fatal("a reload made an extra check")
	}
	h.step(time.Millisecond)
	if h.sc.count(s1) != n1+1 {
		t.Fatal("the check lost its schedule")
	}

	// s1 removed, s2's check changed (keeps its state), s3 new, weight of s2 changed
	r2 := rs("10.0.0.2", 4)
	r2.Check = fakeCheck(func(c *config.Check) { c.Rise = 2 })
	if err := h.m.Update(mk(r2, rs("10.0.0.3", 1))); err != nil {
		t.Fatal(err)
	}
	h.wantCalls("edit "+s2+" w=4", "add "+s3+" w=1")
	if st := h.status(s2); st.State != Up || !st.InPool {
		t.Fatalf("changed check lost its state: %+v", st)
	}
	for _, s := range h.m.Status() {
		if len(s.Dests) != 2 {
			t.Fatalf("dests %+v", s.Dests)
		}
	}
	// a removed server that was in the pool is deleted (and notified down)
	if err := h.m.Update(mk(rs("10.0.0.3", 1))); err != nil {
		t.Fatal(err)
	}
	h.wantCalls("del " + s2)

	// new servers of an alpha service start down
	ha := newHarness(t, svc(fakeCheck(), config.Health{Alpha: true}, rs("10.0.0.1", 1)))
	ha.step(0)
	ha.take()
	if err := ha.m.Update([]config.Service{svc(fakeCheck(), config.Health{Alpha: true}, rs("10.0.0.1", 1), rs("10.0.0.2", 1))}); err != nil {
		t.Fatal(err)
	}
	ha.wantCalls()
	if st := ha.status(s2); st.Up || st.InPool {
		t.Fatalf("alpha newcomer: %+v", st)
	}
	ha.step(0)
	ha.wantCalls("add " + s2 + " w=1")

	// an invalid update changes nothing
	bad := svc(&config.Check{Type: "nope"}, config.Health{}, rs("10.0.0.1", 1))
	if err := ha.m.Update([]config.Service{bad}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("invalid update: %v", err)
	}
	if len(ha.m.Status()[0].Dests) != 2 {
		t.Fatal("invalid update applied")
	}
}

func TestUncheckedServicesLeftAlone(t *testing.T) {
	plain := svc(nil, config.Health{}, rs("10.0.0.1", 1))
	h := newHarness(t, plain)
	h.wantCalls()
	if len(h.m.Status()) != 0 {
		t.Fatal("an unchecked service is listed")
	}
	// a server without a check in a checked service is always up
	r2 := rs("10.0.0.2", 1)
	r2.Check = fakeCheck()
	h = newHarness(t, svc(nil, config.Health{}, rs("10.0.0.1", 1), r2))
	h.wantCalls("add "+s1+" w=1", "add "+s2+" w=1")
	if st := h.status(s1); st.Check != "none" || st.State != Up {
		t.Fatalf("%+v", st)
	}
}

func TestValidate(t *testing.T) {
	fw := config.Service{FWMark: 3, Check: &config.Check{Type: "tcp"}, RealServers: []config.RealServer{rs("10.0.0.1", 1)}}
	fw.RealServers[0].Port = 0
	cases := map[string]config.Service{
		"unknown check type":     svc(&config.Check{Type: "gopher"}, config.Health{}, rs("10.0.0.1", 1)),
		"needs a port":           fw,
		"on_failure":             svc(&config.Check{Type: "tcp"}, config.Health{OnFailure: "explode"}, rs("10.0.0.1", 1)),
		"failed_conns":           svc(&config.Check{Type: "tcp"}, config.Health{FailedConns: "drop"}, rs("10.0.0.1", 1)),
		"negative quorum":        svc(&config.Check{Type: "tcp"}, config.Health{Quorum: -1}, rs("10.0.0.1", 1)),
		"via_vip needs DR/TUN":   svc(&config.Check{Type: "tcp", ViaVIP: true}, config.Health{}, rs("10.0.0.1", 1)),
		"sorry is a real server": svc(&config.Check{Type: "tcp"}, config.Health{Sorry: sorryServer("10.0.0.1")}, rs("10.0.0.1", 1)),
	}
	for name, s := range cases {
		if err := Validate([]config.Service{s}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	fw.Check.Port = 80
	if err := Validate([]config.Service{fw}); err != nil {
		t.Errorf("fwmark with check.port: %v", err)
	}
	if err := Validate([]config.Service{svc(&config.Check{Type: "icmp"}, config.Health{}, rs("10.0.0.1", 1))}); err != nil {
		t.Error(err)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fakeRouter struct {
	mu       sync.Mutex
	released []string
}

func (r *fakeRouter) ViaVIP(k ipvs.ServiceKey, d ipvs.DestConfig) (uint32, error) {
	return 0x4700 + uint32(d.Addr.As4()[3]), nil
}

func (r *fakeRouter) Release(k ipvs.ServiceKey, d ipvs.DestConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = append(r.released, d.Addr.String())
}

func TestViaVIP(t *testing.T) {
	var mu sync.Mutex
	var seen []Endpoint
	factory := func(c *config.Check) (Checker, error) {
		return CheckerFunc(func(ctx context.Context, e Endpoint) Result {
			mu.Lock()
			seen = append(seen, e)
			mu.Unlock()
			return up()
		}), nil
	}
	dr := rs("10.0.0.1", 1)
	dr.Forward = config.Forward(ipvs.Route)
	s := svc(&config.Check{Type: "tcp", ViaVIP: true, Interval: config.Duration(time.Second)}, config.Health{}, dr)
	router := &fakeRouter{}
	clk := newFakeClock()
	m := New(newFakeTarget(), Options{Workers: 1, NewChecker: factory, Router: router, clock: clk, noJitter: true, Logger: quiet})
	if err := m.Update([]config.Service{s}); err != nil {
		t.Fatal(err)
	}
	clk.advance(0)
	m.pool.waitIdle()
	mu.Lock()
	if len(seen) != 1 || seen[0].Addr != vip || seen[0].Port != 80 || seen[0].Mark != 0x4701 || seen[0].ServerAddr.String() != "10.0.0.1" {
		t.Fatalf("via_vip endpoint %+v", seen)
	}
	mu.Unlock()
	m.Stop()
	if fmt.Sprint(router.released) != "[10.0.0.1]" {
		t.Fatalf("released %v", router.released)
	}
	// without a router the check is an error, not a failure
	clk = newFakeClock()
	m = New(newFakeTarget(), Options{Workers: 1, NewChecker: factory, clock: clk, noJitter: true, Logger: quiet})
	defer m.Stop()
	m.Update([]config.Service{s})
	clk.advance(0)
	m.pool.waitIdle()
	if st := m.Status()[0].Dests[0]; st.State != Error || !strings.Contains(st.LastError, "path router") || !st.InPool {
		t.Fatalf("%+v", st)
	}
}

func TestTargetErrorsRetried(t *testing.T) {
	h := newHarness(t)
	h.tgt.fail = errors.New("engine busy")
	if err := h.m.Update([]config.Service{svc(fakeCheck(), config.Health{}, rs("10.0.0.1", 1))}); err != nil {
		t.Fatal(err)
	}
	if st := h.status(s1); st.InPool {
		t.Fatal("in pool although the add failed")
	}
	h.step(0)
	h.tgt.mu.Lock()
	h.tgt.fail = nil
	h.tgt.mu.Unlock()
	h.step(time.Second) // the next result reconciles
	h.wantCalls("add " + s1 + " w=1")
	if n := strings.Count(h.logs(), "engine busy"); n != 1 {
		t.Fatalf("%d error lines", n)
	}
}

// ---- against a real engine ----

// engineTarget adapts *ipvs.Engine to Target, as the daemon does (minus
// the data path sync).
type engineTarget struct{ e *ipvs.Engine }

func (a engineTarget) AddDest(k ipvs.ServiceKey, d ipvs.DestConfig) error  { return a.e.AddDest(k, d) }
func (a engineTarget) EditDest(k ipvs.ServiceKey, d ipvs.DestConfig) error { return a.e.EditDest(k, d) }
func (a engineTarget) DelDest(k ipvs.ServiceKey, addr netip.Addr, port uint16) error {
	return a.e.DelDest(k, addr, port)
}
func (a engineTarget) ExpireDestConns(k ipvs.ServiceKey, addr netip.Addr, port uint16) error {
	return a.e.ExpireDestConns(k, addr, port)
}
func (a engineTarget) Dests(k ipvs.ServiceKey) ([]ipvs.DestConfig, error) {
	st, err := a.e.ServiceStatus(k)
	if err != nil {
		return nil, err
	}
	var out []ipvs.DestConfig
	for _, d := range st.Dests {
		out = append(out, d.DestConfig)
	}
	return out, nil
}

func TestWithEngine(t *testing.T) {
	eng, err := ipvs.New(ipvs.Config{MaxConns: 1024})
	if err != nil {
		t.Fatal(err)
	}
	ln1, _ := net.Listen("tcp", "127.0.0.1:0")
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln1.Close()
	defer ln2.Close()
	for _, ln := range []net.Listener{ln1, ln2} {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	port := func(ln net.Listener) uint16 { return uint16(ln.Addr().(*net.TCPAddr).Port) }
	mkrs := func(p uint16, w int32) config.RealServer {
		r := rs("127.0.0.1", w)
		r.Port = p
		return r
	}
	s := svc(&config.Check{Type: "tcp", Interval: config.Duration(30 * time.Millisecond), Timeout: config.Duration(500 * time.Millisecond)},
		config.Health{FailedConns: "expire", Sorry: sorryServer("10.9.9.9")}, mkrs(port(ln1), 3), mkrs(port(ln2), 2))
	cfg, _, err := s.Engine()
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.AddService(cfg); err != nil {
		t.Fatal(err)
	}
	// a leftover destination the configuration does not list is adopted away
	if err := eng.AddDest(svcKey, ipvs.DestConfig{Addr: netip.MustParseAddr("10.7.7.7"), Port: 80, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	m := New(engineTarget{eng}, Options{Workers: 8, Logger: quiet})
	defer m.Stop()
	if err := m.Update([]config.Service{s}); err != nil {
		t.Fatal(err)
	}
	dests := func() string {
		st, _ := eng.ServiceStatus(svcKey)
		var out []string
		for _, d := range st.Dests {
			out = append(out, fmt.Sprintf("%s=%d", netip.AddrPortFrom(d.Addr, d.Port), d.Weight))
		}
		return strings.Join(out, " ")
	}
	eventually := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for dests() != want {
			if time.Now().After(deadline) {
				t.Fatalf("engine has %q, want %q\n%+v", dests(), want, m.Status())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	a1, a2 := fmt.Sprintf("127.0.0.1:%d", port(ln1)), fmt.Sprintf("127.0.0.1:%d", port(ln2))
	eventually(a2 + "=2 " + a1 + "=3")
	ln1.Close()
	eventually(a2 + "=2")
	ln2.Close()
	eventually("10.9.9.9:80=1")
	st := m.Status()[0]
	if st.QuorumUp || !st.SorryActive || st.Dests[0].State != Down || st.Dests[0].Transitions != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestStatusJSON(t *testing.T) {
	h := newHarness(t, svc(fakeCheck(), config.Health{Sorry: sorryServer("10.9.9.9")}, rs("10.0.0.1", 1)))
	h.sc.set(s1, downR)
	h.step(0)
	b, err := json.Marshal(h.m.Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"service":{`, `"quorum_up":false`, `"sorry_server":"10.9.9.9:80"`, `"sorry_active":true`,
		`"health":"down"`, `"in_pool":false`, `"last_check":"2026-01-01T00:00:00Z"`, `"last_error":"refused"`, `"transitions":1`,
		`"configured_weight":1`, `"weight":0`, `"check":"fake"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("no %s in %s", key, b)
		}
	}
}
