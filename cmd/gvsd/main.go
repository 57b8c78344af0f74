// Command gvsd is the GVS director daemon. Without arguments it starts with
// no services, attaches to every up, non-loopback interface and serves its
// API on /run/gvsd/gvsd.sock for gvsadm.
//
// --keepalived-conf and --ldirectord-conf run the virtual services of an
// existing keepalived.conf or ldirectord.cf, health checks included (added
// to the services of --config, if given). Keywords GVS does not support are
// logged with their file and line and gvsd refuses to start until they are
// removed or allowed with --ignore KEYWORD[,...] (or --ignore all);
// keepalived's VRRP and global sections are logged as left to the failover
// work. See docs/health.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/govs/gvs/daemon"
	"github.com/govs/gvs/dataplane"
)

// optDuration is a duration flag that knows whether it was given.
type optDuration struct {
	d   time.Duration
	set bool
}

func (o *optDuration) String() string {
	if o == nil || !o.set {
		return ""
	}
	return o.d.String()
}

func (o *optDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("must not be negative")
	}
	o.d, o.set = d, true
	return nil
}

type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func main() {
	var (
		cfgFile     = flag.String("config", "", "YAML configuration `file` (services, real servers, options)")
		socket      = flag.String("socket", "", "API Unix socket `path` (default /run/gvsd/gvsd.sock)")
		workers     = flag.Int("workers", 0, "packet workers (default: one per CPU)")
		fanout      = flag.String("fanout", "", "how received frames are spread over the workers: flow (a flow's frames to one worker) or cpu (to the worker of the CPU that received them, each worker kept on its CPUs); default: the configuration's fanout, else flow")
		kernelSched = flag.Bool("kernel-sched", true, "let the kernel fast path schedule new connections of IPv4 TCP rr/wrr services (DR, TUN, NAT) without persistence or thresholds; --kernel-sched=false leaves every new connection to gvsd's workers (default: the configuration's kernel_scheduling, else on)")
		controlOnly = flag.Bool("control-only", false, "run the engine and API without touching the network (no data path)")
		logLevel    = flag.String("log-level", "info", "debug, info, warn or error")
		version     = flag.Bool("version", false, "print the version and exit")
		kaConf      = flag.String("keepalived-conf", "", "run the virtual servers (and their checks) of this keepalived.conf `file`")
		ldConf      = flag.String("ldirectord-conf", "", "run the virtual services (and their checks) of this ldirectord.cf `file`")
		ifaces      list
		busyPoll    optDuration
		ignore      list
	)
	flag.Var(&ifaces, "interface", "attach only to this `interface` (repeatable; default: every up, non-loopback one)")
	flag.Var(&busyPoll, "busy-poll", "keep polling the packet rings this `long` after the last packet before sleeping (e.g. 50us; default: the configuration's busy_poll, else 0: off)")
	flag.Var(&ignore, "ignore", "allow these unsupported keepalived/ldirectord `keyword`s to be dropped (comma-separated, repeatable; all: every one)")
	flag.Parse()
	var kernelSchedSet *bool // nil: the configuration decides
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "kernel-sched" {
			kernelSchedSet = kernelSched
		}
	})
	if *version {
		fmt.Println("gvsd", daemon.Version)
		return
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "gvsd:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	opts := daemon.Options{ConfigFile: *cfgFile, KeepalivedConf: *kaConf, LdirectordConf: *ldConf, Ignore: ignore,
		Socket: *socket, Logger: log}
	if !*controlOnly {
		var dp atomic.Pointer[dataplane.Dataplane]
		opts.NewDataplane = linuxDataplane(ifaces, *workers, busyPoll, *fanout, kernelSchedSet, &dp)
		// via_vip health checks need policy routing: root on Linux only
		// (without a router they are reported as errors, never failures)
		opts.Health.Router = pathRouter(log, &dp)
	}
	d, err := daemon.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gvsd:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	if err := d.Run(ctx, reload); err != nil {
		fmt.Fprintln(os.Stderr, "gvsd:", err)
		os.Exit(1)
	}
}
