//go:build linux

package bench

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/govs/gvs/lab"
)

// TestSmoke runs one tiny scenario for real: kernel routing through the
// director namespace, the small-packet, connection and latency loads for
// a second each. It needs root and the lab's packages; the full benchmark is
// ./scripts/bench, never go test.
func TestSmoke(t *testing.T) {
	if err := lab.Available(); err != nil {
		t.Skipf("smoke test skipped: %v (run as root, as CI does; the benchmark itself is ./scripts/bench)", err)
	}
	if err := lab.ServicesAvailable(); err != nil {
		t.Skipf("smoke test skipped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	o := DefaultOptions()
	o.Prefix = "gvsbsmoke"
	o.Scenarios, _ = SelectScenarios("a")
	o.Loads = []string{"udp", "cps", "latency", "cost"}
	o.Runs, o.Duration, o.Senders2 = 1, time.Second, 0
	start := time.Now()
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("smoke run in %s", time.Since(start).Round(time.Millisecond))
	for _, m := range []string{"udp_pps", "cps", "lat_p99", "lat_p99_all", "cost_machine"} {
		c := r.Lookup(m, "a")
		if c == nil || len(c.Errors) > 0 || c.Summary().N != 1 || c.Summary().Median <= 0 {
			t.Errorf("%s: %+v; notes %v", m, c, r.Notes)
		}
	}
	// one run: the pooled p99 is the run's own, from its requests'
	// samples (whole microseconds)
	if c := r.Lookup("lat_p99", "a"); c != nil && len(c.Samples) == 1 {
		if n := len(c.Samples[0]); n < o.Rate/2 {
			t.Errorf("%d latency samples from a 1-s run at %d/s", n, o.Rate)
		}
		if all := r.Lookup("lat_p99_all", "a"); all != nil && math.Abs(all.Summary().Median-c.Summary().Median) > 1 {
			t.Errorf("pooled p99 %.1f µs, the run's %.1f µs", all.Summary().Median, c.Summary().Median)
		}
	} else {
		t.Errorf("lat_p99 samples: %+v", c)
	}
	if loss := r.Lookup("udp_loss", "a").Summary(); loss.N != 1 || loss.Median > 50 {
		t.Errorf("kernel routing lost %.1f %% of the small packets", loss.Median)
	}
	probed := false
	for _, n := range r.Notes {
		t.Log("note:", n)
		// the BPF sink counted the flood and the host probe ran (a
		// fallback would leave the figures, and this test, standing)
		if strings.Contains(n, "instead of the BPF sink") || strings.HasPrefix(n, "no host probe") {
			t.Error("fell back:", n)
		}
		probed = probed || strings.HasPrefix(n, "host probe (")
	}
	if !probed {
		t.Error("no host probe note")
	}
}

func TestSrcPair(t *testing.T) {
	if got := srcPair(0).String(); got != "10.0.1.2:10000" {
		t.Errorf("pair 0: %s", got)
	}
	if got := srcPair(lab.Clients + 1).String(); got != "10.0.1.3:10001" {
		t.Errorf("pair %d: %s", lab.Clients+1, got)
	}
	if srcPair(SrcPairs+5) != srcPair(5) {
		t.Error("no wrap-around")
	}
	seen := map[string]bool{}
	for i := 0; i < SrcPairs; i += 97 {
		p := srcPair(i)
		if seen[p.String()] || p.Port() < SrcPortBase || p.Port() >= 32768 {
			t.Fatalf("pair %d: %s (repeated or outside the range)", i, p)
		}
		seen[p.String()] = true
	}
}
