package sched

import (
	"sync"

	"github.com/govs/gvs/ipvs"
)

// lblc: locality-based least connections (ip_vs_lblc.c), for cache
// clusters: a destination address keeps its server while that server is
// available, has weight and is not overloaded; otherwise a new one is
// chosen by wlc and remembered. Entries unused for lblc_expiration (24 h)
// are forgotten.
const lblcExpiration = int64(24 * 3600 * 1e9)

type lblcEntry struct {
	dest    *ipvs.Dest
	lastuse int64
}

type lblc struct {
	mu    sync.Mutex
	table map[ipvs.Addr]*lblcEntry
}

func init() {
	register("lblc", func(*ipvs.Service) ipvs.Scheduler { return &lblc{table: map[ipvs.Addr]*lblcEntry{}} })
}

// lblcOverloaded is the kernel's is_overloaded for lblc and lblcr: more
// active connections than weight while some server runs below half its weight.
func lblcOverloaded(d *ipvs.Dest, svc *ipvs.Service) bool {
	if d.ActiveConns() > d.Weight() {
		for _, o := range svc.Dests() {
			if o.ActiveConns()*2 < o.Weight() {
				return true
			}
		}
	}
	return false
}

func (s *lblc) Schedule(svc *ipvs.Service, f *ipvs.Flow, now int64) *ipvs.Dest {
	s.mu.Lock()
	defer s.mu.Unlock()
	if en := s.table[f.Dst]; en != nil {
		en.lastuse = now
		d := en.dest
		if d.Available() && d.Weight() > 0 && !lblcOverloaded(d, svc) {
			return d
		}
	}
	d := weightedLeast(svc.Dests(), connOverhead)
	if d == nil {
		return nil
	}
	if en := s.table[f.Dst]; en != nil {
		en.dest = d
	} else {
		s.table[f.Dst] = &lblcEntry{dest: d, lastuse: now}
	}
	return d
}

// Tick forgets entries unused for the expiration time.
func (s *lblc) Tick(_ *ipvs.Service, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a, en := range s.table {
		if now-en.lastuse > lblcExpiration {
			delete(s.table, a)
		}
	}
}
