package sched

import "github.com/govs/gvs/ipvs"

// nq: never queue (ip_vs_nq.c): the first idle server (no active
// connection) in list order; otherwise shortest expected delay.
type nq struct{}

func init() { register("nq", func(*ipvs.Service) ipvs.Scheduler { return nq{} }) }

func (nq) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	var least *ipvs.Dest
	var loh int64
	for _, d := range svc.Dests() {
		if d.Overloaded() || d.Weight() == 0 {
			continue
		}
		doh := sedOverhead(d)
		if d.ActiveConns() == 0 {
			return d
		}
		if least == nil || lessLoaded(loh, doh, least, d) {
			least, loh = d, doh
		}
	}
	return least
}
