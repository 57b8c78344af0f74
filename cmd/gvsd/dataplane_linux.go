//go:build linux

package main

import (
	"log/slog"
	"net/netip"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/daemon"
	"github.com/govs/gvs/dataplane"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/netctl"
)

// linuxDataplane builds the AF_PACKET data path on the kernel's tables.
func linuxDataplane(ifaces []string, workers int) func(*ipvs.Engine, *config.Config, *slog.Logger) (daemon.Dataplane, error) {
	return func(eng *ipvs.Engine, cfg *config.Config, log *slog.Logger) (daemon.Dataplane, error) {
		if len(ifaces) == 0 {
			ifaces = cfg.Interfaces
		}
		if workers == 0 {
			workers = cfg.Workers
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
		return dataplane.New(eng, netctl.NewLinux(), dataplane.Config{Interfaces: ifaces, Workers: workers, VIPs: vips, MarkRules: marks, Logger: log})
	}
}
