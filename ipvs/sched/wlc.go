package sched

import "github.com/govs/gvs/ipvs"

// wlc: weighted least connections (ip_vs_wlc.c): the lowest
// (active*256+inactive)/weight, compared by cross-multiplication.
type wlc struct{}

func init() { register("wlc", func(*ipvs.Service) ipvs.Scheduler { return wlc{} }) }

func (wlc) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	return weightedLeast(svc.Dests(), connOverhead)
}
