package sched

import "github.com/govs/gvs/ipvs"

// ovf: weighted overflow (ip_vs_ovf.c): the highest-weight server whose
// active connections do not exceed its weight; servers overflow in weight
// order.
type ovf struct{}

func init() { register("ovf", func(*ipvs.Service) ipvs.Scheduler { return ovf{} }) }

func (ovf) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	var h *ipvs.Dest
	for _, d := range svc.Dests() {
		w := d.Weight()
		if d.Overloaded() || d.ActiveConns() > w || w == 0 {
			continue
		}
		if h == nil || w > h.Weight() {
			h = d
		}
	}
	return h
}
