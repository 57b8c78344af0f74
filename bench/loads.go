//go:build linux

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/govs/gvs/lab"
)

func addrsFlag(a []netip.Addr) string {
	var s []string
	for _, x := range a {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

// gen runs "gvs-bench gen KIND ARGS" in the client namespace and decodes
// its JSON result into v.
func (e *env) gen(ctx context.Context, v any, kind string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, e.o.Duration+30*time.Second)
	defer cancel()
	out, err := e.l.Run(ctx, "client", append([]string{e.bin, "gen", kind}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("gen %s output: %v: %s", kind, err, oneLine(out))
	}
	return nil
}

func (e *env) gvsdPid() int {
	for _, p := range e.l.Processes() {
		if p.Name == "gvsd-dir" && p.Alive {
			return p.Pid
		}
	}
	return 0
}

// loadUDP is load 1 with its first number of senders (and the
// measurement behind load 5).
func (e *env) loadUDP(ctx context.Context, sc Scenario) (string, error) {
	return e.flood(ctx, sc, e.o.Senders, "udp_pps", "udp_loss", e.r.HasLoad("cost"))
}

// loadUDP2 is load 1 with its second number of senders.
func (e *env) loadUDP2(ctx context.Context, sc Scenario) (string, error) {
	return e.flood(ctx, sc, e.o.Senders2, "udp_pps2", "udp_loss2", false)
}

func (e *env) flood(ctx context.Context, sc Scenario, senders int, ppsID, lossID string, cost bool) (string, error) {
	dsts, _ := targets(sc)
	pid := 0
	if sc.GVS {
		if pid = e.gvsdPid(); pid == 0 {
			return "", errors.New("no gvsd process to measure")
		}
	}
	before, err := e.rsDelivered(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the real servers' counters: %w", err)
	}
	var res UDPResult
	err = e.gen(ctx, &res, "udp", "--dst", addrsFlag(dsts), "--port", strconv.Itoa(FloodPort),
		"--flows", strconv.Itoa(e.o.Flows), "--senders", strconv.Itoa(senders), "--payload", strconv.Itoa(e.o.Payload),
		"--duration", e.o.Duration.String(), "--cpu-pid", strconv.Itoa(pid), "--pin="+strconv.FormatBool(e.o.Pin))
	if err != nil {
		return "", err
	}
	time.Sleep(300 * time.Millisecond) // packets still on their way
	after, err := e.rsDelivered(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the real servers' counters: %w", err)
	}
	delivered := after - before
	if res.Sent == 0 {
		return "", fmt.Errorf("nothing sent (%d send errors, first: %s)", res.Errors, res.FirstErr)
	}
	if delivered == 0 {
		return "", fmt.Errorf("nothing delivered of %d datagrams sent (%d send errors, first: %s)", res.Sent, res.Errors, res.FirstErr)
	}
	pps := float64(delivered) / res.Seconds
	loss := 100 * (1 - float64(delivered)/float64(res.Sent))
	e.r.Add(ppsID, sc.ID, pps)
	e.r.Add(lossID, sc.ID, math.Max(loss, 0))
	summary := fmt.Sprintf("udp, %d sender(s): %s pps, loss %.1f %%", senders, FormatValue("pps", pps), loss)
	if cost {
		mpkt := float64(delivered) / 1e6
		cpu := res.CPU
		if cpu.StatErr != "" {
			e.r.Fail("cost_machine", sc.ID, errors.New(cpu.StatErr))
		} else {
			e.r.Add("cost_machine", sc.ID, cpu.Busy/mpkt)
		}
		switch {
		case sc.GVS && cpu.Process < 0:
			e.r.Fail("cost_dir", sc.ID, fmt.Errorf("gvsd CPU time: %s", cpu.ProcErr))
		case sc.GVS && cpu.StatErr != "":
			e.r.Fail("cost_dir", sc.ID, errors.New(cpu.StatErr))
		case sc.GVS:
			// the fast path forwards established flows in softirq, where
			// gvsd's process time does not see it
			e.r.Cost[sc.ID] = "gvsd's utime+stime (/proc/PID/stat, all threads) plus the machine's softirq time (/proc/stat; the kernel fast path forwards there, as for the kernel peers an upper bound) over the load window"
			e.r.Add("cost_dir", sc.ID, (cpu.Process+cpu.SoftIRQ)/mpkt)
			summary += fmt.Sprintf(", gvsd %.2f + softirq %.2f s/Mpkt", cpu.Process/mpkt, cpu.SoftIRQ/mpkt)
		case cpu.StatErr == "":
			e.r.Cost[sc.ID] = "the machine's softirq time (/proc/stat) over the load window: the kernel forwards in softirq, but this also holds the client's, router's and real servers' softirq work (an upper bound on the director's share)"
			e.r.Add("cost_dir", sc.ID, cpu.SoftIRQ/mpkt)
			summary += fmt.Sprintf(", softirq %.2f s/Mpkt", cpu.SoftIRQ/mpkt)
		}
	}
	if res.Errors > 0 {
		e.r.Note("(%s) udp, %d sender(s): %d sendmmsg errors during one run (first: %s)", sc.ID, senders, res.Errors, res.FirstErr)
	}
	return summary, nil
}

// loadCPS is load 2.
func (e *env) loadCPS(ctx context.Context, sc Scenario) (string, error) {
	dsts, _ := targets(sc)
	var res ConnResult
	err := e.gen(ctx, &res, "tcp", "--dst", addrsFlag(dsts), "--port", strconv.Itoa(HTTPPort),
		"--workers", strconv.Itoa(e.o.Workers), "--duration", e.o.Duration.String(), "--src-index", strconv.Itoa(e.srcIndex))
	if err != nil {
		return "", err
	}
	e.srcIndex = (e.srcIndex + res.Used) % SrcPairs
	if res.OK == 0 {
		return "", fmt.Errorf("no connection completed (%d failed, first: %s)", res.Failed, res.FirstErr)
	}
	cps := float64(res.OK) / res.Seconds
	e.r.Add("cps", sc.ID, cps)
	e.r.Add("cps_fail", sc.ID, float64(res.Failed))
	if res.Failed > 0 {
		e.r.Note("(%s) cps: %d of %d connections failed in one run (first: %s)", sc.ID, res.Failed, res.Failed+res.OK, res.FirstErr)
	}
	return fmt.Sprintf("cps %s/s (%d failed)", FormatValue("conn/s", cps), res.Failed), nil
}

// loadBulk is load 3: iperf3 each way. A failed run restarts the iperf3
// servers, which can stay stuck in a broken test.
func (e *env) loadBulk(ctx context.Context, sc Scenario) (string, error) {
	_, dst := targets(sc)
	secs := int(math.Ceil(e.o.Duration.Seconds()))
	var parts []string
	var firstErr error
	for _, rev := range []bool{false, true} {
		metric := "bulk_fwd"
		args := []string{"iperf3", "-c", dst.String(), "-p", strconv.Itoa(IperfPort), "-t", strconv.Itoa(secs), "-J",
			"--connect-timeout", "3000", "-B", lab.Client(0, false).String()}
		if rev {
			metric = "bulk_rev"
			args = append(args, "-R")
		}
		// iperf3's server reopens its listening socket after a test: give
		// it a moment, and one more try if it refused the connection
		time.Sleep(500 * time.Millisecond)
		var out []byte
		var err error
		for try := 0; try < 2; try++ {
			c, cancel := context.WithTimeout(ctx, time.Duration(secs+20)*time.Second)
			out, err = e.l.Command(c, "client", args[0], args[1:]...).Output()
			cancel()
			if try == 0 && bytes.Contains(out, []byte("Connection refused")) {
				e.r.Note("(%s) %s: iperf3 was refused once and tried again after a second", sc.ID, metric)
				time.Sleep(time.Second)
				continue
			}
			break
		}
		bps, perr := ParseIperf3(out)
		if perr != nil {
			if err != nil && len(out) == 0 {
				perr = fmt.Errorf("iperf3: %v", err)
			}
			e.r.Fail(metric, sc.ID, perr)
			if firstErr == nil {
				firstErr = perr
			}
			e.restartIperf(ctx)
			parts = append(parts, metric+" error")
			continue
		}
		e.r.Add(metric, sc.ID, bps/1e9)
		parts = append(parts, fmt.Sprintf("%s %.2f Gbit/s", metric, bps/1e9))
	}
	return strings.Join(parts, ", "), nil
}

func (e *env) restartIperf(ctx context.Context) {
	for n := 1; n <= servers; n++ {
		if err := e.l.StartIperf(ctx, n, IperfPort); err != nil {
			e.r.Note("restarting iperf3 on rs%d: %v", n, err)
		}
	}
}

// loadLatency is load 4.
func (e *env) loadLatency(ctx context.Context, sc Scenario) (string, error) {
	dsts, _ := targets(sc)
	var delayBefore delayHistogram
	var delayErr error
	if sc.GVS {
		delayBefore, delayErr = e.gvsdReceiveDelay(ctx)
	}
	var res ConnResult
	err := e.gen(ctx, &res, "latency", "--dst", addrsFlag(dsts), "--port", strconv.Itoa(HTTPPort),
		"--rate", strconv.Itoa(e.o.Rate), "--duration", e.o.Duration.String(), "--src-index", strconv.Itoa(e.srcIndex))
	if err != nil {
		return "", err
	}
	e.srcIndex = (e.srcIndex + res.Used) % SrcPairs
	if res.OK == 0 {
		return "", fmt.Errorf("no request completed (%d failed, first: %s)", res.Failed, res.FirstErr)
	}
	e.r.Add("lat_p50", sc.ID, res.P50)
	e.r.AddSamples("lat_p99", sc.ID, res.P99, res.Samples)
	if sc.GVS {
		e.receiveDelay(ctx, sc, delayBefore, delayErr, int(res.OK+res.Failed))
	} else {
		for _, m := range []string{"rxd_p50", "rxd_p99", "rxd_frames"} {
			e.r.NA(m, sc.ID, "measured inside gvsd")
		}
	}
	if res.Failed > 0 {
		e.r.Note("(%s) latency: %d of %d requests failed in one run (first: %s)", sc.ID, res.Failed, res.Failed+res.OK, res.FirstErr)
	}
	summary := fmt.Sprintf("latency p50 %.0f µs p90 %.0f µs p99 %.0f µs max %.0f µs", res.P50, res.P90, res.P99, res.Max)
	// the same requests over open connections: what a settled connection
	// adds (GVS forwards those in its kernel fast path)
	var ka ConnResult
	err = e.gen(ctx, &ka, "latency", "--keepalive", "--dst", addrsFlag(dsts), "--port", strconv.Itoa(HTTPPort),
		"--rate", strconv.Itoa(e.o.Rate), "--duration", e.o.Duration.String(), "--src-index", strconv.Itoa(e.srcIndex))
	if err != nil {
		e.r.Fail("latka_p50", sc.ID, err)
		e.r.Fail("latka_p99", sc.ID, err)
		return summary, nil
	}
	e.srcIndex = (e.srcIndex + ka.Used) % SrcPairs
	e.r.Add("latka_p50", sc.ID, ka.P50)
	e.r.AddSamples("latka_p99", sc.ID, ka.P99, ka.Samples)
	return summary + fmt.Sprintf("; keep-alive p50 %.0f µs p99 %.0f µs", ka.P50, ka.P99), nil
}
