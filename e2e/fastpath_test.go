package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govs/gvs/lab"
)

// TestFastPath: once a connection has settled, the kernel's fast path
// forwards its packets (gvsd's workers no longer receive them), yet the
// listing counts every one of them, the connection's timer follows them
// past its idle timeout, and it still expires once they stop. NAT (both
// directions), DR and TUN over IPv4 and IPv6, each with one UDP flow of
// 150 datagrams over 4.5 s against a 3 s timeout.
func TestFastPath(t *testing.T) {
	const n = 150
	vips := []string{"10.0.2.100", "10.0.2.101", "10.0.2.102", "fd00:2::100", "fd00:2::101", "fd00:2::102"}
	config := "metrics:\n  listen: 127.0.0.1:9103\ntimeouts: {udp: 3}\nservices:\n"
	for i, vip := range vips {
		config += rsConfig("udp", vip, lab.UDPEchoPort, "rr", []string{"masq", "route", "tunnel"}[i%3], "", lab.UDPEchoPort)
	}
	d := director(t, config)
	l := d.Lab
	// NAT replies go back through the router: have the director know its
	// MACs first (a reply that finds no neighbour entry is dropped while
	// gvsd resolves it, and this test counts every datagram)
	for _, gw := range []string{"10.0.2.254", "fd00:2::fe"} {
		if out, err := l.Exec(ctx(t), "dir", "ping", "-c", "1", "-W", "2", gw); err != nil {
			t.Fatalf("ping %s from the director: %v %s", gw, err, out)
		}
	}
	rxBefore := workerReceived(t, l, "127.0.0.1:9103")
	var wg sync.WaitGroup
	errs := make([]error, len(vips))
	for i, vip := range vips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = udpFlow(l, lab.Client(0, strings.Contains(vip, ":")), 47000+i, vip, n, 30*time.Millisecond)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", vips[i], err)
		}
	}
	rx := workerReceived(t, l, "127.0.0.1:9103") - rxBefore
	// Without the fast path the workers receive 8n frames: 6n datagrams
	// and the 2n NAT replies. With it, each flow's first OffloadAfter (8)
	// datagrams and NAT replies, and a few more while the entry goes in.
	fp := scrape(t, l, "127.0.0.1:9103", "gvs_fastpath_")
	t.Logf("workers received %d frames for %d flows of %d datagrams; fast path %v", rx, len(vips), n, fp)
	if rx > uint64(len(vips))*30 {
		t.Errorf("gvsd's workers received %d frames of %d flows of %d datagrams: the fast path did not take them", rx, len(vips), n)
	}
	// one entry per flow, and one for each NAT flow's replies
	if got := fp[`gvs_fastpath_events_total{event="installed"}`]; got < float64(len(vips)+2) {
		t.Errorf("gvs_fastpath_events_total{event=\"installed\"} %v, want at least %d", got, len(vips)+2)
	}
	if fp["gvs_fastpath_entries"] < 1 {
		t.Errorf("gvs_fastpath_entries %v while the flows' connections are live", fp["gvs_fastpath_entries"])
	}
	time.Sleep(700 * time.Millisecond) // two sweeps
	stats := parseStats(t, adm(t, d, "-L", "-n", "--stats"))
	for i, vip := range vips {
		s := stats["UDP "+netip.AddrPortFrom(netip.MustParseAddr(vip), lab.UDPEchoPort).String()]
		wantOut := uint64(0)
		if i%3 == 0 {
			wantOut = n // NAT replies pass the director
		}
		if s[0] != 1 || s[1] != n || s[2] != wantOut || s[3] == 0 {
			t.Errorf("%s: --stats conns, in, out packets %v, want 1, %d, %d", vip, s[:3], n, wantOut)
		}
	}
	conns := adm(t, d, "-L", "-n", "-c")
	for i, vip := range vips {
		if c := netip.AddrPortFrom(lab.Client(0, strings.Contains(vip, ":")), uint16(47000+i)).String(); !strings.Contains(conns, c) {
			t.Errorf("connection of %s missing while its timer should run (the flow was busy past its 3 s timeout):\n%s", c, conns)
		}
	}
	// idle: expired after 3 s like any connection
	time.Sleep(3500 * time.Millisecond)
	conns = adm(t, d, "-L", "-n", "-c")
	if strings.Contains(conns, ":4700") {
		t.Errorf("connections still listed 3.5 s after their last packet (timeout 3 s):\n%s", conns)
	}
}

// udpFlow sends count datagrams from src:port to vip, every gap, each
// echoed back by the same real server.
func udpFlow(l *lab.Lab, src netip.Addr, port int, vip string, count int, gap time.Duration) error {
	var c *net.UDPConn
	err := l.Do("client", func() (err error) {
		c, err = net.DialUDP("udp", &net.UDPAddr{IP: src.AsSlice(), Port: port}, &net.UDPAddr{IP: net.ParseIP(vip), Port: lab.UDPEchoPort})
		return err
	})
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	server := ""
	for i := 0; i < count; i++ {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte(fmt.Sprintf("fp-%d", i))); err != nil {
			return err
		}
		m, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("datagram %d: %w", i, err)
		}
		got := strings.Fields(string(buf[:m]))
		if len(got) == 0 || !strings.HasSuffix(string(buf[:m]), fmt.Sprintf("fp-%d", i)) {
			return fmt.Errorf("datagram %d: echo %q", i, buf[:m])
		}
		if server == "" {
			server = got[0]
		} else if got[0] != server {
			return fmt.Errorf("datagram %d answered by %s, the flow's first by %s", i, got[0], server)
		}
		time.Sleep(gap)
	}
	return nil
}

// workerReceived sums gvsd's per-worker received frames (metrics endpoint).
func workerReceived(t *testing.T, l *lab.Lab, metrics string) uint64 {
	t.Helper()
	var sum uint64
	for _, v := range scrape(t, l, metrics, "gvs_worker_received_packets_total{") {
		sum += uint64(v)
	}
	return sum
}

// scrape reads gvsd's metrics endpoint: the series whose name (with
// labels) starts with prefix, by name.
func scrape(t *testing.T, l *lab.Lab, metrics, prefix string) map[string]float64 {
	t.Helper()
	out, err := l.HTTPGetFrom(ctx(t), "dir", netip.Addr{}, "http://"+metrics+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.HasPrefix(f[0], prefix) {
			series[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return series
}

// TestFastPathTCPCounts: a keep-alive TCP connection through NAT makes
// enough requests to be offloaded, then closes; the listing's packet
// counters equal what the client's own nftables counters saw leave and
// arrive (the kernel's share added at the sweeps, the last counts kept
// when the FIN takes the connection back to the workers).
func TestFastPathTCPCounts(t *testing.T) {
	d := director(t, "metrics:\n  listen: 127.0.0.1:9104\nservices:\n"+rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80))
	l := d.Lab
	client := lab.Client(1, false).String()
	rules := fmt.Sprintf(`table inet gvsfpcount {
  chain out { type filter hook output priority 0; ip saddr %[1]s ip daddr 10.0.2.100 tcp dport 80 counter; }
  chain in { type filter hook input priority 0; ip daddr %[1]s ip saddr 10.0.2.100 tcp sport 80 counter; }
}`, client)
	if out, err := l.Exec(ctx(t), "client", "sh", "-c", "echo '"+rules+"' | nft -f -"); err != nil {
		t.Fatalf("nft: %v %s", err, out)
	}
	t.Cleanup(func() { l.Exec(ctx(t), "client", "nft", "delete", "table", "inet", "gvsfpcount") })
	urls := make([]string, 40)
	for i := range urls {
		urls[i] = "http://10.0.2.100/whoami"
	}
	rxBefore := workerReceived(t, l, "127.0.0.1:9104")
	out, err := l.Exec(ctx(t), "client", "curl", append([]string{"-s", "--interface", client}, urls...)...)
	if err != nil || strings.Count(out, "client=") != len(urls) {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond) // the last FIN/ACKs leave the client
	counters, err := l.Exec(ctx(t), "client", "nft", "list", "table", "inet", "gvsfpcount")
	if err != nil {
		t.Fatal(err)
	}
	var sent, received uint64
	for _, line := range strings.Split(counters, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "packets" {
				n, _ := strconv.ParseUint(f[i+1], 10, 64)
				if strings.Contains(line, "dport 80") {
					sent = n
				} else {
					received = n
				}
			}
		}
	}
	// the kernel's share reaches the listing at the offloader's sweeps
	// (every 250 ms, spaced out when sweeps run slow, as under -race in
	// CI): wait for them
	var s [5]uint64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		s = parseStats(t, adm(t, d, "-L", "-n", "--stats"))["TCP 10.0.2.100:80"]
		if s[1] == sent && s[2] == received || time.Now().After(deadline) {
			break
		}
	}
	// and nothing is counted twice later on
	time.Sleep(600 * time.Millisecond)
	s = parseStats(t, adm(t, d, "-L", "-n", "--stats"))["TCP 10.0.2.100:80"]
	rx := workerReceived(t, l, "127.0.0.1:9104") - rxBefore
	t.Logf("client sent %d and received %d packets; --stats in %d, out %d; gvsd's workers received %d", sent, received, s[1], s[2], rx)
	t.Cleanup(func() {
		if t.Failed() { // what the data path saw: this failure has been intermittent
			for _, prefix := range []string{"gvs_fastpath_", "gvs_drops_total{", "gvs_worker_received", "gvs_worker_sent"} {
				for name, v := range scrape(t, l, "127.0.0.1:9104", prefix) {
					if v != 0 {
						t.Logf("%s %g", name, v)
					}
				}
			}
		}
	})
	if rx >= (sent+received)/2 {
		t.Errorf("gvsd's workers received %d of the connection's %d packets: the fast path did not take it", rx, sent+received)
	}
	if sent < 40 || s[1] != sent || s[2] != received {
		t.Fatalf("--stats in/out packets %d/%d, the client sent %d and received %d", s[1], s[2], sent, received)
	}
}
