//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/govs/gvs/lab"
)

// Options shape a run.
type Options struct {
	Prefix     string // the lab's namespace prefix
	Scenarios  []Scenario
	Loads      []string
	Settings          // runs, duration and load parameters
	TableCount int    // go test -count for load 6
	Benchtime  string // go test -benchtime for load 6
	Keep       bool   // leave the lab up afterwards
	Log        io.Writer
}

// DefaultOptions are the full run's: all scenarios and loads, 3 runs of
// 3 s each.
func DefaultOptions() Options {
	return Options{
		Prefix: "gvsbench", Scenarios: Scenarios, Loads: Loads,
		Settings:   Settings{Runs: 3, Duration: 3 * time.Second, Flows: 8, Senders: 1, Senders2: runtime.NumCPU(), Payload: 18, Pin: true, Probe: true, Workers: 32, Rate: 500},
		TableCount: 3, Benchtime: "500ms",
	}
}

// Quick turns options into quick mode: one run of one second, the engine
// benchmarks once.
func (o *Options) Quick() {
	o.Settings.Quick = true
	o.Runs = 1
	o.Duration = time.Second
	o.TableCount = 1
	o.Benchtime = "200ms"
}

type env struct {
	o    Options
	r    *Results
	l    *lab.Lab
	bin  string // gvs-bench, for the generators
	gvsd *lab.Director
	sink *floodSink // nil: the nftables counters of rsCounter
	host *hostProbe // nil: no probe (the runs are not checked)

	lastGVSDLog string
	again       []pending       // runs in the host's slow mode, to measure again (measureAgain)
	measured    []pending       // runs measured again in the normal mode, to settle (settleAgain)
	unsettled   map[string]bool // loads with a flagged run not measured again
	srcIndex    int             // the next client (address, port) pair for TCP loads
}

func (e *env) logf(format string, args ...any) {
	if e.o.Log != nil {
		fmt.Fprintf(e.o.Log, format+"\n", args...)
	}
}

// Run builds the lab, runs the selected scenarios and loads and returns
// the results. Failures of a scenario or load are recorded in the results;
// the error is for a run that could not start at all.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Runs < 1 || o.Duration <= 0 {
		return nil, errors.New("bench: want at least one run of a positive duration")
	}
	start := time.Now()
	r := NewResults(o.Scenarios, o.Loads)
	r.Machine = DescribeMachine()
	r.Settings = o.Settings
	r.Started = start
	e := &env{o: o, r: r}
	net := false
	for _, l := range o.Loads {
		net = net || l != "table"
	}
	if net && len(o.Scenarios) > 0 {
		if err := e.runLab(ctx); err != nil {
			r.Note("lab: %v", err)
			e.logf("lab: %v", err)
			for _, sc := range o.Scenarios {
				for _, m := range Metrics {
					if r.HasLoad(m.Load) {
						r.Fail(m.ID, sc.ID, fmt.Errorf("lab: %w", err))
					}
				}
			}
		}
	}
	if r.HasLoad("table") && ctx.Err() == nil {
		e.logf("== engine connection-table benchmarks (1M and 10M entries)")
		tctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
		r.Table = RunTableScale(tctx, o.TableCount, o.Benchtime)
		cancel()
		for _, row := range r.Table.Rows {
			e.logf("%s/%s: %.1f ns/op, %.1f bytes/conn", row.Bench, row.Entries, Summarize(row.NsPerOp).Median, Summarize(row.BytesConn).Median)
		}
		if r.Table.Error != "" {
			e.logf("table: %s", r.Table.Error)
		}
	}
	r.Pool()
	r.Elapsed = time.Since(start)
	return r, nil
}

func needsTUN(scs []Scenario) bool {
	for _, s := range scs {
		if s.Forward == "tunnel" {
			return true
		}
	}
	return false
}

func (e *env) runLab(ctx context.Context) error {
	e.logf("== building the lab (prefix %s): client, router, director, %d real servers", e.o.Prefix, servers)
	l, err := lab.Up(ctx, lab.Options{Prefix: e.o.Prefix, Servers: servers, NoDecap: !needsTUN(e.o.Scenarios)})
	if err != nil {
		return err
	}
	e.l = l
	if e.o.Keep {
		e.logf("== the lab stays up: gvs-lab down --prefix %s", e.o.Prefix)
	} else {
		defer l.Down()
	}
	defer func() {
		if e.sink != nil {
			e.sink.close()
		}
		if e.host != nil {
			e.host.close()
			e.noteProbe()
		}
	}()
	if err := e.prepare(ctx); err != nil {
		return err
	}
	for round := 1; round <= e.o.Runs; round++ {
		for _, sc := range e.o.Scenarios {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.runScenario(ctx, sc, round)
		}
	}
	e.measureAgain(ctx)
	e.settleAgain()
	return nil
}

// prepare finds or builds the commands and sets up the real servers'
// counters and iperf3 servers.
func (e *env) prepare(ctx context.Context) error {
	self, err := os.Executable()
	if err == nil && filepath.Base(self) == "gvs-bench" {
		e.bin = self
	} else if e.bin, err = e.l.Binary("gvs-bench"); err != nil {
		return err
	}
	for _, sc := range e.o.Scenarios {
		if sc.GVS {
			for _, b := range []string{"gvsd", "gvsadm"} {
				if _, err := e.l.Binary(b); err != nil {
					return err
				}
			}
			break
		}
	}
	if e.r.HasLoad("udp") {
		if e.sink, err = openFloodSink(e.l, servers); err != nil {
			e.r.Note("the small-packet flood is counted by nftables netdev-ingress rules instead of the BPF sink, after the real servers' TC ingress (TUN: after the kernel decapsulation): %v", err)
			e.logf("   %v; counting with nftables", err)
		}
	}
	for n := 1; n <= servers; n++ {
		if e.sink == nil {
			if err := e.nft(ctx, lab.RS(n), rsCounter()); err != nil {
				return err
			}
		}
		if e.r.HasLoad("bulk") {
			if err := e.l.StartIperf(ctx, n, IperfPort); err != nil {
				return err
			}
		}
	}
	if found := e.enforceClean(ctx); len(found) > 0 {
		e.r.Note("before the first scenario: %v", found)
	}
	if e.o.Probe {
		var err error
		if e.host, err = openProbe(ctx, e.o.Prefix); err == nil {
			err = e.host.prime(ctx)
		}
		if err != nil {
			e.r.Note("no host probe, the runs were not checked for the host's slow mode: %v", err)
			e.logf("   host probe: %v", err)
			if e.host != nil {
				e.host.close()
				e.host = nil
			}
		} else {
			e.logf("   host probe: %s ns per datagram at best on each CPU", e.host.bestText())
		}
	}
	return nil
}

// measure runs one load, between two host probes when there is one: it
// waits for the host's normal mode first (probeWait at most, within the
// probe's budget). A run the probe read slow before or after is kept and
// flagged (Results.MarkSlow), and queued to be measured again at the end
// (measureAgain): the slow mode lasts seconds to minutes, so measuring
// again at once mostly met it again.
func (e *env) measure(ctx context.Context, ld load, sc Scenario) (string, error) {
	mark, slow, summary, err := e.probedRun(ctx, ld, sc)
	if err != nil || !slow {
		return summary, err
	}
	e.r.MarkSlow(mark)
	e.again = append(e.again, pending{sc, ld})
	return summary + " (in the host's slow mode)", nil
}

// probedRun runs one load between two host probes and returns the mark
// before its figures and whether the probe read the slow mode around it.
func (e *env) probedRun(ctx context.Context, ld load, sc Scenario) (Mark, bool, string, error) {
	slow := false
	if e.host != nil {
		if v, err := e.host.waitNormal(ctx); err != nil {
			e.logf("   host probe: %v", err)
		} else if slow = e.host.slow(v); slow {
			e.logf("   host probe: still slow (%.2fx its best); measuring anyway", v)
		}
	}
	mark := e.r.Mark()
	summary, err := ld.run(ctx, sc)
	if err == nil {
		err = e.alive(sc) // died under the load?
	}
	if err != nil || e.host == nil {
		return mark, false, summary, err
	}
	v, perr := e.host.read()
	if perr != nil {
		e.logf("   host probe: %v", perr)
	}
	return mark, slow || (perr == nil && e.host.slow(v)), summary, nil
}

// pending is a load whose run fell into the host's slow mode.
type pending struct {
	sc Scenario
	ld load
}

// measureAgain measures the queued slow runs again after the rounds,
// scenario by scenario, while againBudget lasts (their setup counted in
// it): a run the probe reads normal around is kept aside to take the
// place of one flagged run of its load (settleAgain); one that falls into
// the slow mode again is dropped and tried once more later, and the
// flagged run stays meanwhile.
func (e *env) measureAgain(ctx context.Context) {
	for len(e.again) > 0 && e.host != nil && e.host.againLeft() && ctx.Err() == nil {
		start := time.Now()
		sc, loads := e.nextAgain()
		e.logf("== measured again: (%s) %s", sc.ID, sc.Name)
		if err := e.setup(ctx, sc); err != nil {
			e.logf("   setup: %v", err)
		} else {
			if err := e.probe(ctx, sc); err != nil {
				e.logf("   probe: %v", err)
			}
			for _, ld := range loads {
				if !e.host.againLeft() || e.alive(sc) != nil {
					break
				}
				e.measureOneAgain(ctx, sc, ld)
			}
		}
		if found := e.teardown(ctx, sc); len(found) > 0 {
			e.logf("   teardown: %v", found)
		}
		e.host.again += time.Since(start)
	}
}

// nextAgain takes the first queued scenario's loads off the queue.
func (e *env) nextAgain() (Scenario, []load) {
	sc := e.again[0].sc
	var loads []load
	rest := e.again[:0:0]
	for _, p := range e.again {
		if p.sc.ID == sc.ID {
			loads = append(loads, p.ld)
		} else {
			rest = append(rest, p)
		}
	}
	e.again = rest
	return sc, loads
}

// measureOneAgain measures one queued load of scenario sc (set up) again,
// unless the probe reads the slow mode first: then, and when the new run
// falls into it, the load goes back to the end of the queue.
func (e *env) measureOneAgain(ctx context.Context, sc Scenario, ld load) {
	defer time.Sleep(200 * time.Millisecond)
	if v, err := e.host.read(); err != nil || e.host.slow(v) {
		e.again = append(e.again, pending{sc, ld})
		e.logf("   %s: the host is in its slow mode; later", ld.name)
		return
	}
	mark, slow, summary, err := e.probedRun(ctx, ld, sc)
	switch {
	case err != nil:
		e.r.Rollback(mark)
		e.markUnsettled(ld.name)
		e.logf("   %s: error (the flagged run stays): %v", ld.name, err)
	case slow:
		e.r.Rollback(mark)
		e.again = append(e.again, pending{sc, ld})
		e.logf("   %s (not kept: the host's slow mode again)", summary)
	default:
		e.r.MarkAgain(mark, ld.name)
		e.measured = append(e.measured, pending{sc, ld})
		e.logf("   %s (normal mode: to replace a run in the slow mode)", summary)
	}
}

// markUnsettled notes that a flagged run of load stays.
func (e *env) markUnsettled(load string) {
	if e.unsettled == nil {
		e.unsettled = map[string]bool{}
	}
	e.unsettled[load] = true
}

// settleAgain makes the runs measured again take the place of flagged
// runs, load by load, where every flagged run of the load, in every
// scenario, was measured again; for a load where some were not, it drops
// them all, so that every scenario's figures of a load follow one rule:
// replacing one scenario's slow runs and not another's would favour the
// first (a run in the slow mode is slower in every scenario).
func (e *env) settleAgain() {
	for _, p := range e.again {
		e.markUnsettled(p.ld.name)
	}
	e.r.SettleAgain(func(load string) bool { return !e.unsettled[load] })
	for _, p := range e.measured {
		if e.unsettled[p.ld.name] {
			e.host.dropped[p.ld.name]++
		} else {
			e.host.redone[p.sc.ID]++
		}
	}
}

// noteProbe records what the host probe saw.
func (e *env) noteProbe() {
	h := e.host
	if len(h.reads) == 0 {
		return
	}
	slow := 0
	for _, v := range h.reads {
		if h.slow(v) {
			slow++
		}
	}
	var redone []string
	for _, sc := range e.o.Scenarios {
		if n := h.redone[sc.ID]; n > 0 {
			redone = append(redone, fmt.Sprintf("(%s) %d", sc.ID, n))
		}
	}
	what := "no run in the slow mode was replaced"
	if len(redone) > 0 {
		what = "runs in the slow mode measured again after the rounds, in the normal mode, and replaced: " + strings.Join(redone, ", ")
	}
	if len(h.dropped) > 0 {
		var dropped []string
		for _, ld := range slices.Sorted(maps.Keys(h.dropped)) {
			dropped = append(dropped, fmt.Sprintf("%s %d", ld, h.dropped[ld]))
		}
		what += "; measured again in the normal mode but not kept, since not every flagged run of the same load could be (" + strings.Join(dropped, ", ") + ")"
	}
	e.r.Note("host probe (64-byte datagrams through a veth pair of its own from each CPU, before and after every load): %s ns per datagram at best on each CPU, %d of %d reads slow (some CPU over %.1fx its best); %s; %.0f s spent waiting for the normal mode, %.0f s measuring again",
		h.bestText(), slow, len(h.reads), probeSlow, what, h.waited.Seconds(), h.again.Seconds())
}

type load struct {
	name string
	run  func(context.Context, Scenario) (string, error)
	// metrics a failure is recorded under
	metrics []string
}

func (e *env) loads() []load {
	all := []load{
		// latency first, on a quiet machine: measured right after the
		// small-packet floods its p99 was ten times higher (about 10 ms
		// against 1 ms) on kernel routing too
		{"latency", e.loadLatency, []string{"lat_p50", "lat_p99", "latka_p50", "latka_p99", "rxd_p50", "rxd_p99", "rxd_frames"}},
		{"udp", e.loadUDP, []string{"udp_pps", "udp_loss", "cost_dir", "cost_machine"}},
		{"udp2", e.loadUDP2, []string{"udp_pps2", "udp_loss2"}},
		{"cps", e.loadCPS, []string{"cps"}},
		{"bulk", e.loadBulk, []string{"bulk_fwd", "bulk_rev"}},
	}
	var out []load
	for _, l := range all {
		name := l.name
		if name == "udp2" {
			if e.o.Senders2 < 1 {
				continue
			}
			name = "udp"
		}
		if e.r.HasLoad(name) {
			out = append(out, l)
		}
	}
	return out
}

// failAll records err for a load's metrics (those selected).
func (e *env) failAll(ld load, sc Scenario, err error) {
	for _, m := range ld.metrics {
		if mm, ok := MetricByID(m); ok && e.r.HasLoad(mm.Load) {
			e.r.Fail(m, sc.ID, err)
		}
	}
}

func (e *env) runScenario(ctx context.Context, sc Scenario, round int) {
	e.logf("== round %d/%d: (%s) %s", round, e.o.Runs, sc.ID, sc.Name)
	bg := newBackgroundMeter(e.o.Prefix)
	bg.begin()
	defer func() {
		pct := bg.end()
		e.r.Add("background", sc.ID, pct)
		e.logf("   other processes used %.0f %% of the machine meanwhile", pct)
	}()
	setupErr := e.setup(ctx, sc)
	if setupErr == nil {
		if err := e.probe(ctx, sc); err != nil {
			e.r.Note("(%s) round %d: the first request through the scenario failed: %v", sc.ID, round, err)
			e.logf("   probe: %v", err)
		}
	}
	for _, ld := range e.loads() {
		if (ld.name == "udp" || ld.name == "udp2") && sc.TCPOnly {
			for _, m := range ld.metrics {
				if mm, _ := MetricByID(m); e.r.HasLoad(mm.Load) {
					e.r.NA(m, sc.ID, sc.Name+" balances TCP only")
				}
			}
			continue
		}
		err := setupErr
		if err != nil {
			err = fmt.Errorf("setup: %w", err)
		} else {
			err = e.alive(sc)
		}
		if err != nil {
			e.failAll(ld, sc, err)
			e.logf("   %s: %v", ld.name, err)
			continue
		}
		summary, err := e.measure(ctx, ld, sc)
		if err != nil {
			e.failAll(ld, sc, err)
			e.logf("   %s: error: %v", ld.name, err)
			continue
		}
		e.logf("   %s", summary)
		time.Sleep(200 * time.Millisecond)
	}
	if found := e.teardown(ctx, sc); len(found) > 0 {
		e.r.Note("(%s) round %d: left behind and cleaned up: %v", sc.ID, round, found)
		e.logf("   teardown: %v", found)
	}
}
