//go:build linux

package main

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/daemon"
	"github.com/govs/gvs/dataplane"
	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/netctl"
)

// linuxDataplane builds the AF_PACKET data path on the kernel's tables.
// The data path it builds is also stored in built (for via_vip checks of
// tunnel real servers, which it encapsulates).
func linuxDataplane(ifaces []string, workers int, busyPoll optDuration, fanout string, kernelSched *bool, built *atomic.Pointer[dataplane.Dataplane]) func(*ipvs.Engine, *config.Config, *slog.Logger) (daemon.Dataplane, error) {
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
		if fanout == "" {
			fanout = cfg.Fanout
		}
		if err := config.CheckFanout(fanout); err != nil {
			return nil, err
		}
		mode := dataplane.FanoutByFlow
		if fanout == config.FanoutCPU {
			mode = dataplane.FanoutByCPU
		}
		// Kernel scheduling is on unless turned off; with fanout: cpu,
		// which it cannot work with, it is off unless asked for (the data
		// path then warns).
		ksched := cfg.KernelSchedulingOn() && (mode == dataplane.FanoutByFlow || cfg.KernelScheduling != nil)
		if kernelSched != nil {
			ksched = *kernelSched
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
		d, err := dataplane.New(eng, netctl.NewLinux(), dataplane.Config{Interfaces: ifaces, Workers: workers, BusyPoll: poll, Fanout: mode, KernelScheduling: ksched, VIPs: vips, MarkRules: marks, Logger: log})
		if err != nil {
			return nil, err
		}
		built.Store(d)
		return d, nil
	}
}

// pathRouter returns the via_vip path router when gvsd runs as root, else
// nil (via_vip checks are then errors: health.ErrNoPathRouter). Tunnel
// real servers are reached under the data path's encapsulation mark.
func pathRouter(log *slog.Logger, dp *atomic.Pointer[dataplane.Dataplane]) health.PathRouter {
	if os.Geteuid() != 0 {
		log.Info("not root: via_vip health checks are disabled")
		return nil
	}
	return viaVIPRouter{netctl.NewPathRouter(netctl.PathRouterOptions{}), dp}
}

// viaVIPRouter adapts netctl's PathRouter (which imports nothing of GVS)
// to health.PathRouter.
type viaVIPRouter struct {
	r  *netctl.PathRouter
	dp *atomic.Pointer[dataplane.Dataplane]
}

func (v viaVIPRouter) ViaVIP(svc ipvs.ServiceKey, d ipvs.DestConfig) (uint32, error) {
	mark, err := v.tunnelMark(d)
	if err != nil {
		return 0, err
	}
	return v.r.Route(svc.Addr, d.Addr, mark)
}

func (v viaVIPRouter) Release(svc ipvs.ServiceKey, d ipvs.DestConfig) {
	if mark, err := v.tunnelMark(d); err == nil {
		v.r.Release(svc.Addr, d.Addr, mark)
	}
}

// tunnelMark is the data path's encapsulation mark for a tunnel real
// server, 0 for others.
func (v viaVIPRouter) tunnelMark(d ipvs.DestConfig) (uint32, error) {
	if d.Method != ipvs.Tunnel {
		return 0, nil
	}
	dp := v.dp.Load()
	if dp == nil {
		return 0, errors.New("via_vip through a tunnel needs the data path, which is not running")
	}
	return dp.TunnelMark(d.Addr, d.Forwarding)
}
