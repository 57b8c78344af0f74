package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/govs/gvs/lab"
)

func rsConfig(proto, addr string, port int, sched, forward, extra string, rsPort int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - protocol: %s\n    address: %q\n    port: %d\n    scheduler: %s\n%s    real_servers:\n", proto, addr, port, sched, extra)
	for n := 1; n <= 3; n++ {
		fmt.Fprintf(&b, "      - {address: %q, port: %d, forward: %s}\n", lab.RealServer(n, strings.Contains(addr, ":")), rsPort, forward)
	}
	return b.String()
}

func whoami(t *testing.T, l *lab.Lab, src, url string) string {
	t.Helper()
	out, err := l.HTTPGet(ctx(t), src, url)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)[0]
}

// TestWeightZeroDrains: an established connection keeps its quiescent
// server; new connections go elsewhere.
func TestWeightZeroDrains(t *testing.T) {
	d := director(t, "services:\n"+rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80))
	l := d.Lab
	// one keep-alive connection making two requests 3 s apart; the weight
	// of its server drops to 0 in between. Its server is read from the
	// first answer (usually rs3, rr's first pick; a SYN that met an old
	// TIME_WAIT on a real server is rescheduled, which is right too).
	cmd := exec.Command("ip", "netns", "exec", l.NS("client"), "curl", "-s", "--rate", "20/m", "--interface", lab.Client(0, false).String(),
		"http://10.0.2.100/whoami", "http://10.0.2.100/whoami")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answers := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			answers <- sc.Text()
		}
		close(answers)
	}()
	var lines []string
	select {
	case first, ok := <-answers:
		if !ok {
			t.Fatal("no first answer")
		}
		lines = append(lines, first)
	case <-time.After(10 * time.Second):
		t.Fatal("no first answer within 10 s")
	}
	first := strings.Fields(lines[0])[0]
	n := strings.TrimPrefix(first, "rs")
	adm(t, d, "-e", "-t", "10.0.2.100:80", "-r", "10.0.2.1"+n+":80", "-m", "-w", "0")
	for i := 0; i < 4; i++ {
		if got := whoami(t, l, lab.Client(1+i, false).String(), "http://10.0.2.100/"); got == first {
			t.Fatalf("a new connection went to the weight-0 server %s", got)
		}
	}
	for a := range answers {
		lines = append(lines, a)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the established connection broke: %v (%q)", err, lines)
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[1], first) || field(lines[0], "client") != field(lines[1], "client") {
		t.Fatalf("the established connection must stay on %s: %q", first, lines)
	}
}

// TestPersistence: one client address sticks to one real server across
// connections; with a /24 netmask the clients of one network share it; a
// firewall-mark service over ports 80 and 443 keeps both ports of a client
// on one real server.
func TestPersistence(t *testing.T) {
	cfg := "fwmarks:\n  - mark: 7\n    match: [{protocol: tcp, address: 10.0.2.102, ports: [80, 443]}]\nservices:\n" +
		rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "    persistent: 300\n", 80) +
		rsConfig("tcp", "10.0.2.101", 80, "rr", "route", "    persistent: 300\n    netmask: 255.255.255.0\n", 80) +
		"  - fwmark: 7\n    scheduler: rr\n    persistent: 300\n    real_servers:\n" +
		"      - {address: 10.0.2.11, forward: route}\n      - {address: 10.0.2.12, forward: route}\n      - {address: 10.0.2.13, forward: route}\n"
	d := director(t, cfg)
	l := d.Lab
	seen := map[string]string{}
	for i := 0; i < 3; i++ { // three clients, each several connections
		src := lab.Client(i, false).String()
		for k := 0; k < 4; k++ {
			rs := whoami(t, l, src, "http://10.0.2.100/")
			if prev, ok := seen[src]; ok && prev != rs {
				t.Fatalf("client %s moved from %s to %s", src, prev, rs)
			}
			seen[src] = rs
		}
	}
	if seen[lab.Client(0, false).String()] == seen[lab.Client(1, false).String()] {
		t.Fatal("two clients should have been spread by rr")
	}
	// netmask /24: every client address (10.0.1.x) shares one server
	var shared string
	for i := 0; i < lab.Clients; i++ {
		rs := whoami(t, l, lab.Client(i, false).String(), "http://10.0.2.101/")
		if shared != "" && rs != shared {
			t.Fatalf("clients of one /24 split over %s and %s", shared, rs)
		}
		shared = rs
	}
	// fwmark over 80 and 443
	for i := 0; i < 3; i++ {
		src := lab.Client(i, false).String()
		a := whoami(t, l, src, "http://10.0.2.102:80/")
		b := whoami(t, l, src, "http://10.0.2.102:443/")
		if a != b {
			t.Fatalf("client %s: port 80 on %s, port 443 on %s", src, a, b)
		}
	}
	if out := adm(t, d, "-Ln"); !strings.Contains(out, "FWM  7 rr persistent 300") {
		t.Fatalf("listing:\n%s", out)
	}
}

// capture runs tcpdump on the router's client-side link for the test.
func capture(t *testing.T, l *lab.Lab, filter string) (stop func() int) {
	t.Helper()
	file := fmt.Sprintf("%s/cap-%d.pcap", l.Dir, time.Now().UnixNano())
	cmd := exec.Command("ip", "netns", "exec", l.NS("router"), "tcpdump", "-U", "-n", "-i", "eth0", "-w", file, filter)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	return func() int {
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		out, _ := exec.Command("tcpdump", "-n", "-r", file).CombinedOutput()
		n := 0
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, " IP ") || strings.Contains(line, " IP6 ") {
				n++
				t.Logf("captured: %s", line)
			}
		}
		return n
	}
}

// TestTimeoutNoLeak: with a short TCP timeout an idle connection expires;
// the client's next segment is not forwarded to a new server, and under NAT
// no packet with a real server's source address ever reaches the client
// side, even when the real server later closes the connection it still has.
func TestTimeoutNoLeak(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("needs tcpdump (CI installs it)")
	}
	d := director(t, "timeouts: {tcp: 2}\nservices:\n"+rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80))
	l := d.Lab
	stop := capture(t, l, "src net 10.0.2.0/24 and not src host 10.0.2.100")
	// two requests on one connection, 4 s apart: the entry expires after 2 s idle
	cmd := exec.Command("ip", "netns", "exec", l.NS("client"), "curl", "-s", "-m", "9", "--rate", "15/m", "--interface", lab.Client(0, false).String(),
		"http://10.0.2.100/whoami", "http://10.0.2.100/whoami")
	var out strings.Builder
	cmd.Stdout = &out
	_ = cmd.Run()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("after expiry the connection must not be forwarded anywhere, got %q", out.String())
	}
	// nginx closes idle keep-alive connections after 8 s: its FIN (and any
	// retransmission) comes from the real server's address after GVS forgot
	// the connection; it must not leak
	time.Sleep(6 * time.Second)
	if n := stop(); n != 0 {
		t.Fatalf("%d packets with a real server's source address reached the client side", n)
	}
	// the kernel dropped them (the steering rules), after GVS's rings had them
	st, _ := d.Lab.Exec(ctx(t), "dir", "nft", "list", "table", "inet", "gvs")
	dropped := false
	for _, l := range strings.Split(st, "\n") {
		if strings.Contains(l, "NAT reply") && strings.Contains(l, "counter packets") && !strings.Contains(l, "counter packets 0 ") {
			dropped = true
		}
	}
	if !dropped {
		t.Fatalf("the NAT reply rule counted nothing:\n%s", st)
	}
}

// TestPortMapping: NAT maps VIP:8080 to RIP:80; DR and TUN cannot, and use
// the service's port as ipvsadm makes them.
func TestPortMapping(t *testing.T) {
	d := director(t, "services:\n"+rsConfig("tcp", "10.0.2.100", 8080, "rr", "masq", "", 80)+
		rsConfig("tcp", "10.0.2.101", 8080, "rr", "route", "", 80)+
		rsConfig("tcp", "10.0.2.102", 8080, "rr", "tunnel", "", 80))
	out, err := d.Lab.HTTPGet(ctx(t), lab.Client(0, false).String(), "http://10.0.2.100:8080/whoami")
	if err != nil || !strings.HasSuffix(strings.TrimSpace(field(out, "local")), ":80") {
		t.Fatalf("NAT 8080 -> 80: %q %v", out, err)
	}
	for _, vip := range []string{"10.0.2.101", "10.0.2.102"} {
		out, err := d.Lab.HTTPGet(ctx(t), lab.Client(0, false).String(), "http://"+vip+":8080/whoami")
		if err != nil || field(out, "local") != vip+":8080" {
			t.Fatalf("%s: the real server must see the service port: %q %v", vip, out, err)
		}
	}
	listing := adm(t, d, "-Ln", "-t", "10.0.2.101:8080")
	if !strings.Contains(listing, "10.0.2.11:8080") {
		t.Fatalf("DR destination port follows the service port as in ipvsadm:\n%s", listing)
	}
}

// TestBulkIntact: 200 MB through each method arrives intact, with the
// kernel's default offloads on.
func TestBulkIntact(t *testing.T) {
	d := director(t, "services:\n"+rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80)+
		rsConfig("tcp", "10.0.2.101", 80, "rr", "route", "", 80)+
		rsConfig("tcp", "10.0.2.102", 80, "rr", "tunnel", "", 80)+
		rsConfig("tcp", "fd00:2::100", 80, "rr", "masq", "", 80)+
		rsConfig("tcp", "fd00:2::102", 80, "rr", "tunnel", "", 80))
	want := fileDigest(t, d.Lab.BigFilePath())
	for _, u := range []string{"http://10.0.2.100/big", "http://10.0.2.101/big", "http://10.0.2.102/big", "http://[fd00:2::100]/big", "http://[fd00:2::102]/big"} {
		dst := fmt.Sprintf("%s/got-%d", d.Lab.Dir, time.Now().UnixNano())
		start := time.Now()
		src := lab.Client(0, strings.Contains(u, "[")).String()
		if out, err := d.Lab.Exec(ctx(t), "client", "curl", "-s", "-m", "120", "--interface", src, "-o", dst, u); err != nil {
			t.Fatalf("%s: %v %s", u, err, out)
		}
		got := fileDigest(t, dst)
		os.Remove(dst)
		if got != want {
			t.Fatalf("%s: digest %s, want %s", u, got, want)
		}
		t.Logf("%s: 200 MiB intact in %v", u, time.Since(start).Round(time.Millisecond))
	}
}

func fileDigest(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// TestManyConnections: 1,000 concurrent connections complete.
func TestManyConnections(t *testing.T) {
	d := director(t, "services:\n"+rsConfig("tcp", "10.0.2.100", 80, "wlc", "masq", "", 80))
	bin, err := d.Lab.Binary("gvs-lab")
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Lab.Exec(ctx(t), "client", bin, "conns", "--dst", "10.0.2.100", "--port", "80", "--count", "1000")
	if err != nil || !strings.HasPrefix(out, "1000 ") {
		t.Fatalf("1000 concurrent connections: %q %v", out, err)
	}
	t.Logf("1000 concurrent connections completed: %s", strings.TrimSpace(out))
	stats := adm(t, d, "-Ln", "--stats", "-t", "10.0.2.100:80")
	if !strings.Contains(stats, "TCP  10.0.2.100:80                    1000") {
		t.Fatalf("listing:\n%s", stats)
	}
}

// TestMalformedFlood: a flood of malformed frames at the director is
// dropped and counted while real traffic continues.
func TestMalformedFlood(t *testing.T) {
	d := director(t, "services:\n"+rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80))
	l := d.Lab
	mac, err := l.Exec(ctx(t), "dir", "cat", "/sys/class/net/eth0/address")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := l.Binary("gvs-lab")
	if err != nil {
		t.Fatal(err)
	}
	var ok, failed atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := l.HTTPGet(ctx(t), lab.Client(i%lab.Clients, false).String(), "http://10.0.2.100/"); err != nil {
				failed.Add(1)
			} else {
				ok.Add(1)
			}
		}
	}()
	for _, dst := range []string{"10.0.2.100", "fd00:2::100"} {
		if out, err := l.Exec(ctx(t), "rs3", bin, "flood", "--iface", "eth0", "--mac", strings.TrimSpace(mac), "--dst", dst, "--count", "20000"); err != nil {
			t.Fatalf("flood: %v %s", err, out)
		}
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() > 0 || ok.Load() == 0 {
		t.Fatalf("real traffic during the flood: %d ok, %d failed", ok.Load(), failed.Load())
	}
	state, err := exec.Command("sh", "-c", "GVSD_SOCKET="+d.Socket+" curl -s --unix-socket "+d.Socket+" http://gvsd/v1/state").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(state), `"malformed":`) || strings.Contains(string(state), `"malformed":0`) {
		t.Fatalf("malformed frames not counted: %s", state)
	}
	t.Logf("during the flood: %d requests succeeded; state: %s", ok.Load(), state)
}

// TestRestartAndReload: gvsd restarted with the same configuration brings
// every service back; SIGHUP applies a changed file without touching the
// unchanged services or their connections.
func TestRestartAndReload(t *testing.T) {
	cfg := "services:\n" + rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80) + rsConfig("udp", "10.0.2.100", 9000, "rr", "masq", "", 9000)
	d := director(t, cfg)
	before := adm(t, d, "-Sn")
	d.Stop()
	d2, err := d.Lab.StartDirector(ctx(t), "dir", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Stop()
	if after := adm(t, d2, "-Sn"); after != before {
		t.Fatalf("services after restart:\n%s\nbefore:\n%s", after, before)
	}
	if got := whoami(t, d2.Lab, lab.Client(0, false).String(), "http://10.0.2.100/"); !strings.HasPrefix(got, "rs") {
		t.Fatalf("no traffic after restart: %q", got)
	}
	// reload: add a service and change the UDP one's scheduler; the TCP
	// service keeps its connection entry
	conns := adm(t, d2, "-Lnc")
	cfg2 := "services:\n" + rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80) + rsConfig("udp", "10.0.2.100", 9000, "wlc", "masq", "", 9000) +
		rsConfig("tcp", "10.0.2.101", 80, "rr", "route", "", 80)
	if err := os.WriteFile(d2.Config, []byte(cfg2), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d2.Reload(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	listing := adm(t, d2, "-Ln")
	if !strings.Contains(listing, "UDP  10.0.2.100:9000 wlc") || !strings.Contains(listing, "TCP  10.0.2.101:80 rr") {
		t.Fatalf("reload not applied:\n%s", listing)
	}
	if after := adm(t, d2, "-Lnc"); !strings.Contains(after, strings.Fields(strings.Split(conns, "\n")[2])[3]) {
		t.Fatalf("the unchanged service lost its connection:\nbefore %s\nafter %s", conns, after)
	}
	// an invalid file changes nothing and says which line
	if err := os.WriteFile(d2.Config, []byte(cfg2+"  - protocol: tcp\n    address: nonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d2.Reload()
	time.Sleep(500 * time.Millisecond)
	if got := adm(t, d2, "-Ln"); got != listing {
		t.Fatalf("an invalid configuration changed the state:\n%s", got)
	}
	if log := d2.Log(); !strings.Contains(log, `not an IP address`) || !strings.Contains(log, ".yaml:") {
		t.Fatalf("the rejection must name the file and line:\n%s", log)
	}
}

// TestTunnelUploadWhole: a bulk upload through an IPv6-in-IPv6 tunnel
// reaches the real server as whole super-frames (the director's TC
// program encapsulates them instead of gvsd segmenting them), which the
// real server's decapsulator hands to its stack whole (its gso counter).
func TestTunnelUploadWhole(t *testing.T) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Skip("needs iperf3 (CI installs it)")
	}
	// sh: iperf3's control and data connections must meet on one server
	d := director(t, "services:\n"+rsConfig("tcp", "fd00:2::102", lab.IperfPort, "sh", "tunnel", "", lab.IperfPort))
	l := d.Lab
	for n := 1; n <= 3; n++ {
		if err := l.StartIperf(ctx(t), n, lab.IperfPort); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.StopIperf(n, lab.IperfPort) })
	}
	gso := func() (sum uint64) {
		for n := 1; n <= 3; n++ {
			name := "tundecap-" + lab.RS(n)
			before := strings.Count(l.Log(name), "counters")
			if err := l.Signal(name, syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			var line string
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if log := l.Log(name); strings.Count(log, "counters") > before {
					lines := strings.Split(strings.TrimSpace(log), "\n")
					line = lines[len(lines)-1]
					break
				}
			}
			v, _ := strconv.ParseUint(field(line, "gso"), 10, 64)
			sum += v
		}
		return sum
	}
	before := gso()
	out, err := l.Exec(ctx(t), "client", "iperf3", "-6", "-c", "fd00:2::102", "-p", strconv.Itoa(lab.IperfPort), "-B", lab.Client(0, true).String(), "-t", "2", "-J", "--connect-timeout", "3000")
	if err != nil {
		t.Fatalf("iperf3: %v\n%s", err, out)
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.End.SumReceived.BitsPerSecond == 0 {
		t.Fatalf("iperf3 reported no transfer (%v):\n%s", err, out)
	}
	t.Logf("6in6 upload: %.2f Gbit/s", res.End.SumReceived.BitsPerSecond/1e9)
	if got := gso() - before; got == 0 {
		t.Fatal("the real servers' decapsulators received no super-frame: the upload was cut into MTU-sized packets")
	} else {
		t.Logf("%d super-frames decapsulated whole", got)
	}
}
