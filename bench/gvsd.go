package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// delayHistogram is gvsd's receive-delay histogram as its metrics show
// it: bucket upper bounds in seconds (the last +Inf) and cumulative counts.
type delayHistogram struct {
	bounds []float64
	cum    []uint64
}

const receiveDelayMetric = "gvs_worker_receive_delay_seconds_bucket"

// parseDelayHistogram reads the receive-delay histogram from a Prometheus
// text exposition.
func parseDelayHistogram(text string) (delayHistogram, error) {
	type bucket struct {
		le  float64
		cum uint64
	}
	var bs []bucket
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, receiveDelayMetric+"{") {
			continue
		}
		f := strings.Fields(line)
		i := strings.Index(f[0], `le="`)
		if len(f) != 2 || i < 0 {
			return delayHistogram{}, fmt.Errorf("unexpected line %q", line)
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(f[0][i+4:], `"}`), 64)
		if err != nil {
			return delayHistogram{}, fmt.Errorf("line %q: %w", line, err)
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return delayHistogram{}, fmt.Errorf("line %q: %w", line, err)
		}
		bs = append(bs, bucket{le, uint64(v)})
	}
	if len(bs) == 0 {
		return delayHistogram{}, errors.New("no " + receiveDelayMetric + " in gvsd's metrics")
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	var h delayHistogram
	for _, b := range bs {
		h.bounds = append(h.bounds, b.le)
		h.cum = append(h.cum, b.cum)
	}
	return h, nil
}

// since returns the histogram of what was counted after before (same
// buckets).
func (h delayHistogram) since(before delayHistogram) (delayHistogram, error) {
	if len(before.cum) == 0 {
		return h, nil
	}
	if len(before.cum) != len(h.cum) {
		return delayHistogram{}, errors.New("gvsd's receive-delay buckets changed")
	}
	d := delayHistogram{bounds: h.bounds, cum: make([]uint64, len(h.cum))}
	for i := range h.cum {
		if h.cum[i] < before.cum[i] {
			return delayHistogram{}, errors.New("gvsd's receive-delay counts went back (a restart?)")
		}
		d.cum[i] = h.cum[i] - before.cum[i]
	}
	return d, nil
}

// quantile estimates the q-quantile in seconds, interpolating linearly
// within the bucket that holds it (as Prometheus' histogram_quantile
// does); in the last, unbounded bucket it is the highest finite bound.
func (h delayHistogram) quantile(q float64) (float64, bool) {
	n := len(h.cum)
	if n == 0 || h.cum[n-1] == 0 {
		return 0, false
	}
	rank := q * float64(h.cum[n-1])
	for i, c := range h.cum {
		if float64(c) < rank {
			continue
		}
		if math.IsInf(h.bounds[i], 1) {
			if i == 0 {
				return 0, false
			}
			return h.bounds[i-1], true
		}
		lo, below := 0.0, uint64(0)
		if i > 0 {
			lo, below = h.bounds[i-1], h.cum[i-1]
		}
		in := c - below
		if in == 0 {
			return h.bounds[i], true
		}
		return lo + (h.bounds[i]-lo)*(rank-float64(below))/float64(in), true
	}
	return h.bounds[n-1], true
}

// gvsdReceiveDelay scrapes gvsd's metrics in the director's namespace.
func (e *env) gvsdReceiveDelay(ctx context.Context) (delayHistogram, error) {
	out, err := e.l.HTTPGetFrom(ctx, "dir", netip.Addr{}, "http://"+MetricsAddr+"/metrics")
	if err != nil {
		return delayHistogram{}, err
	}
	return parseDelayHistogram(out)
}

// receiveDelay records the p50 and p99 receive delay (µs) of what gvsd's
// workers took since before (beforeErr: it could not be read), and how
// many frames they took per request of the requests made meanwhile.
func (e *env) receiveDelay(ctx context.Context, sc Scenario, before delayHistogram, beforeErr error, requests int) {
	fail := func(err error) {
		e.r.Fail("rxd_p50", sc.ID, err)
		e.r.Fail("rxd_p99", sc.ID, err)
		e.r.Fail("rxd_frames", sc.ID, err)
	}
	if beforeErr != nil {
		fail(beforeErr)
		return
	}
	after, err := e.gvsdReceiveDelay(ctx)
	if err != nil {
		fail(err)
		return
	}
	d, err := after.since(before)
	if err != nil {
		fail(err)
		return
	}
	if n := len(d.cum); n > 0 && requests > 0 {
		e.r.Add("rxd_frames", sc.ID, float64(d.cum[n-1])/float64(requests))
	}
	for _, m := range []struct {
		id string
		q  float64
	}{{"rxd_p50", 0.5}, {"rxd_p99", 0.99}} {
		if v, ok := d.quantile(m.q); ok {
			e.r.Add(m.id, sc.ID, v*1e6)
		} else {
			e.r.Fail(m.id, sc.ID, errors.New("gvsd's workers took no frame during the load"))
		}
	}
}
