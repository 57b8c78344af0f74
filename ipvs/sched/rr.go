package sched

import "github.com/govs/gvs/ipvs"

// rr is Round Robin (ip_vs_rr.c).
//
// The kernel keeps one cursor per service (svc->sched_data): the list
// position of the last destination chosen, or the list head before the
// first pick. A pick looks at the destinations after the cursor up to the
// end of the list, then from the start of the list up to and including the
// cursor's own destination, and takes the first one that is not overloaded
// and has a positive weight. Nothing found leaves the cursor where it was.
//
// The cursor survives list changes as in the kernel: a destination added
// (at the head) or edited does not move it; when the destination it points
// at is deleted it steps back to that destination's predecessor, or to the
// head when it was first (ip_vs_rr_del_dest), so the next pick continues
// with the deleted destination's successor.
type rr struct {
	cursor *ipvs.Dest   // last chosen; nil = the list head
	hint   int          // cursor's index in the list it was found in
	list   []*ipvs.Dest // the list as of the last UpdateDests
}

func init() { register("rr", func(*ipvs.Service) ipvs.Scheduler { return &rr{hint: -1} }) }

func (s *rr) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	return scheduleCycle(svc, s.pick)
}

// Advance makes the pick the kernel made (ipvs.Cycler).
func (s *rr) Advance(svc *ipvs.Service) { advanceCycle(svc, s.pick) }

// pick is Schedule with the service locked.
func (s *rr) pick(list []*ipvs.Dest) *ipvs.Dest {
	n := len(list)
	at := position(list, s.cursor, s.hint) // -1: start at the head
	// after the cursor to the end, then the head up to the cursor itself
	for k := 1; k <= n; k++ {
		i := (at + k) % n
		if d := list[i]; !d.Overloaded() && d.Weight() > 0 {
			s.cursor, s.hint = d, i
			return d
		}
	}
	return nil
}

// UpdateDests moves the cursor to its predecessor when its destination left
// the list (ip_vs_rr_del_dest); additions and edits leave it alone.
func (s *rr) UpdateDests(svc *ipvs.Service) {
	svc.Lock()
	defer svc.Unlock()
	list := svc.Dests()
	if s.cursor != nil && position(list, s.cursor, s.hint) < 0 {
		old := s.list
		i := position(old, s.cursor, -1)
		s.cursor = nil // the head, when it was first
		for j := i - 1; j >= 0; j-- {
			if position(list, old[j], -1) >= 0 {
				s.cursor = old[j]
				break
			}
		}
	}
	s.list = list
	s.hint = position(list, s.cursor, -1)
}

// Cycle is one round from the next pick on: every destination with a
// weight that is not overloaded, in list order after the cursor. The
// caller holds svc's lock.
func (s *rr) Cycle(svc *ipvs.Service, limit int) []*ipvs.Dest {
	list := svc.Dests()
	n := 0
	for _, d := range list {
		if !d.Overloaded() && d.Weight() > 0 {
			n++
		}
	}
	saved := *s
	defer func() { *s = saved }()
	return nextPicks(n, limit, func() *ipvs.Dest { return s.pick(list) })
}
