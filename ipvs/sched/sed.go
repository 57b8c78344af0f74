package sched

import "github.com/govs/gvs/ipvs"

// sed: shortest expected delay (ip_vs_sed.c): the lowest (active+1)/weight;
// inactive connections do not count.
type sed struct{}

func init() { register("sed", func(*ipvs.Service) ipvs.Scheduler { return sed{} }) }

func sedOverhead(d *ipvs.Dest) int64 { return int64(d.ActiveConns()) + 1 }

func (sed) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	return weightedLeast(svc.Dests(), sedOverhead)
}
