package sched

import (
	"math/rand/v2"

	"github.com/govs/gvs/ipvs"
)

// twos: weighted random twos choice (ip_vs_twos.c): two servers drawn at
// random in proportion to their weights; the less loaded per weight wins.
type twos struct{}

func init() { register("twos", func(*ipvs.Service) ipvs.Scheduler { return twos{} }) }

func (twos) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	list := svc.Dests()
	var total int64
	var choice1 *ipvs.Dest
	for _, d := range list {
		if w := d.Weight(); !d.Overloaded() && w > 0 {
			total += int64(w)
			choice1 = d
		}
	}
	if choice1 == nil {
		return nil
	}
	total++ // the kernel draws in [0, total] inclusive
	r1, r2 := rand.Int64N(total), rand.Int64N(total)
	var choice2 *ipvs.Dest
	w1, w2 := int64(-1), int64(-1)
	var oh1, oh2 int64
	for _, d := range list {
		w := int64(d.Weight())
		if d.Overloaded() || w <= 0 {
			continue
		}
		r1 -= w
		r2 -= w
		if r1 <= 0 && w1 == -1 {
			choice1, w1, oh1 = d, w, d.ConnOverhead()
		}
		if r2 <= 0 && w2 == -1 {
			choice2, w2, oh2 = d, w, d.ConnOverhead()
		}
		if w1 != -1 && w2 != -1 {
			break
		}
	}
	if choice2 != nil && w2*oh1 > w1*oh2 {
		choice1 = choice2
	}
	return choice1
}
