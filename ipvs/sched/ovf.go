package sched

import "github.com/govs/gvs/ipvs"

// ovf is Weighted Overflow (ip_vs_ovf.c): the highest-weight destination
// whose active connections do not exceed its weight takes the connection;
// when it is full, traffic overflows to the next weight down, and when
// every destination is full the connection is refused. Weight 0 and
// overloaded destinations are skipped; the first in list order wins ties.
// "Do not exceed" is active <= weight checked before the new connection is
// counted, so a destination ends up with weight + 1 active connections.
type ovf struct{}

func init() { register("ovf", func(*ipvs.Service) ipvs.Scheduler { return ovf{} }) }

func (ovf) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	var h *ipvs.Dest
	var hw int32
	for _, d := range svc.Dests() {
		w := d.Weight()
		if d.Overloaded() || d.ActiveConns() > w || w == 0 {
			continue
		}
		if h == nil || w > hw {
			h, hw = d, w
		}
	}
	return h
}
