package ipvsadm

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/govs/gvs/health"
)

// HealthBackend is a Backend that also reports health checks (gvsd's API
// client does; the in-process LocalBackend has no checks).
type HealthBackend interface {
	Health(ctx context.Context) ([]health.ServiceHealth, error)
}

// --health (GVS's addition) lists gvsd's health checks: each checked
// service with its quorum and sorry server, and each real server's check
// type, health, whether it is in the pool, its weight in the engine next
// to its configured one, its transitions, its last check and last error.
// Addresses are always numeric. With --json the document is
// {"health": [ServiceHealth...]} as GET /v1/health returns it.
//
//	gvsadm -L --health
//	gvsadm -L --health --json

// JSONHealth is the document of gvsadm -L --health --json.
type JSONHealth struct {
	Health []health.ServiceHealth `json:"health"`
}

func (c *CLI) listHealth(ctx context.Context, ce *Command, out *strings.Builder) error {
	hb, ok := c.Backend.(HealthBackend)
	if !ok {
		return fail(2, "--health lists gvsd's health checks: this backend has none")
	}
	list, err := hb.Health(ctx)
	if err != nil {
		return kernelError(fnNone, err, 1)
	}
	if ce.format&fmtJSON != 0 {
		if list == nil {
			list = []health.ServiceHealth{}
		}
		writeJSON(out, JSONHealth{Health: list})
		return nil
	}
	writeHealth(out, list, time.Now())
	return nil
}

// writeHealth prints the health table.
func writeHealth(out *strings.Builder, list []health.ServiceHealth, now time.Time) {
	out.WriteString("Prot LocalAddress:Port Quorum Healthy-Weight Sorry-Server\n")
	fmt.Fprintf(out, "  -> %-28s %-6s %-7s %-4s %6s %6s %5s %9s %s\n",
		"RemoteAddress:Port", "Check", "Health", "Pool", "Weight", "Config", "Trans", "LastCheck", "LastError")
	for i := range list {
		s := &list[i]
		q := "up"
		if !s.QuorumUp {
			q = "down"
		}
		sorry := "-"
		if s.SorryServer != "" {
			sorry = s.SorryServer
			if s.SorryActive {
				sorry += " (active)"
			}
		}
		fmt.Fprintf(out, "%s %s/%d %d %s", s.Service.String(), q, s.Quorum, s.HealthyWeight, sorry)
		if s.Name != "" {
			fmt.Fprintf(out, " (%s)", s.Name)
		}
		out.WriteByte('\n')
		for j := range s.Dests {
			d := &s.Dests[j]
			pool := "no"
			if d.InPool {
				pool = "yes"
			}
			state := string(d.State)
			if d.SlowStart {
				state += "*" // ramping up (slow start)
			}
			last := "-"
			if !d.LastCheck.IsZero() {
				last = ago(now.Sub(d.LastCheck))
			}
			line := fmt.Sprintf("  -> %-28s %-6s %-7s %-4s %6d %6d %5d %9s %s", netip.AddrPortFrom(d.Addr, d.Port), d.Check, state, pool,
				d.Weight, d.ConfiguredWeight, d.Transitions, last, d.LastError)
			out.WriteString(strings.TrimRight(line, " "))
			out.WriteByte('\n')
		}
	}
}

// ago renders how long ago a check ran, to the tenth of a second.
func ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
