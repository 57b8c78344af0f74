package bench

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Scenario is one way of running the director namespace.
type Scenario struct {
	ID      string // "a".."f"
	Short   string // flag name: kernel, nft, haproxy, nat, dr, tun
	Name    string
	TCPOnly bool // no UDP load (HAProxy)
	GVS     bool
	Forward string // GVS forwarding method (masq, route, tunnel)
}

// Scenarios are the six scenarios of issue 7, in run order.
var Scenarios = []Scenario{
	{ID: "a", Short: "kernel", Name: "kernel routing (no LB)"},
	{ID: "b", Short: "nft", Name: "nftables DNAT (numgen)"},
	{ID: "c", Short: "haproxy", Name: "HAProxy TCP mode", TCPOnly: true},
	{ID: "d", Short: "nat", Name: "GVS NAT", GVS: true, Forward: "masq"},
	{ID: "e", Short: "dr", Name: "GVS DR", GVS: true, Forward: "route"},
	{ID: "f", Short: "tun", Name: "GVS TUN", GVS: true, Forward: "tunnel"},
}

// Loads are the load names, in run order ("table" runs once, at the end).
var Loads = []string{"udp", "cps", "bulk", "latency", "cost", "table"}

// Metric is one measured figure.
type Metric struct {
	ID, Load, Title, Unit string
	Higher                bool // higher is better
	Ratio                 bool // show x (a) and x (b)
	AddedVsA              bool // show the difference to (a)
	Chart                 bool // a panel in the PNG chart
	// Pools names the metric whose runs' samples this one pools: its one
	// value is the Pctl-th percentile of every request of every run
	// (Results.Pool), where a run's own percentile stands on too few
	Pools string
	Pctl  float64
}

// Metrics are every figure the harness reports.
var Metrics = []Metric{
	{ID: "udp_pps", Load: "udp", Title: "delivered pps", Unit: "pps", Higher: true, Ratio: true, Chart: true},
	{ID: "udp_loss", Load: "udp", Title: "loss", Unit: "%"},
	{ID: "udp_pps2", Load: "udp", Title: "delivered pps", Unit: "pps", Higher: true, Ratio: true, Chart: true},
	{ID: "udp_loss2", Load: "udp", Title: "loss", Unit: "%"},
	{ID: "cps", Load: "cps", Title: "connections/s", Unit: "conn/s", Higher: true, Ratio: true, Chart: true},
	{ID: "cps_fail", Load: "cps", Title: "failed connections", Unit: "count"},
	{ID: "bulk_fwd", Load: "bulk", Title: "client to server", Unit: "Gbit/s", Higher: true, Ratio: true, Chart: true},
	{ID: "bulk_rev", Load: "bulk", Title: "server to client (-R)", Unit: "Gbit/s", Higher: true, Ratio: true, Chart: true},
	{ID: "lat_p50", Load: "latency", Title: "p50", Unit: "us", Ratio: true, AddedVsA: true, Chart: true},
	{ID: "lat_p99", Load: "latency", Title: "p99", Unit: "us", Ratio: true, AddedVsA: true},
	{ID: "lat_p99_all", Load: "latency", Title: "p99, all runs' requests", Unit: "us", Ratio: true, AddedVsA: true, Chart: true, Pools: "lat_p99", Pctl: 99},
	{ID: "latka_p50", Load: "latency", Title: "p50, keep-alive", Unit: "us", Ratio: true, AddedVsA: true},
	{ID: "latka_p99", Load: "latency", Title: "p99, keep-alive", Unit: "us", Ratio: true, AddedVsA: true},
	{ID: "latka_p99_all", Load: "latency", Title: "p99, keep-alive, all runs' requests", Unit: "us", Ratio: true, AddedVsA: true, Pools: "latka_p99", Pctl: 99},
	// GVS only: how long the new-connection requests' frames waited in
	// gvsd's rings (its metrics' receive-delay histogram)
	{ID: "rxd_p50", Load: "latency", Title: "gvsd receive delay p50", Unit: "us"},
	{ID: "rxd_p99", Load: "latency", Title: "gvsd receive delay p99", Unit: "us"},
	// GVS only: the frames gvsd's workers took per new-connection request
	// (its metrics' receive-delay count): how often a connection crosses
	// user space at all
	{ID: "rxd_frames", Load: "latency", Title: "gvsd frames per new connection", Unit: "frames/conn"},
	{ID: "cost_dir", Load: "cost", Title: "director CPU", Unit: "s/Mpkt", Ratio: true, Chart: true},
	{ID: "cost_machine", Load: "cost", Title: "whole machine busy CPU", Unit: "s/Mpkt", Ratio: true},
	// not a load: how busy the rest of the machine was during each scenario
	{ID: "background", Load: "background", Title: "other processes' CPU", Unit: "%"},
}

// MetricByID returns the metric with that id.
func MetricByID(id string) (Metric, bool) {
	for _, m := range Metrics {
		if m.ID == id {
			return m, true
		}
	}
	return Metric{}, false
}

// Cell holds one metric's runs for one scenario.
type Cell struct {
	Values []float64 `json:"values,omitempty"`
	// Slow, by value: the host probe read the host's slow mode before or
	// after the run (probe.go); values past its end are not flagged
	Slow []bool `json:"slow,omitempty"`
	// Samples, by value: the run's measurements its value summarizes
	// (a latency run's requests, sorted), for the metrics that pool them
	Samples []Samples `json:"samples,omitempty"`
	Errors  []string  `json:"errors,omitempty"`
	NA      string    `json:"na,omitempty"` // why the load does not apply
	// again, by value: the load that measured it again after the rounds,
	// not yet settled (MarkAgain, SettleAgain); "" for a run of the rounds
	again []string
}

// Summary summarizes the cell's values.
func (c *Cell) Summary() Summary {
	if c == nil {
		return Summary{}
	}
	return Summarize(c.Values)
}

// TableRow is one engine benchmark result (load 6).
type TableRow struct {
	Bench     string    `json:"bench"`   // ConnLookup, ConnLookupBatch
	Entries   string    `json:"entries"` // 1M, 10M
	NsPerOp   []float64 `json:"ns_per_op"`
	BytesConn []float64 `json:"bytes_per_conn"`
}

// TableScale is load 6's result.
type TableScale struct {
	Command string     `json:"command"`
	Rows    []TableRow `json:"rows,omitempty"`
	Error   string     `json:"error,omitempty"`
}

// Settings are the parameters a run used, reported with its results.
type Settings struct {
	Runs     int           `json:"runs"`
	Duration time.Duration `json:"duration"`
	Quick    bool          `json:"quick"`
	Flows    int           `json:"udp_flows"`
	Senders  int           `json:"udp_senders"`  // the first small-packet variant
	Senders2 int           `json:"udp_senders2"` // the second (0: none)
	Payload  int           `json:"udp_payload"`
	Pin      bool          `json:"udp_pin"` // sender g kept on the g-th CPU
	// Probe: every load runs between two host probes, after waiting for
	// the host's normal mode, and again if it fell into the slow one
	// (probe.go)
	Probe       bool     `json:"host_probe"`
	Workers     int      `json:"cps_workers"`
	Rate        int      `json:"latency_rate"`
	GVSDWorkers int      `json:"gvsd_workers"`
	GVSDArgs    []string `json:"gvsd_args,omitempty"` // extra gvsd arguments
}

// Results are a run's figures and notes.
type Results struct {
	Machine   Machine                     `json:"machine"`
	Settings  Settings                    `json:"settings"`
	Started   time.Time                   `json:"started"`
	Elapsed   time.Duration               `json:"elapsed"`
	Scenarios []Scenario                  `json:"scenarios"`
	Loads     []string                    `json:"loads"`
	Cells     map[string]map[string]*Cell `json:"cells"` // metric id -> scenario id
	Cost      map[string]string           `json:"cost_method,omitempty"`
	Table     *TableScale                 `json:"table,omitempty"`
	Notes     []string                    `json:"notes,omitempty"`
}

// NewResults starts an empty result set for these scenarios and loads.
func NewResults(scenarios []Scenario, loads []string) *Results {
	return &Results{Scenarios: scenarios, Loads: loads, Cells: map[string]map[string]*Cell{}, Cost: map[string]string{}}
}

// Cell returns the cell of a metric and scenario, making it.
func (r *Results) Cell(metric, scenario string) *Cell {
	m := r.Cells[metric]
	if m == nil {
		m = map[string]*Cell{}
		r.Cells[metric] = m
	}
	c := m[scenario]
	if c == nil {
		c = &Cell{}
		m[scenario] = c
	}
	return c
}

// Lookup returns a cell or nil.
func (r *Results) Lookup(metric, scenario string) *Cell {
	return r.Cells[metric][scenario]
}

// Add records one run's value.
func (r *Results) Add(metric, scenario string, v float64) {
	c := r.Cell(metric, scenario)
	c.Values = append(c.Values, v)
}

// Samples are one run's measurements. In results.json they are one
// string of numbers: as a list, thousands of them would take a line each.
type Samples []float64

// MarshalJSON writes the samples as one string.
func (s Samples) MarshalJSON() ([]byte, error) {
	var b []byte
	for i, v := range s {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON reads the samples as written, or as a list.
func (s *Samples) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, (*[]float64)(s))
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return err
	}
	f := strings.Fields(str)
	*s = make(Samples, len(f))
	for i, x := range f {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return fmt.Errorf("samples: %w", err)
		}
		(*s)[i] = v
	}
	return nil
}

// AddSamples records one run's value with the samples it summarizes.
func (r *Results) AddSamples(metric, scenario string, v float64, samples []float64) {
	c := r.Cell(metric, scenario)
	for len(c.Samples) < len(c.Values) {
		c.Samples = append(c.Samples, nil)
	}
	c.Values = append(c.Values, v)
	c.Samples = append(c.Samples, samples)
}

// Pool sets each pooling metric's cells (Metric.Pools) from the samples
// of its source's runs.
func (r *Results) Pool() {
	for _, m := range Metrics {
		if m.Pools == "" {
			continue
		}
		for sc, src := range r.Cells[m.Pools] {
			var all []float64
			for _, s := range src.Samples {
				all = append(all, s...)
			}
			c := &Cell{NA: src.NA}
			if len(all) > 0 {
				sort.Float64s(all)
				c.Values = []float64{Percentile(all, m.Pctl)}
			} else if len(src.Errors) > 0 {
				c.Errors = []string{"no run completed"}
			}
			if c.NA == "" && len(c.Values) == 0 && len(c.Errors) == 0 {
				delete(r.Cells[m.ID], sc) // none left (NormalOnly)
				continue
			}
			if r.Cells[m.ID] == nil {
				r.Cells[m.ID] = map[string]*Cell{}
			}
			r.Cells[m.ID][sc] = c
		}
	}
}

// Mark is the number of values and errors every cell holds, for
// Rollback.
type Mark map[*Cell][2]int

// Mark notes how far every cell has been filled.
func (r *Results) Mark() Mark {
	m := Mark{}
	for _, byScenario := range r.Cells {
		for _, c := range byScenario {
			m[c] = [2]int{len(c.Values), len(c.Errors)}
		}
	}
	return m
}

// Rollback takes back what was recorded since the mark: a run that is
// measured again.
func (r *Results) Rollback(m Mark) {
	for _, byScenario := range r.Cells {
		for _, c := range byScenario {
			n := m[c] // a cell made since: nothing kept
			c.Values, c.Errors = c.Values[:n[0]], c.Errors[:n[1]]
			if len(c.Slow) > n[0] {
				c.Slow = c.Slow[:n[0]]
			}
			if len(c.Samples) > n[0] {
				c.Samples = c.Samples[:n[0]]
			}
			if len(c.again) > n[0] {
				c.again = c.again[:n[0]]
			}
		}
	}
}

// MarkSlow flags the values recorded since the mark as measured in the
// host's slow mode.
func (r *Results) MarkSlow(m Mark) {
	for _, byScenario := range r.Cells {
		for _, c := range byScenario {
			for len(c.Slow) < len(c.Values) {
				c.Slow = append(c.Slow, len(c.Slow) >= m[c][0])
			}
		}
	}
}

// MarkAgain tags the values recorded since the mark as a run of load
// measured again after the rounds, in the normal mode: each is to take
// the place of a flagged run of its cell if SettleAgain keeps it.
func (r *Results) MarkAgain(m Mark, load string) {
	for _, byScenario := range r.Cells {
		for _, c := range byScenario {
			for len(c.again) < len(c.Values) {
				tag := ""
				if len(c.again) >= m[c][0] {
					tag = load
				}
				c.again = append(c.again, tag)
			}
		}
	}
}

// SettleAgain decides, load by load, what becomes of the runs measured
// again (MarkAgain). Where keep(load) holds, each takes the place of the
// first flagged run of its cell, which so keeps its number of runs (one
// with no flagged run left is dropped); elsewhere they are all dropped
// and the flagged runs stay. Keeping them for one scenario of a load and
// not for another would compare runs chosen by different rules, so the
// caller keeps a load's only when every flagged run of it was measured
// again.
func (r *Results) SettleAgain(keep func(load string) bool) {
	for _, byScenario := range r.Cells {
		for _, c := range byScenario {
			c.settleAgain(keep)
		}
	}
}

func (c *Cell) settleAgain(keep func(load string) bool) {
	defer func() { c.again = nil }()
	for len(c.Slow) < len(c.Values) {
		c.Slow = append(c.Slow, false)
	}
	var flagged []int // the flagged runs of the rounds, to replace in order
	for i, slow := range c.Slow {
		if slow && (i >= len(c.again) || c.again[i] == "") {
			flagged = append(flagged, i)
		}
	}
	drop := make([]bool, len(c.Values))
	for i, load := range c.again {
		switch {
		case load == "":
		case keep(load) && len(flagged) > 0:
			drop[flagged[0]] = true
			flagged = flagged[1:]
		default:
			drop[i] = true // not kept, or no flagged run left to replace
		}
	}
	keepIdx := func(i int) bool { return !drop[i] }
	c.Values = filter(c.Values, keepIdx)
	c.Slow = filter(c.Slow, keepIdx)
	if len(c.Samples) > 0 {
		for len(c.Samples) < len(drop) {
			c.Samples = append(c.Samples, nil)
		}
		c.Samples = filter(c.Samples, keepIdx)
	}
}

// filter keeps the elements whose index passes keep.
func filter[T any](s []T, keep func(int) bool) []T {
	var out []T
	for i, v := range s {
		if keep(i) {
			out = append(out, v)
		}
	}
	return out
}

// AnySlow reports whether some value was measured in the slow mode.
func (r *Results) AnySlow() bool {
	for _, byScenario := range r.Cells {
		for _, c := range byScenario {
			for _, s := range c.Slow {
				if s {
					return true
				}
			}
		}
	}
	return false
}

// NormalOnly is a copy of the results with only the values measured in
// the host's normal mode.
func (r *Results) NormalOnly() *Results {
	n := *r
	n.Cells = map[string]map[string]*Cell{}
	for id, byScenario := range r.Cells {
		n.Cells[id] = map[string]*Cell{}
		for sc, c := range byScenario {
			k := &Cell{Errors: c.Errors, NA: c.NA}
			for i, v := range c.Values {
				if i >= len(c.Slow) || !c.Slow[i] {
					k.Values = append(k.Values, v)
					if i < len(c.Samples) {
						k.Samples = append(k.Samples, c.Samples[i])
					}
				}
			}
			n.Cells[id][sc] = k
		}
	}
	n.Pool()
	return &n
}

// Fail records one run's error for a metric.
func (r *Results) Fail(metric, scenario string, err error) {
	c := r.Cell(metric, scenario)
	msg := oneLine(err.Error())
	c.Errors = append(c.Errors, msg)
}

// NA marks a metric as not applying to a scenario.
func (r *Results) NA(metric, scenario, why string) { r.Cell(metric, scenario).NA = why }

// Note adds a line to the report's notes.
func (r *Results) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// HasLoad reports whether the run included a load.
func (r *Results) HasLoad(load string) bool {
	for _, l := range r.Loads {
		if l == load {
			return true
		}
	}
	return false
}

// scenario returns a selected scenario by id.
func (r *Results) scenario(id string) (Scenario, bool) {
	for _, s := range r.Scenarios {
		if s.ID == id {
			return s, true
		}
	}
	return Scenario{}, false
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:497] + "..."
	}
	return s
}

// SelectScenarios parses a comma-separated list of scenario ids or short
// names ("a,b", "kernel,nat", "all").
func SelectScenarios(list string) ([]Scenario, error) {
	if list == "" || list == "all" {
		return append([]Scenario(nil), Scenarios...), nil
	}
	want := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		found := false
		for _, s := range Scenarios {
			if f == s.ID || f == s.Short {
				want[s.ID] = true
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown scenario %q (want a-f or kernel, nft, haproxy, nat, dr, tun)", f)
		}
	}
	var out []Scenario
	for _, s := range Scenarios {
		if want[s.ID] {
			out = append(out, s)
		}
	}
	return out, nil
}

// SelectLoads parses a comma-separated list of loads ("udp,cps", "all").
// "cost" needs "udp": selecting cost alone selects udp too.
func SelectLoads(list string) ([]string, error) {
	if list == "" || list == "all" {
		return append([]string(nil), Loads...), nil
	}
	want := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		ok := false
		for _, l := range Loads {
			if f == l {
				ok = true
			}
		}
		if !ok {
			return nil, fmt.Errorf("unknown load %q (want %s)", f, strings.Join(Loads, ", "))
		}
		want[f] = true
	}
	if want["cost"] {
		want["udp"] = true
	}
	var out []string
	for _, l := range Loads {
		if want[l] {
			out = append(out, l)
		}
	}
	return out, nil
}

// Title is a metric's title in this run (the small-packet variants name
// their sender threads).
func (r *Results) Title(m Metric) string {
	n := 0
	switch m.ID {
	case "udp_pps", "udp_loss":
		n = r.Settings.Senders
	case "udp_pps2", "udp_loss2":
		n = r.Settings.Senders2
	default:
		return m.Title
	}
	s := "s"
	if n == 1 {
		s = ""
	}
	return fmt.Sprintf("%s, %d sender%s", m.Title, n, s)
}
