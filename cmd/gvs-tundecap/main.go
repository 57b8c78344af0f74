//go:build linux

// Command gvs-tundecap runs on a TUN-mode real server whose kernel lacks
// the tunnel modules (ipip, ip6_tunnel, gre, fou): it decapsulates the
// director's ipip, gre and gue packets and hands the inner packets to the
// local stack through a TUN device. Counters are logged on SIGUSR1 and on
// exit (SIGTERM, SIGINT).
//
//	gvs-tundecap [--tun gvstun0] [--gue-port 6080] [--allow-from 10.0.2.0/24,fd00:2::/64] [--kernel=false] [--debug]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/govs/gvs/tundecap"
)

func main() {
	tun := flag.String("tun", "gvstun0", "TUN `device` to create")
	gue := flag.Uint("gue-port", 0, "UDP `port` of GUE tunnels (0: no GUE)")
	allow := flag.String("allow-from", "", "comma-separated `prefixes` of accepted tunnel sources (default: any)")
	batch := flag.Int("batch", 8, "packets per receive call")
	kernel := flag.Bool("kernel", true, "also decapsulate IPv4 IPIP, 6in4, GRE and GUE without options or checksums in the kernel (a TC program), falling back to user space where the kernel refuses")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()
	if flag.NArg() > 0 || *gue > 65535 {
		flag.Usage()
		os.Exit(2)
	}
	prefixes, err := parsePrefixes(*allow)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gvs-tundecap:", err)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := tundecap.Start(ctx, tundecap.Config{TUN: *tun, GUEPort: uint16(*gue), AllowFrom: prefixes, Batch: *batch, Kernel: *kernel, Logger: log})
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			s := d.Stats()
			log.Info("counters", s.LogAttrs()...)
		}
	}()
	d.Wait()
	d.Close()
	s := d.Stats()
	log.Info("stopped", s.LogAttrs()...)
}

func parsePrefixes(list string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("--allow-from: %w", err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}
