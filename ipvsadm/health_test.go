package ipvsadm

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvs"
)

type healthBackend struct {
	*LocalBackend
	list []health.ServiceHealth
}

func (h healthBackend) Health(context.Context) ([]health.ServiceHealth, error) { return h.list, nil }

func runCLI(b Backend, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	c := &CLI{Backend: b, Stdout: &out, Stderr: &errb}
	code := c.Run(context.Background(), append([]string{"gvsadm"}, args...))
	return code, out.String(), errb.String()
}

func TestListHealth(t *testing.T) {
	eng, _ := ipvs.New(ipvs.Config{MaxConns: 16})
	now := time.Now()
	list := []health.ServiceHealth{{
		Service: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("10.0.2.100"), Port: 80},
		Name:    "web", Quorum: 1, QuorumUp: true, HealthyWeight: 12, SorryServer: "10.0.2.99:8080",
		Dests: []health.DestHealth{
			{Addr: netip.MustParseAddr("10.0.2.11"), Port: 80, Check: "exec", State: health.Up, Up: true, InPool: true,
				ConfiguredWeight: 5, TargetWeight: 7, Weight: 7, LastCheck: now.Add(-100 * time.Millisecond), Transitions: 2},
			{Addr: netip.MustParseAddr("10.0.2.12"), Port: 80, Check: "none", State: health.Up, Up: true, InPool: true, ConfiguredWeight: 5, Weight: 5},
			{Addr: netip.MustParseAddr("10.0.2.13"), Port: 80, Check: "http", State: health.Down, ConfiguredWeight: 5,
				LastCheck: now.Add(-200 * time.Millisecond), LastError: "connection refused", Transitions: 1},
		},
	}}
	b := healthBackend{NewLocalBackend(eng), list}
	code, out, errs := runCLI(b, "-L", "--health")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 6 || lines[2] != "TCP 10.0.2.100:80 up/1 12 10.0.2.99:8080 (web)" {
		t.Fatalf("listing:\n%s", out)
	}
	for i, want := range [][]string{
		{"->", "10.0.2.11:80", "exec", "up", "yes", "7", "5", "2", "0.1s"},
		{"->", "10.0.2.12:80", "none", "up", "yes", "5", "5", "0", "-"},
		{"->", "10.0.2.13:80", "http", "down", "no", "0", "5", "1", "0.2s", "connection", "refused"},
	} {
		if got := strings.Fields(lines[3+i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("line %d: %q, want %q\n%s", 3+i, got, want, out)
		}
	}
	code, out, _ = runCLI(b, "-L", "--health", "--json")
	var doc JSONHealth
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Health) != 1 || len(doc.Health[0].Dests) != 3 ||
		doc.Health[0].Dests[0].Weight != 7 || doc.Health[0].Dests[2].LastError != "connection refused" {
		t.Fatalf("--json: %d %s", code, out)
	}
	// conflicts and backends without health
	for _, args := range [][]string{{"-L", "--health", "-c"}, {"-L", "--health", "--stats"}, {"-A", "-t", "1.2.3.4:80", "--health"}} {
		if code, _, _ := runCLI(b, args...); code == 0 {
			t.Errorf("%v accepted", args)
		}
	}
	if code, _, errs := runCLI(NewLocalBackend(eng), "-L", "--health"); code == 0 || !strings.Contains(errs, "health") {
		t.Errorf("local backend: %d %q", code, errs)
	}
	if code, out, _ := runCLI(b, "-Ln"); code != 0 || strings.Contains(out, "health") {
		t.Errorf("-Ln: %d\n%s", code, out)
	}
}

func TestListHealthIPv6(t *testing.T) {
	eng, _ := ipvs.New(ipvs.Config{MaxConns: 16})
	list := []health.ServiceHealth{{
		Service: ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("fd00:2::100"), Port: 80},
		Quorum:  1, QuorumUp: true, HealthyWeight: 1,
		Dests: []health.DestHealth{{Addr: netip.MustParseAddr("fd00:2::11"), Port: 80, Check: "tcp", State: health.Up, Up: true, InPool: true, ConfiguredWeight: 1, Weight: 1}},
	}}
	code, out, errs := runCLI(healthBackend{NewLocalBackend(eng), list}, "-L", "--health")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 0 || len(lines) != 4 || strings.Join(strings.Fields(lines[3]), " ") != "-> [fd00:2::11]:80 tcp up yes 1 1 0 -" {
		t.Fatalf("exit %d %s:\n%s", code, errs, out)
	}
}
