package bench

import (
	"math"
	"testing"
)

const delayBefore = `# TYPE gvs_worker_receive_delay_seconds histogram
gvs_worker_receive_delay_seconds_bucket{le="1e-05"} 10
gvs_worker_receive_delay_seconds_bucket{le="0.0001"} 20
gvs_worker_receive_delay_seconds_bucket{le="0.001"} 20
gvs_worker_receive_delay_seconds_bucket{le="+Inf"} 20
gvs_worker_receive_delay_seconds_sum 0.001
gvs_worker_receive_delay_seconds_count 20
`

const delayAfter = `gvs_worker_receive_delay_seconds_bucket{le="+Inf"} 221
gvs_worker_receive_delay_seconds_bucket{le="0.001"} 220
gvs_worker_receive_delay_seconds_bucket{le="0.0001"} 120
gvs_worker_receive_delay_seconds_bucket{le="1e-05"} 10
gvs_worker_received_packets_total{worker="0"} 221
`

func TestDelayHistogramQuantiles(t *testing.T) {
	before, err := parseDelayHistogram(delayBefore)
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseDelayHistogram(delayAfter) // buckets in any order
	if err != nil {
		t.Fatal(err)
	}
	d, err := after.since(before)
	if err != nil {
		t.Fatal(err)
	}
	// since: 0 in (0,10µs], 100 in (10,100µs], 100 in (100µs,1ms], 1 above
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-12 }
	if q, ok := d.quantile(0.5); !ok || !near(q, 0.0001+0.0009*0.5/100) {
		t.Errorf("p50 %v %v", q, ok)
	}
	if q, ok := d.quantile(0.25); !ok || !near(q, 0.00001+0.00009*50.25/100) {
		t.Errorf("p25 %v %v", q, ok)
	}
	if q, ok := d.quantile(1); !ok || q != 0.001 {
		t.Errorf("p100 in the unbounded bucket: %v %v, want the highest finite bound", q, ok)
	}
	if _, ok := (delayHistogram{bounds: d.bounds, cum: make([]uint64, len(d.cum))}).quantile(0.5); ok {
		t.Error("a quantile of nothing")
	}
	if _, err := before.since(after); err == nil {
		t.Error("counts going back not refused")
	}
	if _, err := parseDelayHistogram("gvs_worker_received_packets_total 3\n"); err == nil {
		t.Error("no histogram, no error")
	}
	if _, err := parseDelayHistogram(`gvs_worker_receive_delay_seconds_bucket{le="x"} 3` + "\n"); err == nil {
		t.Error("bad bound accepted")
	}
}
