package bench

import (
	"slices"
	"testing"
)

// settleAgain keeps a load's runs measured again only when no flagged run
// of that load is left unmeasured, in any scenario, or failed measuring
// again; it counts what it kept by scenario and what it dropped by load.
func TestEnvSettleAgain(t *testing.T) {
	e := &env{
		r:    NewResults(Scenarios, []string{"udp", "cps", "bulk"}),
		host: &hostProbe{redone: map[string]int{}, dropped: map[string]int{}},
	}
	udp, cps, bulk := load{name: "udp"}, load{name: "cps"}, load{name: "bulk"}
	b, d := Scenarios[1], Scenarios[3]
	m := e.r.Mark()
	e.r.Add("udp_pps", "b", 200e3)
	e.r.Add("udp_pps", "d", 210e3)
	e.r.Add("cps", "d", 4e3)
	e.r.Add("bulk_fwd", "d", 9)
	e.r.MarkSlow(m)
	again := func(sc Scenario, ld load, metric string, v float64) {
		m := e.r.Mark()
		e.r.Add(metric, sc.ID, v)
		e.r.MarkAgain(m, ld.name)
		e.measured = append(e.measured, pending{sc, ld})
	}
	again(b, udp, "udp_pps", 300e3) // (d)'s udp is still queued: dropped
	again(d, cps, "cps", 7e3)       // every flagged cps run: kept
	again(d, bulk, "bulk_fwd", 15)  // but bulk failed once meanwhile: dropped
	e.again = []pending{{d, udp}}
	e.markUnsettled(bulk.name)
	e.settleAgain()
	for _, c := range []struct {
		metric, sc string
		want       []float64
	}{
		{"udp_pps", "b", []float64{200e3}},
		{"udp_pps", "d", []float64{210e3}},
		{"cps", "d", []float64{7e3}},
		{"bulk_fwd", "d", []float64{9}},
	} {
		if got := e.r.Lookup(c.metric, c.sc).Values; !slices.Equal(got, c.want) {
			t.Errorf("%s/%s %v, want %v", c.metric, c.sc, got, c.want)
		}
	}
	if e.host.redone["d"] != 1 || e.host.redone["b"] != 0 {
		t.Errorf("replaced %v, want (d) 1", e.host.redone)
	}
	if e.host.dropped["udp"] != 1 || e.host.dropped["bulk"] != 1 || e.host.dropped["cps"] != 0 {
		t.Errorf("dropped %v, want udp 1, bulk 1", e.host.dropped)
	}
}
