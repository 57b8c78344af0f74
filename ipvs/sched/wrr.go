package sched

import "github.com/govs/gvs/ipvs"

// wrr: weighted round robin (ip_vs_wrr.c). cw is the current weight: a
// pass over the list picks every server with weight >= cw; at the end of a
// pass cw drops by the weights' gcd, and wraps to the maximum.
type wrr struct {
	cl     *ipvs.Dest // last chosen (nil = list head)
	cw     int32
	mw, di int32
}

func init() { register("wrr", func(*ipvs.Service) ipvs.Scheduler { return &wrr{} }) }

func gcd(a, b int32) int32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// UpdateDests recomputes gcd and max as ip_vs_wrr_dest_changed does
// (mw = max - (gcd - 1)) and restarts from the list head.
func (s *wrr) UpdateDests(svc *ipvs.Service) {
	svc.Lock()
	defer svc.Unlock()
	var g, max int32
	for _, d := range svc.Dests() {
		w := d.Weight()
		if w > 0 {
			if g == 0 {
				g = w
			} else {
				g = gcd(w, g)
			}
		}
		if w > max {
			max = w
		}
	}
	if g == 0 {
		g = 1
	}
	s.cl = nil
	s.di = g
	s.mw = max - (g - 1)
	if s.cw > s.mw || s.cw == 0 {
		s.cw = s.mw
	} else if s.di > 1 {
		s.cw = (s.cw/s.di)*s.di + 1
	}
}

func (s *wrr) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	svc.Lock()
	defer svc.Unlock()
	list := svc.Dests()
	if s.mw <= 0 || len(list) == 0 {
		return nil
	}
	last := destIndex(list, s.cl) // -1: the head
	var stop = -2                 // index whose check ends the search (none yet)
	lastPass, restarted := false, false
	i := last
	for {
		for i++; i < len(list); i++ {
			d := list[i]
			if !d.Overloaded() && d.Weight() >= s.cw {
				s.cl = d
				return d
			}
			if i == stop {
				s.cl = d
				return nil
			}
		}
		i = -1 // back to the head
		s.cw -= s.di
		if s.cw <= 0 {
			s.cw = s.mw
			if lastPass || last < 0 {
				s.cl = nil
				return nil
			}
			restarted = true
		}
		lastPass = s.cw <= s.di
		if lastPass && restarted && last >= 0 {
			stop = last
		}
	}
}
