package sched

import "github.com/govs/gvs/ipvs"

// fo: weighted failover (ip_vs_fo.c): the available server with the
// highest weight, the first one in list order on ties.
type fo struct{}

func init() { register("fo", func(*ipvs.Service) ipvs.Scheduler { return fo{} }) }

func (fo) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	var best *ipvs.Dest
	var hw int32
	for _, d := range svc.Dests() {
		if w := d.Weight(); !d.Overloaded() && w > hw {
			best, hw = d, w
		}
	}
	return best
}
