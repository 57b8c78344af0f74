package sched

import "github.com/govs/gvs/ipvs"

// lblcr is Locality-Based Least Connection with Replication
// (ip_vs_lblcr.c): like lblc, but each destination address maps to a set of
// servers, so a popular address can be served by several caches.
//
// With an entry for the packet's destination address (lastuse refreshed):
//   - the set's least loaded member is taken: the first member, newest
//     first, that is not overloaded, has a positive weight and is still in
//     the service, then any later such member strictly lighter by wlc's
//     comparison (ip_vs_dest_set_min);
//   - if the set has more than one member and has not changed for 24 h
//     (lblcr_expiration), its most loaded member with a positive weight is
//     removed (ip_vs_dest_set_max, ties to the earlier member; the member
//     removed may be the one just chosen, which still serves this
//     connection);
//   - when no member qualified, or the chosen one is overloaded in lblc's
//     sense (localityOverloaded), wlc's choice serves the connection and
//     joins the set at its head if it is not in it yet.
//
// Without an entry, wlc's choice serves it and a new entry holds it alone.
// A set's lastmod changes only when a member is really added or removed.
// Deleted servers stay in the sets (the kernel holds them in its trash) and
// are simply not chosen, unless added back. Garbage collection is lblc's.
type lblcr struct {
	tab *locTable // guarded by the service lock
}

func init() {
	register("lblcr", func(*ipvs.Service) ipvs.Scheduler { return &lblcr{tab: newLocTable()} })
}

func (s *lblcr) Schedule(svc *ipvs.Service, f *ipvs.Flow, now int64) *ipvs.Dest {
	svc.Lock()
	defer svc.Unlock()
	fam := svc.Family()
	if en := s.tab.get(&f.Dst, fam); en != nil {
		en.lastuse = now
		d := setMin(en.set)
		if len(en.set) > 1 && now > en.lastmod+locExpiration {
			if m := setMax(en.set); m != nil {
				setErase(en, m, now)
			}
		}
		if d != nil && !localityOverloaded(d, svc) {
			return d
		}
		if d = leastWeighted(svc.Dests(), connOverhead); d == nil {
			return nil
		}
		setInsert(en, d, now)
		return d
	}
	d := leastWeighted(svc.Dests(), connOverhead)
	if d == nil {
		return nil
	}
	en := &locEntry{addr: f.Dst, lastuse: now}
	setInsert(en, d, now)
	s.tab.add(en, fam)
	return d
}

// setMin is ip_vs_dest_set_min.
func setMin(set []*ipvs.Dest) *ipvs.Dest {
	i := 0
	for ; i < len(set); i++ {
		if d := set[i]; !d.Overloaded() && d.Weight() > 0 && d.Available() {
			break
		}
	}
	if i == len(set) {
		return nil
	}
	least := set[i]
	loh, lw := connOverhead(least), least.Weight()
	for _, d := range set[i+1:] {
		if d.Overloaded() {
			continue
		}
		doh, dw := connOverhead(d), d.Weight()
		if lighter(loh, lw, doh, dw) && d.Available() {
			least, loh, lw = d, doh, dw
		}
	}
	return least
}

// setMax is ip_vs_dest_set_max: the member with the highest overhead per
// weight among those with a positive weight (moh*dw < doh*mw), the earlier
// one on ties.
func setMax(set []*ipvs.Dest) *ipvs.Dest {
	i := 0
	for ; i < len(set); i++ {
		if set[i].Weight() > 0 {
			break
		}
	}
	if i == len(set) {
		return nil
	}
	most := set[i]
	moh, mw := connOverhead(most), most.Weight()
	for _, d := range set[i+1:] {
		doh, dw := connOverhead(d), d.Weight()
		if lighter(doh, dw, moh, mw) && dw > 0 {
			most, moh, mw = d, doh, dw
		}
	}
	return most
}

// setInsert is ip_vs_dest_set_insert: a new member goes to the head.
func setInsert(en *locEntry, d *ipvs.Dest, now int64) {
	if position(en.set, d, -1) >= 0 {
		return
	}
	en.set = append(append(make([]*ipvs.Dest, 0, len(en.set)+1), d), en.set...)
	en.lastmod = now
}

// setErase is ip_vs_dest_set_erase.
func setErase(en *locEntry, d *ipvs.Dest, now int64) {
	if i := position(en.set, d, -1); i >= 0 {
		en.set = append(en.set[:i:i], en.set[i+1:]...)
		en.lastmod = now
	}
}

// Tick runs the garbage collector (lblc's, with lblcr_expiration).
func (s *lblcr) Tick(svc *ipvs.Service, now int64) {
	svc.Lock()
	defer svc.Unlock()
	s.tab.expire(now, locExpiration)
}

// UpdateDests maps set members that were deleted to the same server added
// back (see locTable.rebind); the kernel has no lblcr hook.
func (s *lblcr) UpdateDests(svc *ipvs.Service) {
	svc.Lock()
	defer svc.Unlock()
	s.tab.rebind(svc.Dests())
}
