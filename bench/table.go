package bench

import (
	"fmt"
	"math"
	"strings"
)

// FormatValue renders a figure in its unit, compactly.
func FormatValue(unit string, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	switch unit {
	case "pps", "conn/s":
		switch {
		case math.Abs(v) >= 1e6:
			return fmt.Sprintf("%.2f M", v/1e6)
		case math.Abs(v) >= 1e3:
			return fmt.Sprintf("%.1f k", v/1e3)
		}
		return fmt.Sprintf("%.0f", v)
	case "Gbit/s", "s/Mpkt":
		if math.Abs(v) < 0.1 && v != 0 {
			return fmt.Sprintf("%.3f", v)
		}
		return fmt.Sprintf("%.2f", v)
	case "%":
		return fmt.Sprintf("%.1f %%", v)
	case "us":
		return fmt.Sprintf("%.0f", v)
	case "ns/op", "bytes/conn":
		return fmt.Sprintf("%.1f", v)
	case "frames/conn":
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// FormatRatio renders a ratio as "0.83x".
func FormatRatio(r float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

func unitLabel(r *Results, m Metric) string {
	t := r.Title(m)
	switch m.Unit {
	case "count":
		return t
	case "us":
		return t + " (µs)"
	}
	return t + " (" + m.Unit + ")"
}

// cellText renders a cell's median and range, or why it has none.
func cellText(c *Cell, unit string) (median, span string) {
	if c == nil {
		return "-", ""
	}
	if c.NA != "" {
		return "n/a", ""
	}
	s := c.Summary()
	if s.N == 0 {
		if len(c.Errors) > 0 {
			return "**error**", ""
		}
		return "-", ""
	}
	median = FormatValue(unit, s.Median)
	if len(c.Errors) > 0 {
		median += fmt.Sprintf(" (%d/%d runs)", s.N, s.N+len(c.Errors))
	}
	if s.N > 1 {
		span = FormatValue(unit, s.Min) + " – " + FormatValue(unit, s.Max)
	}
	return median, span
}

type section struct {
	title, load, intro string
	tables             [][]string // metric ids, one table each
}

var sections = []section{
	{"1. Small-packet forwarding rate", "udp",
		"64-byte frames (18-byte UDP payload) to the VIP (to the real servers' own addresses for (a)) from several flows, counted and dropped by a TCX program first on each real server's eth0 ingress (for TUN: the ipip packets, before the real server's decapsulation, which is a real server's cost, not the director's; a note below says so if nftables netdev-ingress rules had to count instead). Two variants: with one sender thread, the kernel paths forward inside the sender's CPU time (softirq) while gvsd has the other CPU; with a sender per CPU, the whole machine is loaded and gvsd competes with the senders for CPU. Sender thread g is kept on CPU g (see Settings) in every scenario alike: left to the scheduler, one sender's rate swung by a third between runs of the same scenario.",
		[][]string{{"udp_pps", "udp_loss"}, {"udp_pps2", "udp_loss2"}}},
	{"2. New TCP connections per second", "cps",
		"A new connection per request (`GET /`, `Connection: close`) to nginx on the real servers, from concurrent workers. Source address and port pairs are explicit and never reused within a run's reach of TIME_WAIT (with ephemeral ports, a SYN meeting the previous scenario's TIME_WAIT on a real server cost about 1 % of the requests 10 ms or 1 s).",
		[][]string{{"cps", "cps_fail"}}},
	{"3. Bulk TCP throughput", "bulk",
		"One iperf3 stream each way (iperf3, iperf3 -R), default offloads; the iperf3 service balances by source address (nftables jhash, HAProxy `balance source`, GVS `sh`).",
		[][]string{{"bulk_fwd", "bulk_rev"}}},
	{"4. Latency at a fixed moderate rate", "latency",
		"New connection, `GET /`, whole response, sent open-loop at a fixed rate, first of each scenario's loads (on a quiet machine) and with fresh source pairs as above; p50 and p99 per run, and the p99 of all runs' requests pooled (a run's own p99 stands on its slowest 1 %, a handful of requests; the pooled one on as many times more as there are runs); \"+ vs (a)\" is the added latency against kernel routing. Then the same requests at the same rate over open keep-alive connections (one per real server address, each warmed up with 10 requests first): a settled connection's round trip. Last, for GVS, how long the new-connection requests' frames waited in gvsd's rings from the kernel's receive stamp to a worker taking them (gvsd's `gvs_worker_receive_delay_seconds` histogram over the first load, quantiles interpolated within its buckets): the wake-up a packet pays for each pass through user space; and how many frames gvsd's workers took per new connection (with kernel scheduling about one, the client's FIN after the response: the request itself does not cross user space).",
		[][]string{{"lat_p50", "lat_p99", "lat_p99_all"}, {"latka_p50", "latka_p99", "latka_p99_all"}, {"rxd_p50", "rxd_p99", "rxd_frames"}}},
	{"5. Director cost", "cost",
		"CPU seconds per million packets delivered during load 1 (its first variant). Director CPU: for GVS, gvsd's utime+stime from /proc/PID/stat; for the kernel peers, the machine's softirq time from /proc/stat (which also holds the client's, router's and real servers' softirq work: an upper bound on the director's share). Whole machine: every CPU's non-idle time from /proc/stat.",
		[][]string{{"cost_dir", "cost_machine"}}},
}

// Markdown renders the results as the report bench/results/README.md.
func Markdown(r *Results, chart string) string {
	var b strings.Builder
	b.WriteString("# GVS benchmark results\n\n")
	fmt.Fprintf(&b, "Measured by `./scripts/bench` (cmd/gvs-bench) on %s, in %s. ", r.Machine.Date.Format("2006-01-02"), r.Elapsed.Round(1e9))
	s := r.Settings
	fmt.Fprintf(&b, "Each figure is the median of %d run(s), with min – max; ratios compare medians from this run. ", s.Runs)
	fmt.Fprintf(&b, "Loads ran %s each", s.Duration)
	if s.Quick {
		b.WriteString(" (quick mode)")
	}
	b.WriteString(".\n\n")
	if chart != "" {
		fmt.Fprintf(&b, "![benchmark chart](%s)\n\n", chart)
	}
	b.WriteString("## Machine\n\n")
	b.WriteString(r.Machine.Markdown())
	b.WriteString("\n## Scenarios\n\n")
	for _, sc := range r.Scenarios {
		fmt.Fprintf(&b, "- (%s) %s\n", sc.ID, sc.Name)
	}
	extra := ""
	if len(s.GVSDArgs) > 0 {
		extra = "; gvsd arguments `" + strings.Join(s.GVSDArgs, " ") + "`"
	}
	pinned := ""
	if s.Pin {
		pinned = " (sender g kept on CPU g)"
	}
	if s.Probe {
		extra += "; every load between two host probes, after waiting a little for the host's normal mode; a run the probe read slow around is flagged and, as far as the time allows, measured again after the rounds, the new runs replacing the flagged ones of a load if the probe read normal around them and every flagged run of that load, in every scenario, was measured again (see the notes)"
	}
	fmt.Fprintf(&b, "\nSettings: %d UDP flows, %d-byte payload, from %d and %d sender threads%s; %d connection workers; latency at %d requests/s; gvsd workers %s%s.\n",
		s.Flows, s.Payload, s.Senders, s.Senders2, pinned, s.Workers, s.Rate, workersText(s.GVSDWorkers), extra)
	b.WriteString("\n## Summary (medians)\n\n")
	b.WriteString(summaryTable(r))
	b.WriteString(normalModeSection(r))
	for _, sec := range sections {
		if !r.HasLoad(sec.load) {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", sec.title, sec.intro)
		for i, ids := range sec.tables {
			if !r.anyCell(ids) {
				continue
			}
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(sectionTable(r, ids))
		}
		if sec.load == "cost" {
			b.WriteString("\nMethod per scenario:\n\n")
			for _, sc := range r.Scenarios {
				if m := r.Cost[sc.ID]; m != "" {
					fmt.Fprintf(&b, "- (%s) %s: %s\n", sc.ID, sc.Name, m)
				}
			}
		}
		b.WriteString(errorNotes(r, sec))
	}
	if r.Cells["background"] != nil {
		b.WriteString("\n## Background load\n\nThe machine is shared: CPU time that user processes outside the lab (other tests, builds; not this harness, not kernel threads) used while each scenario ran, as a share of all CPUs. High values mean noisy figures for that scenario.\n\n")
		b.WriteString("| scenario | other processes' CPU (%) | min – max |\n|---|---:|---:|\n")
		for _, sc := range r.Scenarios {
			med, span := cellText(r.Lookup("background", sc.ID), "%")
			fmt.Fprintf(&b, "| (%s) %s | %s | %s |\n", sc.ID, sc.Name, med, span)
		}
	}
	if r.Table != nil {
		b.WriteString("\n## 6. Connection-table scale\n\n")
		b.WriteString(tableScale(r.Table))
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// normalTargets are the figures issue 7 sets targets for, shown again
// over the runs in the host's normal mode.
var normalTargets = []string{"udp_pps", "udp_pps2", "cps", "lat_p99_all", "bulk_fwd", "bulk_rev"}

// normalModeSection repeats the targets' figures over the runs the host
// probe read normal before and after, when some run was not.
func normalModeSection(r *Results) string {
	if !r.AnySlow() {
		return ""
	}
	n := r.NormalOnly()
	var b strings.Builder
	b.WriteString("\n## The same figures, runs in the host's normal mode only\n\n")
	b.WriteString("Some runs were measured while the host probe read the host's slow mode (see Settings and the notes: the kernel's per-packet cost about 1.5 times the normal one, for minutes at a time, in any scenario); the tables above keep them. Here the medians, and the ratios, are over the runs the probe read normal before and after, the same rule for every scenario; the run counts say how many that left.\n\n")
	for _, id := range normalTargets {
		if !n.anyCell([]string{id}) {
			continue
		}
		b.WriteString(sectionTable(n, []string{id}))
		runs := id // a pooled figure counts its source's runs
		if m, _ := MetricByID(id); m.Pools != "" {
			runs = m.Pools
		}
		var counts []string
		for _, sc := range r.Scenarios {
			all, kept := r.Lookup(runs, sc.ID), n.Lookup(runs, sc.ID)
			if all != nil && len(all.Values) > 0 {
				counts = append(counts, fmt.Sprintf("(%s) %d of %d", sc.ID, len(kept.Values), len(all.Values)))
			}
		}
		fmt.Fprintf(&b, "\nRuns in the normal mode: %s.\n\n", strings.Join(counts, ", "))
	}
	return b.String()
}

func workersText(n int) string {
	if n == 0 {
		return "one per CPU (default)"
	}
	return fmt.Sprint(n)
}

func summaryTable(r *Results) string {
	var cols []Metric
	for _, m := range Metrics {
		if r.HasLoad(m.Load) && m.Unit != "count" && r.Cells[m.ID] != nil {
			cols = append(cols, m)
		}
	}
	var b strings.Builder
	b.WriteString("| scenario |")
	for _, m := range cols {
		fmt.Fprintf(&b, " %s |", unitLabel(r, m))
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, sc := range r.Scenarios {
		fmt.Fprintf(&b, "| (%s) %s |", sc.ID, sc.Name)
		for _, m := range cols {
			med, _ := cellText(r.Lookup(m.ID, sc.ID), m.Unit)
			fmt.Fprintf(&b, " %s |", med)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func sectionTable(r *Results, ids []string) string {
	_, haveA := r.scenario("a")
	_, haveB := r.scenario("b")
	var b strings.Builder
	b.WriteString("| scenario |")
	align := "|---|"
	for _, id := range ids {
		m, _ := MetricByID(id)
		fmt.Fprintf(&b, " %s | min – max |", unitLabel(r, m))
		align += "---:|---:|"
		if m.Ratio {
			if haveA {
				b.WriteString(" × (a) |")
				align += "---:|"
			}
			if haveB {
				b.WriteString(" × (b) |")
				align += "---:|"
			}
		}
		if m.AddedVsA && haveA {
			b.WriteString(" + vs (a) |")
			align += "---:|"
		}
	}
	b.WriteString("\n" + align + "\n")
	for _, sc := range r.Scenarios {
		fmt.Fprintf(&b, "| (%s) %s |", sc.ID, sc.Name)
		for _, id := range ids {
			m, _ := MetricByID(id)
			c := r.Lookup(id, sc.ID)
			med, span := cellText(c, m.Unit)
			fmt.Fprintf(&b, " %s | %s |", med, span)
			x := c.Summary()
			if m.Ratio {
				if haveA {
					b.WriteString(" " + FormatRatio(Ratio(x, r.Lookup(id, "a").Summary())) + " |")
				}
				if haveB {
					b.WriteString(" " + FormatRatio(Ratio(x, r.Lookup(id, "b").Summary())) + " |")
				}
			}
			if m.AddedVsA && haveA {
				a := r.Lookup(id, "a").Summary()
				if x.N > 0 && a.N > 0 {
					fmt.Fprintf(&b, " %+.0f |", x.Median-a.Median)
				} else {
					b.WriteString(" - |")
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// errorNotes lists a section's errors and not-applicable cells.
func errorNotes(r *Results, sec section) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, sc := range r.Scenarios {
		for _, id := range sec.ids() {
			c := r.Lookup(id, sc.ID)
			if c == nil {
				continue
			}
			if c.NA != "" && !seen[sc.ID+"na"] {
				seen[sc.ID+"na"] = true
				fmt.Fprintf(&b, "- (%s) n/a: %s\n", sc.ID, c.NA)
			}
			for _, e := range c.Errors {
				if seen[sc.ID+e] {
					continue
				}
				seen[sc.ID+e] = true
				fmt.Fprintf(&b, "- (%s) error: %s\n", sc.ID, e)
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n" + b.String()
}

func tableScale(t *TableScale) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Synthetic established TCP flows in the engine, looked up in a cache-hostile order: `%s`. ", t.Command)
	b.WriteString("ConnLookup is one packet at a time (hash, lookup, state machine, timer, counters); ConnLookupBatch goes through Worker.Process in batches of 32 as the data path does. bytes/conn is the heap the table holds per entry.\n\n")
	if t.Error != "" {
		fmt.Fprintf(&b, "**error**: %s\n", t.Error)
	}
	if len(t.Rows) == 0 {
		return b.String()
	}
	b.WriteString("| benchmark | entries | ns/op | min – max | bytes/conn | runs |\n|---|---:|---:|---:|---:|---:|\n")
	for _, row := range t.Rows {
		ns := Summarize(row.NsPerOp)
		bc := Summarize(row.BytesConn)
		span := ""
		if ns.N > 1 {
			span = FormatValue("ns/op", ns.Min) + " – " + FormatValue("ns/op", ns.Max)
		}
		bytesText := "-"
		if bc.N > 0 {
			bytesText = FormatValue("bytes/conn", bc.Median)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d |\n", row.Bench, row.Entries, FormatValue("ns/op", ns.Median), span, bytesText, ns.N)
	}
	return b.String()
}

func (s section) ids() []string {
	var all []string
	for _, t := range s.tables {
		all = append(all, t...)
	}
	return all
}

func (r *Results) anyCell(ids []string) bool {
	for _, id := range ids {
		if r.Cells[id] != nil {
			return true
		}
	}
	return false
}
