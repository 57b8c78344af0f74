package sched

import "github.com/govs/gvs/ipvs"

// lc is Least Connection (ip_vs_lc.c): the destination with the lowest
// connection overhead (active*256 + inactive), the first one in list order
// on ties. Weights only matter as 0 = quiesced: the kernel skips weight == 0
// and overloaded destinations, and compares the overheads as unsigned ints.
type lc struct{}

func init() { register("lc", func(*ipvs.Service) ipvs.Scheduler { return lc{} }) }

func (lc) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	var least *ipvs.Dest
	var loh uint32
	for _, d := range svc.Dests() {
		if d.Overloaded() || d.Weight() == 0 {
			continue
		}
		if doh := uint32(connOverhead(d)); least == nil || doh < loh {
			least, loh = d, doh
		}
	}
	return least
}
