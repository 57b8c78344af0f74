package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestScale checks 2,000 destinations concurrently against one local TCP
// listener through a 64-worker pool: every destination is checked, while
// checks in flight, goroutines and open sockets stay bounded, and the
// first round is spread over the interval rather than sent in one burst.
func TestScale(t *testing.T) {
	const (
		services = 20
		perSvc   = 100
		total    = services * perSvc
		workers  = 64
		interval = time.Second
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepts atomic.Int64
	var firstMu sync.Mutex
	var firstTimes []time.Duration
	start := time.Now() // reset below, before the first check; read under firstMu
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			if n := accepts.Add(1); n <= total {
				firstMu.Lock()
				firstTimes = append(firstTimes, time.Since(start))
				firstMu.Unlock()
			}
		}
	}()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	check := &config.Check{Type: "tcp", Interval: config.Duration(interval), Timeout: config.Duration(2 * time.Second),
		Address: config.Addr(netip.MustParseAddr("127.0.0.1")), Port: port}
	var cfg []config.Service
	for i := range services {
		s := config.Service{Protocol: config.Protocol(ipvs.ProtoTCP), Address: config.Addr(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})),
			Port: 80, Check: check}
		for j := range perSvc {
			s.RealServers = append(s.RealServers, rs(fmt.Sprintf("10.%d.%d.%d", i, j/200, j%200+1), 1))
		}
		cfg = append(cfg, s)
	}

	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs()
	tgt := newFakeTarget()
	m := New(tgt, Options{Workers: workers, Logger: quiet})
	defer m.Stop()
	var peakG, peakFD atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if g := int64(runtime.NumGoroutine()); g > peakG.Load() {
				peakG.Store(g)
			}
			if f := int64(openFDs()); f > peakFD.Load() {
				peakFD.Store(f)
			}
		}
	}()
	firstMu.Lock()
	start = time.Now()
	firstMu.Unlock()
	if err := m.Update(cfg); err != nil {
		t.Fatal(err)
	}
	// every destination checked (a full round, spread over the interval)
	deadline := time.Now().Add(15 * time.Second)
	for {
		done := true
		for _, s := range m.Status() {
			for _, d := range s.Dests {
				if d.LastCheck.IsZero() || d.State != Up {
					done = false
				}
			}
		}
		if done && accepts.Load() >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v only %d checks, pool %+v", time.Since(start), accepts.Load(), m.Pool())
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	close(stopSampling)
	<-sampled
	ps := m.Pool()
	firstMu.Lock()
	early := 0
	for _, d := range firstTimes {
		if d < interval/10 {
			early++
		}
	}
	firstMu.Unlock()
	t.Logf("%d destinations, %d checks in %v; pool %+v; goroutines %d -> peak %d; open fds %d -> peak %d; first round: %d of %d in its first tenth",
		total, accepts.Load(), elapsed.Round(time.Millisecond), ps, baseG, peakG.Load(), baseFD, peakFD.Load(), early, total)
	if ps.PeakRunning > workers {
		t.Errorf("%d checks ran at once, over the %d workers", ps.PeakRunning, workers)
	}
	// workers + one checker goroutine each + notifier/timer slack
	if lim := int64(baseG + 2*workers + 32); peakG.Load() > lim {
		t.Errorf("goroutines peaked at %d, over %d", peakG.Load(), lim)
	}
	// one socket per running check, plus the listener's accepted ones
	if lim := int64(baseFD + workers + 32); peakFD.Load() > lim {
		t.Errorf("open fds peaked at %d, over %d", peakFD.Load(), lim)
	}
	if early > total/4 {
		t.Errorf("%d of the first %d checks came in the first tenth of the interval: not spread", early, total)
	}
	if len(tgt.take()) != total {
		t.Error("not every destination was added once")
	}
}

// TestHangingDestinationDoesNotDelayOthers: with two workers, one of them
// held by a server that accepts and never answers, the other destinations
// keep their schedule.
func TestHangingDestinationDoesNotDelayOthers(t *testing.T) {
	release := make(chan struct{})
	hang := tcpServer(t, func(c net.Conn) { <-release })
	defer close(release)
	fast := tcpServer(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\nok")
	})
	var mu sync.Mutex
	counts := map[string]int{}
	factory := func(c *config.Check) (Checker, error) {
		real, err := NewChecker(c)
		if err != nil {
			return nil, err
		}
		return CheckerFunc(func(ctx context.Context, e Endpoint) Result {
			mu.Lock()
			counts[e.ServerAddr.String()]++
			mu.Unlock()
			return real.Check(ctx, e)
		}), nil
	}
	const timeout, interval = 400 * time.Millisecond, 40 * time.Millisecond
	mkCheck := func(addr string) *config.Check {
		ap := netip.MustParseAddrPort(addr)
		return &config.Check{Type: "http", Interval: config.Duration(interval), Timeout: config.Duration(timeout),
			Address: config.Addr(ap.Addr()), Port: ap.Port()}
	}
	servers := []config.RealServer{rs("10.0.0.1", 1), rs("10.0.0.2", 1), rs("10.0.0.3", 1), rs("10.0.0.4", 1)}
	servers[0].Check = mkCheck(hang)
	for i := 1; i < 4; i++ {
		servers[i].Check = mkCheck(fast)
	}
	m := New(newFakeTarget(), Options{Workers: 2, NewChecker: factory, Logger: quiet, noJitter: true})
	defer m.Stop()
	start := time.Now()
	if err := m.Update([]config.Service{svc(nil, config.Health{}, servers...)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	st := m.Status()[0].Dests
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("in %v: hanging server %d attempts (%s, last took %v: %s); others %d, %d, %d checks (last took %v, %v, %v)",
		elapsed.Round(time.Millisecond), counts["10.0.0.1"], st[0].State, st[0].LastDuration.Round(time.Millisecond), st[0].LastError,
		counts["10.0.0.2"], counts["10.0.0.3"], counts["10.0.0.4"], st[1].LastDuration, st[2].LastDuration, st[3].LastDuration)
	if st[0].State != Down || st[0].LastDuration < timeout-20*time.Millisecond {
		t.Errorf("hanging server: %+v", st[0])
	}
	// 1s at one check per 40ms is 25. Had they waited for the hanging
	// one they would have had no more attempts than it (elapsed/timeout);
	// allow for a loaded machine.
	want := max(int(elapsed/interval)/4, 3*counts["10.0.0.1"])
	for _, a := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		if counts[a] < want {
			t.Errorf("%s: %d checks, want at least %d: delayed by the hanging one", a, counts[a], want)
		}
	}
}

// BenchmarkTCPCheck measures one TCP check attempt through the pool's
// runner (deadline, watchdog goroutine, connect, close) on loopback.
func BenchmarkTCPCheck(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	e := Endpoint{Addr: ap.Addr(), Port: ap.Port()}
	p := newPool(1, func(job) {})
	defer p.close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := p.runChecker(context.Background(), TCPChecker{}, e, time.Second); r.Health != Up {
				b.Fatal(r.Err)
			}
		}
	})
}
