package sched

import "github.com/govs/gvs/ipvs"

// lc: least connections (ip_vs_lc.c): the lowest active*256+inactive,
// first one on ties; weights only matter as 0 = skip.
type lc struct{}

func init() { register("lc", func(*ipvs.Service) ipvs.Scheduler { return lc{} }) }

func (lc) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	var least *ipvs.Dest
	var loh int64
	for _, d := range svc.Dests() {
		if d.Overloaded() || d.Weight() == 0 {
			continue
		}
		if doh := d.ConnOverhead(); least == nil || doh < loh {
			least, loh = d, doh
		}
	}
	return least
}
