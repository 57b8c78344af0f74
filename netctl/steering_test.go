package netctl

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestRulesetShape(t *testing.T) {
	s := Steering{
		Interfaces: []string{"eth0"},
		Services: []Endpoint{
			{Addr: netip.MustParseAddr("10.0.2.100"), Protocol: 6, Port: 80},
			{Addr: netip.MustParseAddr("fd00:2::100"), Protocol: 17, Port: 53},
			{Addr: netip.MustParseAddr("10.0.2.101"), Protocol: 6, Port: 0},
		},
		NATReplies: []Endpoint{{Addr: netip.MustParseAddr("10.0.2.11"), Protocol: 6, Port: 80}},
	}
	r := s.Ruleset()
	for _, want := range []string{
		"10.0.2.100 . tcp . 80", "fd00:2::100 . udp . 53", "10.0.2.101 . tcp",
		"10.0.2.11 . tcp . 80", `iifname != { "eth0" } return`, "hook prerouting priority -500", "delete table netdev gvs",
		"ip daddr @svcip4 ip frag-off & 0x1fff != 0", "ip saddr @natip4 ip frag-off & 0x1fff != 0",
		"ip6 daddr @svcip6 frag frag-off != 0", "ip6 saddr @natip6 frag frag-off != 0",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, r)
		}
	}
	if empty := (Steering{}).Ruleset(); strings.Contains(empty, "chain") {
		t.Errorf("no interfaces: the table must be removed, got\n%s", empty)
	}
}

// TestApplySteeringInNamespace loads the rules into a real kernel (in a
// throwaway network namespace) so nft's grammar is checked for real.
func TestApplySteeringInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("netctl: needs root for a network namespace (CI runs as root)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("netctl: needs nft (package nftables; CI installs it)")
	}
	ns := "gvsnetctl" + strings.TrimPrefix(t.Name(), "Test")[:4]
	exec.Command("ip", "netns", "del", ns).Run()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	run := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
		return string(out)
	}
	run("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	s := Steering{
		Interfaces: []string{"v0", "v1"},
		Services:   []Endpoint{{Addr: netip.MustParseAddr("10.0.2.100"), Protocol: 6, Port: 80}, {Addr: netip.MustParseAddr("fd00::1"), Protocol: 132, Port: 0}},
		NATReplies: []Endpoint{{Addr: netip.MustParseAddr("10.0.2.11"), Protocol: 17, Port: 53}},
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(s.Ruleset())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft rejected the ruleset: %v %s\n%s", err, out, s.Ruleset())
	}
	// applying twice replaces, and the empty steering removes the table
	cmd = exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(s.Ruleset())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("re-apply: %v %s", err, out)
	}
	if !strings.Contains(run("nft", "list", "ruleset"), "10.0.2.100 . tcp . 80") {
		t.Fatal("set element missing")
	}
	cmd = exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(Steering{}.Ruleset())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("remove: %v %s", err, out)
	}
	if strings.Contains(run("nft", "list", "ruleset"), "gvs") {
		t.Fatal("table not removed")
	}
}
