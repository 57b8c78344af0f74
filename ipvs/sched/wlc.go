package sched

import "github.com/govs/gvs/ipvs"

// wlc is Weighted Least Connection (ip_vs_wlc.c), the engine's default: the
// destination with the lowest (active*256 + inactive) / weight, compared
// without division as loh*dw > doh*lw in 64 bits; the first destination in
// list order wins ties. Weight-0 and overloaded destinations take no new
// connections (see leastWeighted).
type wlc struct{}

func init() { register("wlc", func(*ipvs.Service) ipvs.Scheduler { return wlc{} }) }

func (wlc) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	return leastWeighted(svc.Dests(), connOverhead)
}
