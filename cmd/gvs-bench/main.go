//go:build linux

// Command gvs-bench is GVS's benchmark harness (package bench): it builds
// the network-namespace lab and measures kernel routing, nftables DNAT,
// HAProxy and GVS NAT, DR and TUN side by side, then writes a markdown
// report, a PNG chart and the raw figures. ./scripts/bench runs it.
//
//	gvs-bench [run] [--quick] [--scenarios a,b,...|all] [--loads udp,cps,bulk,latency,cost,table|all]
//	          [--runs 3] [--duration 3s] [--out DIR] [--keep] ...
//	gvs-bench render [--out DIR] RESULTS.json   (re-render the report and chart from a run's figures)
//	gvs-bench gen udp|tcp|latency ...   (the load generators; run in the client namespace)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/govs/gvs/bench"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "gen" {
		if err := bench.GenMain(args[1:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "gvs-bench gen:", err)
			os.Exit(1)
		}
		return
	}
	if len(args) > 0 && args[0] == "render" {
		fs := flag.NewFlagSet("gvs-bench render", flag.ExitOnError)
		out := fs.String("out", "", "output directory (default: the JSON file's)")
		fs.Parse(args[1:])
		if fs.NArg() != 1 {
			fail(fmt.Errorf("render: want one results.json"))
		}
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			fail(err)
		}
		var r bench.Results
		if err := json.Unmarshal(b, &r); err != nil {
			fail(err)
		}
		dir := *out
		if dir == "" {
			dir = filepath.Dir(fs.Arg(0))
		}
		if err := write(dir, &r); err != nil {
			fail(err)
		}
		return
	}
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	o := bench.DefaultOptions()
	fs := flag.NewFlagSet("gvs-bench", flag.ExitOnError)
	quick := fs.Bool("quick", false, "quick mode: one 1 s run per scenario and load, the engine benchmarks once (writes to a temporary directory unless --out)")
	scen := fs.String("scenarios", "all", "scenarios: a-f or kernel,nft,haproxy,nat,dr,tun, comma-separated")
	loads := fs.String("loads", "all", "loads: udp,cps,bulk,latency,cost,table, comma-separated")
	out := fs.String("out", "", "output directory (default bench/results in the module; quick mode: a temporary directory)")
	fs.IntVar(&o.Runs, "runs", o.Runs, "runs (rounds over the scenarios); figures are medians")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "duration of each load run")
	fs.StringVar(&o.Prefix, "prefix", o.Prefix, "the lab's namespace prefix")
	fs.IntVar(&o.Flows, "flows", o.Flows, "udp: client flows (source address and port pairs)")
	fs.IntVar(&o.Senders, "senders", o.Senders, "udp: sending threads of the first variant (which also measures the director's cost)")
	fs.IntVar(&o.Senders2, "senders2", o.Senders2, "udp: sending threads of the second variant (0: none)")
	fs.BoolVar(&o.Probe, "probe", o.Probe, "wait before every load until a host probe (datagrams through a veth pair of its own) reads the host's normal speed, and measure a load again when the probe reads slow after it (--probe=false: measure whatever the host does)")
	fs.BoolVar(&o.Pin, "pin", o.Pin, "udp: keep sender thread g on the g-th CPU, the same in every scenario (--pin=false: where the scheduler puts it)")
	fs.IntVar(&o.Payload, "payload", o.Payload, "udp: payload bytes (18: 64-byte frames)")
	fs.IntVar(&o.Workers, "workers", o.Workers, "cps: concurrent connection workers")
	fs.IntVar(&o.Rate, "rate", o.Rate, "latency: requests per second")
	fs.IntVar(&o.GVSDWorkers, "gvsd-workers", o.GVSDWorkers, "gvsd --workers (0: its default, one per CPU)")
	gvsdArgs := fs.String("gvsd-args", "", "extra gvsd arguments, space-separated (e.g. \"--busy-poll 0\")")
	fs.IntVar(&o.TableCount, "table-count", o.TableCount, "table: go test -count")
	fs.StringVar(&o.Benchtime, "benchtime", o.Benchtime, "table: go test -benchtime")
	fs.BoolVar(&o.Keep, "keep", false, "leave the lab up afterwards")
	fs.Parse(args)
	o.GVSDArgs = strings.Fields(*gvsdArgs)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		runs, dur, count, bt := o.Runs, o.Duration, o.TableCount, o.Benchtime
		o.Quick()
		// explicit flags win over quick mode's defaults
		if set["runs"] {
			o.Runs = runs
		}
		if set["duration"] {
			o.Duration = dur
		}
		if set["table-count"] {
			o.TableCount = count
		}
		if set["benchtime"] {
			o.Benchtime = bt
		}
	}
	var err error
	if o.Scenarios, err = bench.SelectScenarios(*scen); err != nil {
		fail(err)
	}
	if o.Loads, err = bench.SelectLoads(*loads); err != nil {
		fail(err)
	}
	dir := *out
	if dir == "" {
		if *quick {
			dir = filepath.Join(os.TempDir(), "gvs-bench-quick")
		} else {
			dir = "bench/results"
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	o.Log = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := bench.Run(ctx, o)
	if err != nil {
		fail(err)
	}
	if err := write(dir, res); err != nil {
		fail(err)
	}
	fmt.Printf("== done in %s: %s\n", time.Since(start).Round(time.Second), filepath.Join(dir, "results.md"))
}

func write(dir string, r *bench.Results) error {
	png, err := bench.Chart(r)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.png"), png, 0o644); err != nil {
		return err
	}
	md := bench.Markdown(r, "results.png")
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "machine.md"), []byte("# Machine of the committed run\n\n"+r.Machine.Markdown()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gvs-bench:", err)
	os.Exit(1)
}
