package sched

import "github.com/govs/gvs/ipvs"

// lblc is Locality-Based Least Connection (ip_vs_lblc.c), for cache
// clusters: each destination address of the packets (the original server,
// on a firewall-mark or transparent service) is served by one cache, so
// caches do not duplicate content.
//
// The entry for the packet's destination address is used (and its lastuse
// refreshed) while its server is still in the service, has a positive
// weight and is not overloaded in lblc's sense: more active connections
// than its weight while another server has fewer than half its weight
// active (localityOverloaded). Note that the overload flag of the upper
// threshold is not checked for a cached server. Otherwise wlc's choice
// (leastWeighted) serves the connection and replaces the entry (a new
// entry, at the head of its bucket, with lastuse now). Entries unused for
// 24 h are forgotten by the half-hourly full check; over 16384 entries,
// idle ones go sooner (see locTable.expire).
//
// On a plain address/port service every packet has the same destination
// address, so one entry serves all: connections stay on one server until
// it has more active connections than its weight.
type lblc struct {
	tab *locTable // guarded by the service lock
}

func init() {
	register("lblc", func(*ipvs.Service) ipvs.Scheduler { return &lblc{tab: newLocTable()} })
}

func (s *lblc) Schedule(svc *ipvs.Service, f *ipvs.Flow, now int64) *ipvs.Dest {
	svc.Lock()
	defer svc.Unlock()
	fam := svc.Family()
	en := s.tab.get(&f.Dst, fam)
	if en != nil {
		en.lastuse = now
		if d := en.dest; d.Available() && d.Weight() > 0 && !localityOverloaded(d, svc) {
			return d
		}
	}
	d := leastWeighted(svc.Dests(), connOverhead)
	if d == nil {
		return nil
	}
	// ip_vs_lblc_new
	if en != nil {
		if en.dest == d {
			return d
		}
		s.tab.del(en)
	}
	s.tab.add(&locEntry{addr: f.Dst, lastuse: now, dest: d}, fam)
	return d
}

// Tick runs the garbage collector.
func (s *lblc) Tick(svc *ipvs.Service, now int64) {
	svc.Lock()
	defer svc.Unlock()
	s.tab.expire(now, locExpiration)
}

// UpdateDests maps entries of a deleted server to the same server added
// back (the kernel has no lblc hook; see locTable.rebind).
func (s *lblc) UpdateDests(svc *ipvs.Service) {
	svc.Lock()
	defer svc.Unlock()
	s.tab.rebind(svc.Dests())
}
