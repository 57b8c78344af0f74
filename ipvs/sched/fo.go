package sched

import "github.com/govs/gvs/ipvs"

// fo is Weighted Failover (ip_vs_fo.c): all new connections go to the
// destination with the highest weight that is not overloaded; the first one
// in list order wins ties (the comparison is strict), and weight 0 never
// wins (the running maximum starts at 0). Lowering the active server's
// weight, or its upper threshold, fails traffic over to the next one.
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
