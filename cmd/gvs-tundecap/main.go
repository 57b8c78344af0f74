// Command gvs-tundecap decapsulates IPVS tunnel traffic (ipip, gue, gre)
// on a real server whose kernel lacks the tunnel modules, and hands the
// inner packets to the local stack through a TUN device.
//
//	gvs-tundecap [--tun gvstun0] [--gue-port 6080] [--allow-from 10.0.2.0/24,...]
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
	gue := flag.Uint("gue-port", 0, "UDP `port` of GUE tunnels (0: none)")
	allow := flag.String("allow-from", "", "comma-separated `prefixes` of accepted tunnel sources (default: any)")
	flag.Parse()
	var prefixes []netip.Prefix
	for _, s := range strings.Split(*allow, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gvs-tundecap:", err)
			os.Exit(2)
		}
		prefixes = append(prefixes, p)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := tundecap.Start(ctx, tundecap.Config{TUN: *tun, GUEPort: uint16(*gue), AllowFrom: prefixes, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gvs-tundecap:", err)
		os.Exit(1)
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			report(log, d)
		}
	}()
	d.Wait()
	report(log, d)
}

func report(log *slog.Logger, d *tundecap.Decap) {
	log.Info("counters", "delivered", d.C.Delivered.Load(), "malformed", d.C.Malformed.Load(),
		"not_allowed", d.C.NotAllowed.Load(), "write_errors", d.C.WriteErrors.Load())
}
