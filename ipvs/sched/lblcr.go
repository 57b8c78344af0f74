package sched

import (
	"sync"

	"github.com/govs/gvs/ipvs"
)

// lblcr: locality-based least connections with replication
// (ip_vs_lblcr.c): each destination address maps to a set of servers; the
// least loaded of the set serves it, a server is added when the set's best
// is overloaded, and the most loaded is dropped from sets that have not
// changed for lblcr_expiration.
type lblcrSet struct {
	dests   []*ipvs.Dest // newest first
	lastmod int64
	lastuse int64
}

type lblcr struct {
	mu    sync.Mutex
	table map[ipvs.Addr]*lblcrSet
}

func init() {
	register("lblcr", func(*ipvs.Service) ipvs.Scheduler { return &lblcr{table: map[ipvs.Addr]*lblcrSet{}} })
}

// setMin is ip_vs_dest_set_min: the least loaded available member.
func (set *lblcrSet) min() *ipvs.Dest {
	var least *ipvs.Dest
	var loh int64
	i := 0
	for ; i < len(set.dests); i++ {
		d := set.dests[i]
		if d.Overloaded() {
			continue
		}
		if d.Weight() > 0 && d.Available() {
			least, loh = d, d.ConnOverhead()
			break
		}
	}
	if least == nil {
		return nil
	}
	for _, d := range set.dests[i+1:] {
		if d.Overloaded() {
			continue
		}
		if doh := d.ConnOverhead(); lessLoaded(loh, doh, least, d) && d.Available() {
			least, loh = d, doh
		}
	}
	return least
}

// max is ip_vs_dest_set_max: the most loaded member with weight.
func (set *lblcrSet) max() *ipvs.Dest {
	var most *ipvs.Dest
	var moh int64
	i := 0
	for ; i < len(set.dests); i++ {
		if d := set.dests[i]; d.Weight() > 0 {
			most, moh = d, d.ConnOverhead()
			break
		}
	}
	if most == nil {
		return nil
	}
	for _, d := range set.dests[i+1:] {
		doh := d.ConnOverhead()
		if moh*int64(d.Weight()) < doh*int64(most.Weight()) && d.Weight() > 0 {
			most, moh = d, doh
		}
	}
	return most
}

func (set *lblcrSet) insert(d *ipvs.Dest, now int64) {
	set.lastmod = now
	if destIndex(set.dests, d) >= 0 {
		return
	}
	set.dests = append([]*ipvs.Dest{d}, set.dests...)
}

func (set *lblcrSet) erase(d *ipvs.Dest) {
	if i := destIndex(set.dests, d); i >= 0 {
		set.dests = append(set.dests[:i:i], set.dests[i+1:]...)
	}
}

func (s *lblcr) Schedule(svc *ipvs.Service, f *ipvs.Flow, now int64) *ipvs.Dest {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.table[f.Dst]
	if set != nil {
		set.lastuse = now
		d := set.min()
		if len(set.dests) > 1 && now-set.lastmod > lblcExpiration {
			if m := set.max(); m != nil {
				set.erase(m)
			}
		}
		if d != nil && !lblcOverloaded(d, svc) {
			return d
		}
		d = weightedLeast(svc.Dests(), connOverhead)
		if d == nil {
			return nil
		}
		set.insert(d, now)
		return d
	}
	d := weightedLeast(svc.Dests(), connOverhead)
	if d == nil {
		return nil
	}
	set = &lblcrSet{lastuse: now}
	set.insert(d, now)
	s.table[f.Dst] = set
	return d
}

// UpdateDests drops deleted servers from the sets.
func (s *lblcr) UpdateDests(svc *ipvs.Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := svc.Dests()
	for _, set := range s.table {
		kept := set.dests[:0]
		for _, d := range set.dests {
			if destIndex(list, d) >= 0 {
				kept = append(kept, d)
			}
		}
		set.dests = kept
	}
}

// Tick forgets sets unused for the expiration time.
func (s *lblcr) Tick(_ *ipvs.Service, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a, set := range s.table {
		if now-set.lastuse > lblcExpiration {
			delete(s.table, a)
		}
	}
}
