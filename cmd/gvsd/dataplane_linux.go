//go:build linux

package main

import (
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/daemon"
	"github.com/govs/gvs/dataplane"
	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/netctl"
)

// linuxDataplane builds the AF_PACKET data path on the kernel's tables.
func linuxDataplane(ifaces []string, workers int, busyPoll optDuration) func(*ipvs.Engine, *config.Config, *slog.Logger) (daemon.Dataplane, error) {
	return func(eng *ipvs.Engine, cfg *config.Config, log *slog.Logger) (daemon.Dataplane, error) {
		if len(ifaces) == 0 {
			ifaces = cfg.Interfaces
		}
		if workers == 0 {
			workers = cfg.Workers
		}
		var poll time.Duration // off unless configured
		if cfg.BusyPoll != nil {
			poll = time.Duration(*cfg.BusyPoll)
		}
		if busyPoll.set {
			poll = busyPoll.d
		}
		var vips []netip.Addr
		for _, v := range cfg.VIPs {
			vips = append(vips, netip.Addr(v))
		}
		var marks []dataplane.MarkRule
		for _, r := range cfg.FWMarks {
			for _, m := range r.Match {
				marks = append(marks, dataplane.MarkRule{Mark: r.Mark, Protocol: ipvs.Protocol(m.Protocol), Prefix: netip.Prefix(m.Address), Ports: m.Ports})
			}
		}
		return dataplane.New(eng, netctl.NewLinux(), dataplane.Config{Interfaces: ifaces, Workers: workers, BusyPoll: poll, VIPs: vips, MarkRules: marks, Logger: log})
	}
}

// pathRouter returns the via_vip path router when gvsd runs as root, else
// nil (via_vip checks are then errors: health.ErrNoPathRouter).
func pathRouter(log *slog.Logger) health.PathRouter {
	if os.Geteuid() != 0 {
		log.Info("not root: via_vip health checks are disabled")
		return nil
	}
	return viaVIPRouter{netctl.NewPathRouter(netctl.PathRouterOptions{})}
}

// viaVIPRouter adapts netctl's PathRouter (which imports nothing of GVS)
// to health.PathRouter.
type viaVIPRouter struct{ r *netctl.PathRouter }

func (v viaVIPRouter) ViaVIP(svc ipvs.ServiceKey, d ipvs.DestConfig) (uint32, error) {
	m := netctl.PathRoute
	if d.Method == ipvs.Tunnel {
		m = netctl.PathTunnel
	}
	return v.r.Route(svc.Addr, d.Addr, m)
}

func (v viaVIPRouter) Release(svc ipvs.ServiceKey, d ipvs.DestConfig) { v.r.Release(svc.Addr, d.Addr) }
