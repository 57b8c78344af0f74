//go:build linux

package netctl

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestPathRouterRuleset(t *testing.T) {
	p := NewPathRouter(PathRouterOptions{})
	if got := p.ruleset(); got != "add table inet gvs_health\ndelete table inet gvs_health\n" {
		t.Fatalf("empty ruleset:\n%s", got)
	}
	p.byIndex[1], p.byIndex[0x1f] = &pathEntry{mark: 0x47480001}, &pathEntry{mark: 0x47560003} // a tunnel path: the data path's mark
	p.entries[pathKey{}] = p.byIndex[1]
	got := p.ruleset()
	for _, want := range []string{
		"type filter hook output priority mangle - 10;",
		"meta mark 0x47480001 meta priority set 4748:1\n",
		"meta mark 0x47560003 meta priority set 4748:1f\n",
		"type route hook output priority mangle + 10;",
		"meta priority 4748:1f meta mark set 0x47560003 meta priority set 0:0\n",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("ruleset lacks %q:\n%s", want, got)
		}
	}
	if _, err := p.Route(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::2"), 0); err == nil {
		t.Fatal("mixed families accepted")
	}
}

// inNewNetns runs fn in a fresh network namespace (root only).
func inNewNetns(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread ends with the goroutine, namespace and all
		if _, err := netns.New(); err != nil {
			t.Errorf("netns: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// TestPathRouterLinux: in a namespace of its own, a DR path installs the
// rule, the route (via the real server, onlink, on the interface toward
// it) and the mark-keeping nftables rules; the route is what a marked
// lookup of the VIP finds; the last Release removes them all.
func TestPathRouterLinux(t *testing.T) {
	inNewNetns(t, func() {
		must := func(err error) {
			if err != nil {
				t.Error(err)
				runtime.Goexit()
			}
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "gvst0"}, PeerName: "gvst1"}
		must(netlink.LinkAdd(veth))
		link, err := netlink.LinkByName("gvst0")
		must(err)
		must(netlink.LinkSetUp(link))
		if peer, err := netlink.LinkByName("gvst1"); err == nil {
			must(netlink.LinkSetUp(peer))
		}
		addr, _ := netlink.ParseAddr("10.9.0.1/24")
		must(netlink.AddrAdd(link, addr))

		vip, rs := netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("10.9.0.5")
		p := NewPathRouter(PathRouterOptions{})
		m1, err := p.Route(vip, rs, 0)
		must(err)
		m2, err := p.Route(vip, rs, 0) // a second port of the same VIP: shared
		must(err)
		if m1 != m2 || m1&0xffff0000 != 0x47480000 {
			t.Errorf("marks %#x %#x", m1, m2)
		}
		other, err := p.Route(vip, netip.MustParseAddr("10.9.0.6"), 0)
		must(err)
		if other == m1 {
			t.Errorf("two real servers share mark %#x", m1)
		}
		// a tunnel path keeps the mark it is given (the data path encapsulates under it)
		tun := netip.MustParseAddr("10.9.0.7")
		if m, err := p.Route(vip, tun, 0x47560009); err != nil || m != 0x47560009 {
			t.Errorf("tunnel path: mark %#x, %v", m, err)
		}
		if routes, err := netlink.RouteGetWithOptions(net.IP(vip.AsSlice()), &netlink.RouteGetOptions{Mark: 0x47560009}); err != nil ||
			len(routes) != 1 || !routes[0].Gw.Equal(net.IP(tun.AsSlice())) {
			t.Errorf("marked lookup of the VIP for the tunnel path: %+v %v", routes, err)
		}
		p.Release(vip, tun, 0x47560009)
		// the kernel's answer for a packet to the VIP carrying the mark
		routes, err := netlink.RouteGetWithOptions(net.IP(vip.AsSlice()), &netlink.RouteGetOptions{Mark: m1})
		must(err)
		if len(routes) != 1 || !routes[0].Gw.Equal(net.IP(rs.AsSlice())) || routes[0].LinkIndex != link.Attrs().Index {
			t.Errorf("marked lookup of the VIP: %+v", routes)
		}
		out, err := exec.Command("nft", "list", "table", "inet", NFTHealthTable).CombinedOutput()
		must(err)
		if !strings.Contains(string(out), "meta priority set 4748:") {
			t.Errorf("nft table:\n%s", out)
		}
		p.Release(vip, rs, 0)
		if _, err := netlink.RouteGetWithOptions(net.IP(vip.AsSlice()), &netlink.RouteGetOptions{Mark: m1}); err != nil {
			t.Errorf("released while still used: %v", err)
		}
		p.Release(vip, rs, 0)
		p.Release(vip, netip.MustParseAddr("10.9.0.6"), 0)
		rules, err := netlink.RuleList(netlink.FAMILY_V4)
		must(err)
		for _, r := range rules {
			if r.Mark&0xffff0000 == 0x47480000 || r.Mark == 0x47560009 {
				t.Errorf("rule left behind: %+v", r)
			}
		}
		if out, err := exec.Command("nft", "list", "table", "inet", NFTHealthTable).CombinedOutput(); err == nil {
			t.Errorf("nft table left behind:\n%s", out)
		}
		if len(p.Paths()) != 0 {
			t.Errorf("paths: %v", p.Paths())
		}
	})
}
