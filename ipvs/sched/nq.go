package sched

import "github.com/govs/gvs/ipvs"

// nq is Never Queue (ip_vs_nq.c): the first destination in list order with
// no active connection takes the new one at once; when every destination is
// busy, shortest expected delay ((active + 1) / weight, first on ties)
// decides. Unlike sed, nq skips weight-0 destinations in the whole walk (a
// quiesced idle server is not "idle" for it), along with overloaded ones.
type nq struct{}

func init() { register("nq", func(*ipvs.Service) ipvs.Scheduler { return nq{} }) }

func (nq) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	var least *ipvs.Dest
	var loh, lw int32
	for _, d := range svc.Dests() {
		dw := d.Weight()
		if d.Overloaded() || dw == 0 {
			continue
		}
		doh := expectedDelay(d)
		if d.ActiveConns() == 0 {
			return d // idle: no need to look further
		}
		if least == nil || lighter(loh, lw, doh, dw) {
			least, loh, lw = d, doh, dw
		}
	}
	return least
}
