package sched

import "github.com/govs/gvs/ipvs"

// wrr is Weighted Round Robin (ip_vs_wrr.c).
//
// State (struct ip_vs_wrr_mark): cl, the last chosen destination or the
// list head; cw, the current weight; mw, the maximum weight less (di - 1);
// di, the gcd of the positive weights. A pick walks the list after cl and
// takes the first destination that is not overloaded and has weight >= cw;
// each time the walk passes the end of the list cw drops by di, and when it
// reaches 0 or less it starts again at mw. So with weights 4,3,2 (gcd 1,
// mw 4) the passes admit {4}, {4,3}, {4,3,2}, {4,3,2}: a 4,3,2 share.
// The walk gives up once every destination was tried at cw <= di (the
// kernel's last_pass/restarted/stop bookkeeping, kept as is), leaving cl on
// the destination where it stopped, or the head.
//
// Every add, delete or edit of a destination (add_dest, del_dest and
// upd_dest are all ip_vs_wrr_dest_changed) recomputes di and mw, sends cl
// back to the list head and keeps cw when it still fits: cw above the new
// mw, or 0, becomes mw; otherwise, with di > 1, it is rounded down to a
// multiple of di, plus one.
type wrr struct {
	cl     *ipvs.Dest // nil = the list head
	hint   int        // cl's index in the list it was found in
	cw, mw int32
	di     int32
}

func init() { register("wrr", func(*ipvs.Service) ipvs.Scheduler { return &wrr{hint: -1} }) }

// UpdateDests is ip_vs_wrr_dest_changed (also the state init_service sets
// up: the engine calls it as soon as the scheduler is bound, when cw is 0).
func (s *wrr) UpdateDests(svc *ipvs.Service) {
	svc.Lock()
	defer svc.Unlock()
	list := svc.Dests()
	s.cl, s.hint = nil, -1
	s.di = weightsGCD(list, curWeight)
	if s.di == 0 {
		s.di = 1
	}
	s.mw = maxWeight(list, curWeight) - (s.di - 1)
	if s.cw > s.mw || s.cw == 0 {
		s.cw = s.mw
	} else if s.di > 1 {
		s.cw = (s.cw/s.di)*s.di + 1
	}
}

func (s *wrr) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	return scheduleCycle(svc, s.pick)
}

// Advance makes the pick the kernel made (ipvs.Cycler).
func (s *wrr) Advance(svc *ipvs.Service) { advanceCycle(svc, s.pick) }

// pick is Schedule with the service locked.
func (s *wrr) pick(list []*ipvs.Dest) *ipvs.Dest {
	if s.mw == 0 {
		return nil // no destination has a weight
	}
	last := position(list, s.cl, s.hint) // -1: the head
	stop := -2                           // index whose failed check ends the search; none yet
	lastPass, restarted := false, false
	i := last
	for {
		for i++; i < len(list); i++ {
			if d := list[i]; !d.Overloaded() && d.Weight() >= s.cw {
				s.cl, s.hint = d, i
				return d
			}
			if i == stop {
				s.cl, s.hint = list[i], i
				return nil
			}
		}
		i = -1 // past the end: back to the head
		s.cw -= s.di
		if s.cw <= 0 {
			s.cw = s.mw
			// Stop when the last pass (cw <= di) already covered every
			// destination: it started from the head, or it ran once
			// from cl to the end and once more from the head.
			if lastPass || last < 0 {
				s.cl, s.hint = nil, -1
				return nil
			}
			restarted = true
		}
		lastPass = s.cw <= s.di
		if lastPass && restarted && last >= 0 {
			// The first pass checked only the destinations after cl;
			// this one checks the rest, up to cl itself.
			stop = last
		}
	}
}

// Cycle is one full round from the next pick on. A round has, for each
// current weight from the largest weight down by the weights' gcd, the
// destinations whose weight reaches it (overloaded ones skipped, as
// Schedule does); from any state the next that many picks are that round,
// rotated. The caller holds svc's lock.
func (s *wrr) Cycle(svc *ipvs.Service, limit int) []*ipvs.Dest {
	list := svc.Dests()
	g, mw := weightsGCD(list, curWeight), maxWeight(list, curWeight)
	if g <= 0 {
		return nil
	}
	n := 0
	for cw := mw; cw > 0; cw -= g {
		for _, d := range list {
			if !d.Overloaded() && d.Weight() >= cw {
				n++
			}
		}
	}
	saved := *s
	defer func() { *s = saved }()
	return nextPicks(n, limit, func() *ipvs.Dest { return s.pick(list) })
}
