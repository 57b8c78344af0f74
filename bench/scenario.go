//go:build linux

package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/govs/gvs/lab"
	"github.com/vishvananda/netlink"
)

// Ports and addresses every scenario shares.
const (
	FloodPort = 9999 // the small-packet load's UDP port, dropped at the real servers
	// MetricsAddr is where gvsd serves its metrics, in the director's namespace
	MetricsAddr = "127.0.0.1:9107"
	HTTPPort    = lab.HTTPPort
	IperfPort   = lab.IperfPort
	servers     = 3
)

// VIP is the virtual address the load-balancing scenarios serve.
var VIP = lab.VIP(0, false)

func realServers() []netip.Addr {
	var a []netip.Addr
	for n := 1; n <= servers; n++ {
		a = append(a, lab.RealServer(n, false))
	}
	return a
}

// targets returns where a scenario's loads go: the VIP, or for kernel
// routing the real servers' own addresses (bulk: the first one).
func targets(sc Scenario) (spread []netip.Addr, bulk netip.Addr) {
	if sc.ID == "a" {
		rs := realServers()
		return rs, rs[0]
	}
	return []netip.Addr{VIP}, VIP
}

const haproxyName = "bench-haproxy"

// setup makes the director namespace into the scenario.
func (e *env) setup(ctx context.Context, sc Scenario) error {
	switch sc.ID {
	case "a":
		// the router sends the real servers' addresses through the
		// director, which routes them as any router
		var lines []string
		for _, rs := range realServers() {
			lines = append(lines, fmt.Sprintf("route replace %s/32 via %s", rs, lab.Director4))
		}
		return e.ipBatch(ctx, "router", lines)
	case "b":
		if err := e.l.AddVIP(ctx, "dir", VIP); err != nil {
			return err
		}
		return e.nft(ctx, "dir", nftDNAT())
	case "c":
		bin, err := lookTool("haproxy")
		if err != nil {
			return fmt.Errorf("haproxy is not installed (Debian package haproxy)")
		}
		if err := e.l.AddVIP(ctx, "dir", VIP); err != nil {
			return err
		}
		cfg := filepath.Join(e.l.Dir, "bench-haproxy.cfg")
		if err := os.WriteFile(cfg, []byte(haproxyConfig()), 0o644); err != nil {
			return err
		}
		if err := e.l.Spawn(haproxyName, "dir", bin, "-db", "-f", cfg); err != nil {
			return err
		}
		return nil
	default:
		if !sc.GVS {
			return fmt.Errorf("unknown scenario %q", sc.ID)
		}
		var args []string
		if e.o.GVSDWorkers > 0 {
			args = append(args, "--workers", strconv.Itoa(e.o.GVSDWorkers))
		}
		args = append(args, e.o.GVSDArgs...)
		d, err := e.l.StartDirector(ctx, "dir", []byte(gvsConfig(sc.Forward)), args...)
		if err != nil {
			return err
		}
		e.gvsd = d
		return nil
	}
}

// alive reports why the scenario's process has gone, or nil.
func (e *env) alive(sc Scenario) error {
	switch {
	case sc.ID == "c" && !e.l.Running(haproxyName):
		return fmt.Errorf("haproxy exited; its log: %s", tail(e.l.Log(haproxyName), 300))
	case sc.GVS && (e.gvsd == nil || !e.l.Running("gvsd-dir")):
		log := ""
		if e.gvsd != nil {
			log = e.gvsd.Log()
		}
		return fmt.Errorf("gvsd exited; its log: %s", tail(log, 300))
	}
	return nil
}

// teardown undoes setup and then checks (and enforces) that nothing of the
// scenario is left: no nftables ruleset and no extra address in the
// director, no extra route in the router, no conntrack entry, no process.
// It returns what it had to clean up.
func (e *env) teardown(ctx context.Context, sc Scenario) []string {
	var problems []string
	switch sc.ID {
	case "a":
		for _, rs := range realServers() {
			e.l.Exec(ctx, "router", "ip", "route", "del", rs.String()+"/32")
		}
	case "b":
		if out, err := e.l.Exec(ctx, "dir", "nft", "delete", "table", "ip", "gvsbench"); err != nil {
			problems = append(problems, "nft delete table: "+oneLine(out))
		}
		e.l.DelVIP(ctx, "dir", VIP)
	case "c":
		e.l.Kill(haproxyName)
		e.l.DelVIP(ctx, "dir", VIP)
	default:
		if e.gvsd != nil {
			e.gvsd.Stop()
			e.lastGVSDLog = e.gvsd.Log()
			e.gvsd = nil
		}
	}
	return append(problems, e.enforceClean(ctx)...)
}

// enforceClean removes whatever a scenario left in the director and
// router, and says what it found.
func (e *env) enforceClean(ctx context.Context) []string {
	var found []string
	if out, err := e.l.Run(ctx, "dir", "nft", "list", "ruleset"); err == nil && strings.TrimSpace(out) != "" {
		found = append(found, "nftables ruleset left in the director: "+oneLine(out))
		e.l.Exec(ctx, "dir", "nft", "flush", "ruleset")
	}
	if out, err := e.l.Run(ctx, "dir", "ip", "-4", "-o", "addr", "show", "dev", "eth0"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "inet" && !strings.HasPrefix(f[i+1], lab.Director4.String()+"/") {
					found = append(found, "address left on the director: "+f[i+1])
					e.l.Exec(ctx, "dir", "ip", "addr", "del", f[i+1], "dev", "eth0")
				}
			}
		}
	}
	if out, err := e.l.Run(ctx, "router", "ip", "-4", "route", "show"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "via "+lab.Director4.String()) {
				found = append(found, "route left in the router: "+line)
				e.l.Exec(ctx, "router", "ip", "route", "del", strings.Fields(line)[0])
			}
		}
	}
	for _, name := range []string{haproxyName, "gvsd-dir"} {
		if e.l.Running(name) {
			found = append(found, name+" still running")
			e.l.Kill(name)
		}
	}
	// NAT bindings live in conntrack, not in the rules: flush them so the
	// next scenario's flows (same addresses and ports) start afresh
	if err := e.flushConntrack(); err != nil {
		found = append(found, "conntrack flush: "+err.Error())
	}
	return found
}

func (e *env) flushConntrack() error {
	ns, err := e.l.Netns("dir")
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	return h.ConntrackTableFlush(netlink.ConntrackTable)
}

func (e *env) ipBatch(ctx context.Context, role string, lines []string) error {
	cmd := e.l.Command(ctx, role, "ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -batch in %s: %v: %s", role, err, oneLine(string(out)))
	}
	return nil
}

func (e *env) nft(ctx context.Context, role, ruleset string) error {
	cmd := e.l.Command(ctx, role, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f in %s: %v: %s", role, err, oneLine(string(out)))
	}
	return nil
}

func rsMap() string {
	var parts []string
	for i, rs := range realServers() {
		parts = append(parts, fmt.Sprintf("%d : %s", i, rs))
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// nftDNAT is scenario (b)'s load balancer: numgen round robin for the
// UDP and HTTP services, a source hash for iperf3 (whose control and data
// connections must reach one server).
func nftDNAT() string {
	m := rsMap()
	return fmt.Sprintf(`table ip gvsbench {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr %[1]s udp dport %[2]d dnat to numgen inc mod %[5]d map %[4]s
		ip daddr %[1]s tcp dport %[3]d dnat to numgen inc mod %[5]d map %[4]s
		ip daddr %[1]s tcp dport %[6]d dnat to jhash ip saddr mod %[5]d map %[4]s
	}
}
`, VIP, FloodPort, HTTPPort, m, servers, IperfPort)
}

// haproxyConfig is scenario (c): TCP mode, round robin for HTTP, source
// hashing for iperf3. maxconn 8000 fits the open-file limit.
func haproxyConfig() string {
	var b strings.Builder
	b.WriteString("global\n    maxconn 8000\n\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\n")
	for _, svc := range []struct {
		name, balance string
		port          int
	}{{"web", "roundrobin", HTTPPort}, {"iperf", "source", IperfPort}} {
		fmt.Fprintf(&b, "frontend %s\n    bind %s:%d\n    default_backend %s\n\nbackend %s\n    balance %s\n", svc.name, VIP, svc.port, svc.name, svc.name, svc.balance)
		for n, rs := range realServers() {
			fmt.Fprintf(&b, "    server rs%d %s:%d\n", n+1, rs, svc.port)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// gvsConfig is scenarios (d)-(f): the same three services with one
// forwarding method (rr for UDP and HTTP, sh for iperf3).
func gvsConfig(forward string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "options:\n  max_conns: 1048576\nmetrics:\n  listen: %q\nservices:\n", MetricsAddr)
	for _, svc := range []struct {
		name, proto, sched string
		port               int
	}{{"bench-udp", "udp", "rr", FloodPort}, {"bench-http", "tcp", "rr", HTTPPort}, {"bench-iperf", "tcp", "sh", IperfPort}} {
		fmt.Fprintf(&b, "  - name: %s\n    protocol: %s\n    address: %s\n    port: %d\n    scheduler: %s\n    real_servers:\n", svc.name, svc.proto, VIP, svc.port, svc.sched)
		for _, rs := range realServers() {
			fmt.Fprintf(&b, "      - {address: %s, port: %d, forward: %s}\n", rs, svc.port, forward)
		}
	}
	return b.String()
}

// rsCounter is the small-packet load's fallback sink on every real
// server, where the BPF one (floodSink) cannot be loaded: an nftables
// netdev-ingress rule on eth0 counting and dropping the flood (UDP to
// FloodPort, or ipip carrying it for TUN) before the stack. It runs after
// TC ingress, so a TUN packet has been decapsulated in the kernel by then.
func rsCounter() string {
	return fmt.Sprintf(`table netdev gvsbench {
	counter rx {}
	chain ingress {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ip protocol udp udp dport %[1]d counter name rx drop
		ip protocol ipencap @th,72,8 17 @th,176,16 %[1]d counter name rx drop
	}
}
`, FloodPort)
}

// rsDelivered sums the real servers' flood counters.
func (e *env) rsDelivered(ctx context.Context) (uint64, error) {
	if e.sink != nil {
		return e.sink.delivered()
	}
	var total uint64
	for n := 1; n <= servers; n++ {
		out, err := e.l.Run(ctx, lab.RS(n), "nft", "list", "counter", "netdev", "gvsbench", "rx")
		if err != nil {
			return 0, err
		}
		v, err := ParseNftCounter(out)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

// probe fetches / through the scenario until it answers (five seconds at
// most), so the loads start on a working path with ARP resolved.
func (e *env) probe(ctx context.Context, sc Scenario) error {
	dsts, _ := targets(sc)
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var body string
		body, err = e.l.HTTPGet(ctx, lab.Client(0, false).String(), fmt.Sprintf("http://%s/", dsts[0]))
		if err == nil && strings.HasPrefix(body, "rs") {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("unexpected answer %q", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

func tail(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
