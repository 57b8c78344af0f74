package sched

import "github.com/govs/gvs/ipvs"

// rr: round robin (ip_vs_rr.c). The cursor is the last chosen destination
// (nil = the list head). A pick starts after the cursor, runs to the end,
// then wraps to the cursor itself; weight 0 and overloaded servers are
// skipped.
type rr struct {
	cursor *ipvs.Dest
	prev   []*ipvs.Dest // the list the cursor was set in, to find its predecessor
}

func init() { register("rr", func(*ipvs.Service) ipvs.Scheduler { return &rr{} }) }

func (s *rr) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	svc.Lock()
	defer svc.Unlock()
	list := svc.Dests()
	start := destIndex(list, s.cursor) + 1 // 0 when the cursor is the head
	n := len(list)
	// after the cursor to the end, then from the start through the cursor
	for k := 0; k < n; k++ {
		d := list[(start+k)%n]
		if usable(d) {
			s.cursor = d
			s.prev = list
			return d
		}
	}
	return nil
}

// UpdateDests keeps the cursor; when its destination was removed, the
// cursor moves to the one before it, as ip_vs_rr_del_dest does.
func (s *rr) UpdateDests(svc *ipvs.Service) {
	svc.Lock()
	defer svc.Unlock()
	list := svc.Dests()
	if s.cursor != nil && destIndex(list, s.cursor) < 0 {
		old := s.prev
		i := destIndex(old, s.cursor)
		s.cursor = nil
		for j := i - 1; j >= 0; j-- {
			if destIndex(list, old[j]) >= 0 {
				s.cursor = old[j]
				break
			}
		}
	}
	s.prev = list
}
