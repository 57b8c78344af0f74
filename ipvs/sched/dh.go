package sched

import (
	"sync/atomic"

	"github.com/govs/gvs/ipvs"
)

// dh: destination hashing (ip_vs_dh.c): a 256-bucket table filled with the
// destinations in list order, round robin; the packet's destination address
// picks the bucket. Used for cache clusters.
const dhTabBits = 8

type dh struct {
	table atomic.Pointer[[1 << dhTabBits]*ipvs.Dest]
}

func init() { register("dh", func(*ipvs.Service) ipvs.Scheduler { return &dh{} }) }

func (s *dh) UpdateDests(svc *ipvs.Service) {
	var t [1 << dhTabBits]*ipvs.Dest
	list := svc.Dests()
	for i := range t {
		if len(list) > 0 {
			t[i] = list[i%len(list)]
		}
	}
	s.table.Store(&t)
}

// dhHash is ip_vs_dh_hashkey: Knuth's multiplicative hash of the folded address.
func dhHash(a ipvs.Addr, fam ipvs.Family) uint32 {
	return (fold32(a, fam) * 2654435761) & (1<<dhTabBits - 1)
}

func (s *dh) Schedule(svc *ipvs.Service, f *ipvs.Flow, _ int64) *ipvs.Dest {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	d := t[dhHash(f.Dst, f.Family)]
	if d == nil || !d.Available() || d.Weight() <= 0 || d.Overloaded() {
		return nil
	}
	return d
}
