package sched

import (
	"sync/atomic"

	"github.com/govs/gvs/ipvs"
)

// dh is Destination Hashing (ip_vs_dh.c), for cache clusters: the packet's
// destination address (the original server's, on a firewall-mark or
// transparent-proxy service) picks one of 256 buckets (IP_VS_DH_TAB_BITS 8)
// by hash_32(fold(daddr), 8), and the bucket names the cache. Buckets are
// assigned to the destinations in list order (newest first), one each,
// round and round; weights play no part in the table. A bucket whose server
// is no longer available, has weight <= 0 or is overloaded refuses the
// connection (there is no fallback). On a plain address/port service every
// packet has the same destination address, so every connection lands on
// the same bucket.
//
// The kernel rebuilds the table when destinations are added or deleted
// (add_dest, del_dest; it has no upd_dest): UpdateDests rebuilds on every
// change, which gives the same table since edits cannot change it.
type dh struct {
	table atomic.Pointer[dhTable]
}

const dhTabBits = 8

type dhTable [1 << dhTabBits]*ipvs.Dest

func init() { register("dh", func(*ipvs.Service) ipvs.Scheduler { return &dh{} }) }

// UpdateDests rebuilds the table (ip_vs_dh_reassign).
func (s *dh) UpdateDests(svc *ipvs.Service) {
	var t dhTable
	if list := svc.Dests(); len(list) > 0 {
		for i := range t {
			t[i] = list[i%len(list)]
		}
	}
	s.table.Store(&t)
}

func (s *dh) Schedule(svc *ipvs.Service, f *ipvs.Flow, _ int64) *ipvs.Dest {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	d := t[hash32(foldAddr(&f.Dst, f.Family, svc.Family()), dhTabBits)]
	if d == nil || !d.Available() || d.Weight() <= 0 || d.Overloaded() {
		return nil
	}
	return d
}
