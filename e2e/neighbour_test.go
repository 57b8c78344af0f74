package e2e

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestNATReplyWaitsForNeighbour: a NAT client on a link of the director's
// whose link-layer address the director has never seen. The real server's
// SYN-ACK reaches the director before the director knows where to send it;
// it waits for the ARP / neighbour discovery answer instead of being
// dropped, so the client sends its SYN once (a drop costs a retransmitted
// SYN a second later).
func TestNATReplyWaitsForNeighbour(t *testing.T) {
	d := director(t, "services:\n"+rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80)+
		rsConfig("tcp", "fd00:2::100", 80, "rr", "masq", "", 80))
	l := d.Lab
	run := func(role string, argv ...string) string {
		t.Helper()
		out, err := l.Run(ctx(t), role, argv...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	dirMAC := strings.TrimSpace(run("dir", "cat", "/sys/class/net/eth0/address"))
	// The router plays the client, from addresses of a network the director
	// reaches on its own link (not the real servers' network: their replies
	// would go straight back). The router knows the VIPs' MAC already (a
	// permanent entry), so it sends no ARP or solicitation from the new
	// address that would teach the director before the test does.
	for _, c := range []struct{ client, net, vip string }{
		{"10.0.9.250", "10.0.9.0/24", "10.0.2.100"},
		{"fd00:9::250", "fd00:9::/64", "fd00:2::100"},
	} {
		client := netip.MustParseAddr(c.client)
		bits := "32"
		if client.Is6() {
			bits = "128"
		}
		run("router", "ip", "addr", "add", c.client+"/"+bits, "dev", "br0", "nodad")
		run("router", "ip", "neigh", "replace", c.vip, "lladdr", dirMAC, "dev", "br0", "nud", "permanent")
		run("dir", "ip", "route", "add", c.net, "dev", "eth0")
		t.Cleanup(func() {
			l.Run(ctx(t), "router", "ip", "addr", "del", c.client+"/"+bits, "dev", "br0")
			l.Run(ctx(t), "router", "ip", "neigh", "del", c.vip, "dev", "br0")
			l.Run(ctx(t), "dir", "ip", "route", "del", c.net, "dev", "eth0")
		})
	}
	// the client's own count of the SYNs it sent
	run("router", "nft", "add", "table", "inet", "gvs_syn")
	run("router", "nft", "add", "chain", "inet", "gvs_syn", "out", "{ type filter hook output priority 0; }")
	t.Cleanup(func() { l.Run(ctx(t), "router", "nft", "delete", "table", "inet", "gvs_syn") })
	run("router", "nft", "add", "rule", "inet", "gvs_syn", "out", "ip", "saddr", "10.0.9.250", "tcp", "flags", "syn", "counter")
	run("router", "nft", "add", "rule", "inet", "gvs_syn", "out", "ip6", "saddr", "fd00:9::250", "tcp", "flags", "syn", "counter")
	syns := func(src string) int {
		t.Helper()
		out := run("router", "nft", "list", "chain", "inet", "gvs_syn", "out")
		m := regexp.MustCompile(`saddr ` + regexp.QuoteMeta(src) + ` .*counter packets (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no counter for %s in:\n%s", src, out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}

	for _, c := range []struct{ client, url string }{
		{"10.0.9.250", "http://10.0.2.100/whoami"},
		{"fd00:9::250", "http://[fd00:2::100]/whoami"},
	} {
		out, err := l.HTTPGetFrom(ctx(t), "router", netip.MustParseAddr(c.client), c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.client, err)
		}
		if got := field(out, "client"); !strings.HasPrefix(got, c.client+":") {
			t.Fatalf("%s: the real server saw client %q (%q)", c.client, got, out)
		}
		if n := syns(c.client); n != 1 {
			t.Fatalf("%s: the client sent %d SYNs, want 1: the director dropped the reply while asking for the client's address\ngvsd state: %s", c.client, n, adm(t, d, "-Ln"))
		}
	}
}
