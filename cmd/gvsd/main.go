// Command gvsd is the GVS director daemon. Without arguments it starts with
// no services, attaches to every up, non-loopback interface and serves its
// API on /run/gvsd/gvsd.sock for gvsadm.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/govs/gvs/daemon"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, strings.Split(s, ",")...); return nil }

func main() {
	var (
		cfgFile     = flag.String("config", "", "YAML configuration `file` (services, real servers, options)")
		socket      = flag.String("socket", "", "API Unix socket `path` (default /run/gvsd/gvsd.sock)")
		workers     = flag.Int("workers", 0, "packet workers (default: one per CPU)")
		controlOnly = flag.Bool("control-only", false, "run the engine and API without touching the network (no data path)")
		logLevel    = flag.String("log-level", "info", "debug, info, warn or error")
		version     = flag.Bool("version", false, "print the version and exit")
		ifaces      list
	)
	flag.Var(&ifaces, "interface", "attach only to this `interface` (repeatable; default: every up, non-loopback one)")
	flag.Parse()
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
	opts := daemon.Options{ConfigFile: *cfgFile, Socket: *socket, Logger: log}
	if !*controlOnly {
		opts.NewDataplane = linuxDataplane(ifaces, *workers)
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
