package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want Summary
	}{
		{nil, Summary{}},
		{[]float64{math.NaN()}, Summary{}},
		{[]float64{3}, Summary{1, 3, 3, 3}},
		{[]float64{5, 1, 3}, Summary{3, 3, 1, 5}},
		{[]float64{4, 1, 3, 2}, Summary{4, 2.5, 1, 4}},
		{[]float64{2, math.NaN(), 8}, Summary{2, 5, 2, 8}},
	} {
		if got := Summarize(c.in); got != c.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(i + 1)
	}
	for _, c := range []struct{ p, want float64 }{{50, 50}, {99, 99}, {100, 100}, {1, 1}, {0.1, 1}} {
		if got := Percentile(v, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile([]float64{7, 9}, 50); got != 7 {
		t.Errorf("p50 of two = %v, want 7 (nearest rank)", got)
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("percentile of nothing should be NaN")
	}
}

func TestRatio(t *testing.T) {
	if r, ok := Ratio(Summary{N: 3, Median: 50}, Summary{N: 3, Median: 200}); !ok || r != 0.25 {
		t.Errorf("ratio %v %v", r, ok)
	}
	if _, ok := Ratio(Summary{N: 1, Median: 5}, Summary{}); ok {
		t.Error("ratio to a missing base")
	}
	if _, ok := Ratio(Summary{N: 1, Median: 5}, Summary{N: 1}); ok {
		t.Error("ratio to zero")
	}
}

func TestParseProcStat(t *testing.T) {
	s := "cpu  435605 10 74823 1675696 2878 5 1229 239 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n"
	c, err := ParseProcStat(s)
	if err != nil {
		t.Fatal(err)
	}
	if c.User != 4356.05 || c.SoftIRQ != 12.29 || c.Idle != 16756.96 || c.Steal != 2.39 {
		t.Errorf("%+v", c)
	}
	if got, want := c.Busy(), (435605+10+74823+5+1229+239)/100.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("busy %v, want %v", got, want)
	}
	d := c.Sub(MachineCPU{User: 1, SoftIRQ: 0.29})
	if d.User != 4355.05 || math.Abs(d.SoftIRQ-12) > 1e-9 {
		t.Errorf("sub %+v", d)
	}
	if _, err := ParseProcStat("intr 1\n"); err == nil {
		t.Error("no cpu line accepted")
	}
}

func TestParsePidStat(t *testing.T) {
	// a command name with spaces and a parenthesis, as /proc allows
	s := "1234 (gvs d) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 5000 1000 100 18446744073709551615"
	v, err := ParsePidStat(s)
	if err != nil {
		t.Fatal(err)
	}
	if v != 3.25 {
		t.Errorf("utime+stime %v, want 3.25", v)
	}
	if _, err := ParsePidStat("1 (x) S 1 2"); err == nil {
		t.Error("short stat accepted")
	}
}

func TestParseNftCounter(t *testing.T) {
	out := "table netdev gvsbench {\n\tcounter rx {\n\t\tpackets 123456 bytes 7407360\n\t}\n}\n"
	if v, err := ParseNftCounter(out); err != nil || v != 123456 {
		t.Errorf("%v %v", v, err)
	}
	if _, err := ParseNftCounter("Error: No such file or directory"); err == nil {
		t.Error("no counter accepted")
	}
}

func TestParseIperf3(t *testing.T) {
	ok := []byte(`{"start":{},"end":{"sum_sent":{"bits_per_second":9.9e9,"bytes":1},"sum_received":{"bits_per_second":9.5e9,"bytes":3562500000}}}`)
	if v, err := ParseIperf3(ok); err != nil || v != 9.5e9 {
		t.Errorf("%v %v", v, err)
	}
	if _, err := ParseIperf3([]byte(`{"start":{},"end":{},"error":"unable to connect to server: Connection refused"}`)); err == nil || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("error document: %v", err)
	}
	if _, err := ParseIperf3([]byte(`{"end":{"sum_received":{"bits_per_second":0,"bytes":0}}}`)); err == nil {
		t.Error("nothing received accepted")
	}
	if _, err := ParseIperf3([]byte("iperf3: error")); err == nil {
		t.Error("garbage accepted")
	}
}

const goBenchOut = `goos: linux
goarch: amd64
pkg: github.com/govs/gvs/ipvs
cpu: AMD EPYC
BenchmarkConnLookup/1M-2     	 2234200	       558.7 ns/op	       152.2 bytes/conn	       0 B/op	       0 allocs/op
BenchmarkConnLookup/10M-2    	 1462021	       817.3 ns/op	       141.7 bytes/conn	       0 B/op	       0 allocs/op
BenchmarkConnLookupBatch/1M-2         	 4576870	       269.3 ns/op	       152.2 bytes/conn	       0 B/op	       0 allocs/op
BenchmarkConnLookup/1M-2     	 2234200	       540.1 ns/op	       152.2 bytes/conn	       0 B/op	       0 allocs/op
BenchmarkExpire 	 1000	  33.0 ns/op
PASS
ok  	github.com/govs/gvs/ipvs	22.613s
`

func TestParseGoBench(t *testing.T) {
	rows := ParseGoBench(goBenchOut)
	if len(rows) != 4 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	r := rows[0]
	if r.Bench != "ConnLookup" || r.Entries != "1M" || len(r.NsPerOp) != 2 || r.NsPerOp[1] != 540.1 || r.BytesConn[0] != 152.2 {
		t.Errorf("%+v", r)
	}
	if rows[2].Bench != "ConnLookupBatch" || rows[3].Bench != "Expire" || rows[3].Entries != "" || len(rows[3].BytesConn) != 0 {
		t.Errorf("%+v", rows)
	}
}

func TestSelect(t *testing.T) {
	s, err := SelectScenarios("nat,a,tun")
	if err != nil || len(s) != 3 || s[0].ID != "a" || s[1].ID != "d" || s[2].ID != "f" {
		t.Errorf("%v %v", s, err)
	}
	if s, _ := SelectScenarios("all"); len(s) != 6 {
		t.Errorf("all: %v", s)
	}
	if _, err := SelectScenarios("ipvs"); err == nil {
		t.Error("unknown scenario accepted")
	}
	l, err := SelectLoads("cost,bulk")
	if err != nil || strings.Join(l, ",") != "udp,bulk,cost" {
		t.Errorf("%v %v", l, err)
	}
	if _, err := SelectLoads("udp,nope"); err == nil {
		t.Error("unknown load accepted")
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		unit string
		v    float64
		want string
	}{
		{"pps", 245300, "245.3 k"}, {"pps", 1.5e6, "1.50 M"}, {"pps", 900, "900"},
		{"Gbit/s", 9.876, "9.88"}, {"Gbit/s", 0.0354, "0.035"}, {"%", 2.44, "2.4 %"}, {"us", 512.6, "513"},
		{"pps", math.NaN(), "-"},
	} {
		if got := FormatValue(c.unit, c.v); got != c.want {
			t.Errorf("FormatValue(%s, %v) = %q, want %q", c.unit, c.v, got, c.want)
		}
	}
}

// sample builds results as a run would: (a), (b), (c) HAProxy with no UDP,
// (d) with an error in one of three runs, (e) failing outright.
func sample() *Results {
	scs, _ := SelectScenarios("a,b,c,d,e")
	r := NewResults(scs, Loads)
	r.Settings = Settings{Runs: 3, Duration: 3 * time.Second, Flows: 8, Senders: 1, Senders2: 2, Payload: 18, Workers: 32, Rate: 200}
	r.Machine = Machine{CPU: "Test CPU", CPUs: 2, Kernel: "6.1", Go: "go1.26", Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r.Elapsed = 5 * time.Minute
	for _, v := range []float64{300e3, 280e3, 320e3} {
		r.Add("udp_pps", "a", v)
		r.Add("udp_loss", "a", 0)
		r.Add("lat_p99", "a", 500)
		r.Add("cost_dir", "a", 2)
	}
	for _, v := range []float64{200e3, 210e3, 190e3} {
		r.Add("udp_pps", "b", v)
		r.Add("lat_p99", "b", 600)
	}
	r.NA("udp_pps", "c", "HAProxy TCP mode balances TCP only")
	r.Add("cps", "c", 5800)
	r.Add("udp_pps", "d", 150e3)
	r.Add("udp_pps", "d", 160e3)
	r.Fail("udp_pps", "d", errors.New("gvsd exited; its log: boom"))
	r.Add("lat_p99", "d", 900)
	r.Add("cost_dir", "d", 4)
	r.Fail("udp_pps", "e", errors.New("setup: gvsd did not come up"))
	r.Cost["a"] = "softirq"
	r.Cost["d"] = "gvsd"
	r.Table = &TableScale{Command: "go test -bench x ./ipvs/", Rows: ParseGoBench(goBenchOut)}
	r.Note("a note")
	return r
}

func TestMarkdown(t *testing.T) {
	md := Markdown(sample(), "results.png")
	for _, want := range []string{
		"![benchmark chart](results.png)",
		"- CPU: Test CPU, 2 logical CPUs",
		"| (a) kernel routing (no LB) | 300.0 k | 280.0 k – 320.0 k | 1.00x | 1.50x |",
		"| (b) nftables DNAT (numgen) | 200.0 k | 190.0 k – 210.0 k | 0.67x | 1.00x |",
		"| (c) HAProxy TCP mode | n/a |",
		"| (d) GVS NAT | 155.0 k (2/3 runs) | 150.0 k – 160.0 k | 0.52x | 0.78x |",
		"| (e) GVS DR | **error** |",
		"- (d) error: gvsd exited; its log: boom",
		"- (e) error: setup: gvsd did not come up",
		"- (c) n/a: HAProxy TCP mode balances TCP only",
		"delivered pps, 1 sender (pps)",
		"| 900 |  | 1.80x | 1.50x | +400 |", // p99 of (d): ratio to (a) and (b), added latency
		"| ConnLookup | 1M | 549.4 | 540.1 – 558.7 | 152.2 | 2 |",
		"- (d) GVS NAT: gvsd",
		"- a note",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

func TestChart(t *testing.T) {
	r := sample()
	b, err := Chart(r)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != 1600 {
		t.Errorf("width %d", w)
	}
	// every scenario with a value has its colour on the picture; the
	// failed one (e) has no bar, but the red ERR mark
	count := map[[3]uint32]int{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			count[[3]uint32{r >> 8, g >> 8, b >> 8}]++
		}
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		c := scenarioColors[id]
		if n := count[[3]uint32{uint32(c.R), uint32(c.G), uint32(c.B)}]; n < 1000 {
			t.Errorf("scenario %s: %d pixels of its colour, want bars", id, n)
		}
	}
	if count[[3]uint32{uint32(red.R), uint32(red.G), uint32(red.B)}] == 0 {
		t.Error("no ERR mark for the failed scenario")
	}
}

func TestFont(t *testing.T) {
	for r, g := range glyphs {
		for _, row := range g {
			if len(row) != 5 || strings.Trim(row, ".#") != "" {
				t.Errorf("glyph %q: bad row %q", r, row)
			}
		}
	}
	if glyph('k') != glyphs['K'] || glyph('~') != glyphs['?'] {
		t.Error("fallbacks")
	}
}

func TestNiceCeil(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0.7, 1}, {1.2, 2}, {2.2, 2.5}, {4, 5}, {7, 10}, {62.5, 100}, {0, 1}} {
		if got := niceCeil(c.in); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestConfigs(t *testing.T) {
	n := nftDNAT()
	for _, want := range []string{"ip daddr 10.0.2.100 udp dport 9999 dnat to numgen inc mod 3 map { 0 : 10.0.2.11, 1 : 10.0.2.12, 2 : 10.0.2.13 }",
		"tcp dport 5201 dnat to jhash ip saddr mod 3"} {
		if !strings.Contains(n, want) {
			t.Errorf("nft ruleset lacks %q:\n%s", want, n)
		}
	}
	g := gvsConfig("tunnel")
	if strings.Count(g, "forward: tunnel") != 9 || !strings.Contains(g, "scheduler: sh") {
		t.Errorf("gvsd config:\n%s", g)
	}
	h := haproxyConfig()
	if !strings.Contains(h, "bind 10.0.2.100:80") || !strings.Contains(h, "balance source") {
		t.Errorf("haproxy config:\n%s", h)
	}
	// HAProxy checks its own configuration when it is installed
	if bin, err := lookTool("haproxy"); err == nil {
		f := t.TempDir() + "/h.cfg"
		if err := writeFile(f, h); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-c", "-f", f).CombinedOutput(); err != nil {
			t.Errorf("haproxy -c: %v: %s", err, out)
		}
	}
}

// A load measured again keeps only its second run's figures, in cells
// that existed before and in cells it made.
func TestRollback(t *testing.T) {
	r := NewResults(Scenarios, Loads)
	r.Add("udp_pps", "b", 1)
	m := r.Mark()
	r.Add("udp_pps", "b", 2)
	r.Fail("udp_pps", "b", errors.New("x"))
	r.Add("cps", "d", 3)
	r.Rollback(m)
	if got := r.Cell("udp_pps", "b"); len(got.Values) != 1 || got.Values[0] != 1 || len(got.Errors) != 0 {
		t.Errorf("udp_pps/b after rollback: %+v", got)
	}
	if got := r.Cell("cps", "d"); len(got.Values) != 0 {
		t.Errorf("cps/d after rollback: %+v", got)
	}
	r.Add("udp_pps", "b", 4)
	if got := r.Cell("udp_pps", "b").Values; len(got) != 2 || got[1] != 4 {
		t.Errorf("udp_pps/b after a new run: %v", got)
	}
}

// Runs flagged as measured in the host's slow mode stay in the main
// tables and leave the normal-mode section's medians.
func TestNormalModeSection(t *testing.T) {
	r := NewResults(Scenarios, []string{"udp"})
	if normalModeSection(r) != "" {
		t.Error("a section without slow runs")
	}
	for _, v := range []float64{300e3, 310e3} {
		r.Add("udp_pps", "b", v)
	}
	r.Add("udp_pps", "e", 330e3)
	m := r.Mark()
	r.Add("udp_pps", "e", 200e3)
	r.Add("udp_pps", "e", 210e3)
	r.MarkSlow(m)
	if got := r.Lookup("udp_pps", "e").Summary().Median; got != 210e3 {
		t.Errorf("all runs' median %v, want 210k", got)
	}
	n := r.NormalOnly()
	if got := n.Lookup("udp_pps", "e").Values; len(got) != 1 || got[0] != 330e3 {
		t.Errorf("normal runs %v, want [330000]", got)
	}
	r.Add("udp_pps", "e", 340e3) // after the flagged runs, not flagged
	if got := r.NormalOnly().Lookup("udp_pps", "e").Values; len(got) != 2 || got[1] != 340e3 {
		t.Errorf("normal runs %v, want [330000 340000]", got)
	}
	sec := normalModeSection(r)
	for _, want := range []string{"(e) 2 of 4", "(b) 2 of 2", "335.0 k"} {
		if !strings.Contains(sec, want) {
			t.Errorf("section lacks %q:\n%s", want, sec)
		}
	}
}

// A pooled p99 is the percentile of every run's requests together, and
// follows the runs a rollback or the normal-mode filter leaves.
func TestPool(t *testing.T) {
	r := NewResults(Scenarios, []string{"latency"})
	ramp := func(lo float64, n int) []float64 { // lo, lo+1, ... (sorted)
		s := make([]float64, n)
		for i := range s {
			s[i] = lo + float64(i)
		}
		return s
	}
	r.AddSamples("lat_p99", "d", 98, ramp(1, 100))
	m := r.Mark()
	r.AddSamples("lat_p99", "d", 1e6, []float64{1e6}) // measured again
	r.Rollback(m)
	r.AddSamples("lat_p99", "d", 198, ramp(101, 100))
	m = r.Mark()
	r.AddSamples("lat_p99", "d", 5000, ramp(4901, 100))
	r.MarkSlow(m)
	r.Pool()
	// 300 requests 1..200 and 4901..5000: the 297th is 4997
	if got := r.Lookup("lat_p99_all", "d").Values; len(got) != 1 || got[0] != 4997 {
		t.Errorf("pooled p99 %v, want [4997]", got)
	}
	if got := r.Lookup("lat_p99", "d").Values; len(got) != 3 {
		t.Errorf("runs kept %v, want 3", got)
	}
	n := r.NormalOnly() // 1..200: the 198th
	if got := n.Lookup("lat_p99_all", "d").Values; len(got) != 1 || got[0] != 198 {
		t.Errorf("normal-mode pooled p99 %v, want [198]", got)
	}
	r.AddSamples("lat_p99", "e", 9, []float64{9})
	r.MarkSlow(Mark{})
	r.Pool()
	if c := r.Lookup("lat_p99_all", "e"); c == nil || len(c.Values) != 1 {
		t.Fatalf("pooled p99 of a slow run: %+v", c)
	}
	if c := r.NormalOnly().Lookup("lat_p99_all", "e"); c != nil {
		t.Errorf("a pooled figure with no normal-mode run left: %+v", c)
	}
	r.NA("latka_p99", "c", "no keep-alive")
	r.Pool()
	if c := r.Lookup("latka_p99_all", "c"); c == nil || c.NA == "" {
		t.Errorf("the source's n/a is not carried: %+v", c)
	}
}

// Samples travel in results.json as one string each, and the list form
// of earlier files still reads.
func TestSamplesJSON(t *testing.T) {
	r := NewResults(Scenarios, []string{"latency"})
	r.AddSamples("lat_p99", "d", 3, []float64{1, 2.5, 1000})
	b, err := json.Marshal(r.Cells["lat_p99"])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"samples":["1 2.5 1000"]`) {
		t.Errorf("samples written as %s", b)
	}
	for _, in := range []string{string(b), `{"d":{"values":[3],"samples":[[1,2.5,1000]]}}`} {
		var back map[string]*Cell
		if err := json.Unmarshal([]byte(in), &back); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := back["d"].Samples; len(got) != 1 || fmt.Sprint(got[0]) != "[1 2.5 1000]" {
			t.Errorf("%s read back as %v", in, got)
		}
	}
	var bad map[string]*Cell
	if err := json.Unmarshal([]byte(`{"d":{"samples":["1 x"]}}`), &bad); err == nil {
		t.Error("a sample that is not a number was read")
	}
}

// A run measured again in the normal mode takes the place of a flagged
// run of its cells, which keep their number of runs, when its load is
// settled; where no run is flagged the new one is not kept.
func TestSettleAgainKeeps(t *testing.T) {
	r := NewResults(Scenarios, []string{"udp", "latency"})
	r.Add("udp_pps", "e", 330e3)
	r.AddSamples("lat_p99", "e", 900, []float64{900})
	m := r.Mark()
	r.Add("udp_pps", "e", 200e3)
	r.AddSamples("lat_p99", "e", 5000, []float64{5000})
	r.MarkSlow(m)
	r.Add("udp_pps", "e", 340e3)
	r.AddSamples("lat_p99", "e", 950, []float64{950})
	r.Add("udp_pps", "b", 300e3) // no flagged run of (b)
	m = r.Mark()
	r.Add("udp_pps", "e", 335e3)
	r.AddSamples("lat_p99", "e", 920, []float64{920})
	r.Add("udp_pps", "b", 310e3)
	r.MarkAgain(m, "udp")
	r.SettleAgain(func(string) bool { return true })
	if c := r.Lookup("udp_pps", "e"); !slices.Equal(c.Values, []float64{330e3, 340e3, 335e3}) || slices.Contains(c.Slow, true) {
		t.Errorf("udp_pps/e %v slow %v, want [330k 340k 335k] none slow", c.Values, c.Slow)
	}
	c := r.Lookup("lat_p99", "e")
	if !slices.Equal(c.Values, []float64{900, 950, 920}) || len(c.Samples) != 3 || c.Samples[1][0] != 950 || c.Samples[2][0] != 920 {
		t.Errorf("lat_p99/e %v samples %v", c.Values, c.Samples)
	}
	if got := r.Lookup("udp_pps", "b").Values; !slices.Equal(got, []float64{300e3}) {
		t.Errorf("udp_pps/b %v, want [300k]: nothing to replace", got)
	}
	if r.AnySlow() {
		t.Error("a flagged run is left")
	}
}

// Runs measured again for a load that is not settled (another scenario's
// flagged run of it was not measured again) are all dropped, and every
// flagged run stays; another load's are kept meanwhile, each replacing
// one flagged run, in order.
func TestSettleAgainDrops(t *testing.T) {
	r := NewResults(Scenarios, []string{"udp", "cps"})
	m := r.Mark()
	r.Add("udp_pps", "b", 200e3)
	r.Add("udp_pps", "e", 210e3)
	r.Add("cps", "e", 4e3)
	r.Add("cps", "e", 4.5e3)
	r.MarkSlow(m)
	r.Add("cps", "e", 7e3)
	m = r.Mark()
	r.Add("udp_pps", "b", 300e3) // (e)'s slow udp run is not measured again
	r.MarkAgain(m, "udp")
	m = r.Mark()
	r.Add("cps", "e", 7.2e3)
	r.MarkAgain(m, "cps")
	m = r.Mark()
	r.Add("cps", "e", 7.1e3)
	r.MarkAgain(m, "cps")
	r.SettleAgain(func(load string) bool { return load == "cps" })
	if c := r.Lookup("udp_pps", "b"); !slices.Equal(c.Values, []float64{200e3}) || !slices.Equal(c.Slow, []bool{true}) {
		t.Errorf("udp_pps/b %v slow %v, want its flagged run only", c.Values, c.Slow)
	}
	if c := r.Lookup("cps", "e"); !slices.Equal(c.Values, []float64{7e3, 7.2e3, 7.1e3}) || slices.Contains(c.Slow, true) {
		t.Errorf("cps/e %v slow %v, want [7k 7.2k 7.1k] none slow", c.Values, c.Slow)
	}
	// settled: a later settle changes nothing
	r.SettleAgain(func(string) bool { return false })
	if got := r.Lookup("cps", "e").Values; len(got) != 3 {
		t.Errorf("cps/e %v after a second settle", got)
	}
}
