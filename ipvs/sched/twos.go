package sched

import (
	"math/rand/v2"

	"github.com/govs/gvs/ipvs"
)

// twos is Weighted Random Twos Choice (ip_vs_twos.c; Debian's 6.1 kernel
// does not build it, CONFIG_IP_VS_TWOS is unset): two destinations are
// drawn at random, each with probability proportional to its weight, and
// the one with the lower overhead per weight wins (the first draw on ties).
// Weight-0 and overloaded destinations are never drawn.
//
// As in the kernel, each draw is a number r uniform in [0, total weight]
// (inclusive: the kernel takes prandom % (total + 1)), and the destination
// drawn is the first one, in list order, at which the running sum of
// weights reaches r; r = 0 therefore also lands on the first destination.
// GVS draws from math/rand/v2 and, where the kernel sums weights and
// multiplies weight by overhead in 32-bit ints (which can overflow with
// large weights or counts), computes in 64 bits.
type twos struct{}

func init() { register("twos", func(*ipvs.Service) ipvs.Scheduler { return twos{} }) }

func (twos) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	list := svc.Dests()
	var total uint64
	for _, d := range list {
		if w := d.Weight(); !d.Overloaded() && w > 0 {
			total += uint64(w)
		}
	}
	if total == 0 {
		return nil
	}
	total++
	return twosPick(list, int64(rand.Uint64()%total), int64(rand.Uint64()%total))
}

// twosPick is the deterministic part of twos: the destinations at which the
// running weight sums reach r1 and r2, and the lighter of the two.
func twosPick(list []*ipvs.Dest, r1, r2 int64) *ipvs.Dest {
	var c1, c2, usable *ipvs.Dest
	var w1, w2, oh1, oh2 int64 = -1, -1, 0, 0
	for _, d := range list {
		if d.Overloaded() {
			continue
		}
		w := int64(d.Weight())
		if w <= 0 {
			continue
		}
		usable = d
		r1 -= w
		r2 -= w
		if r1 <= 0 && c1 == nil {
			c1, w1, oh1 = d, w, int64(connOverhead(d))
		}
		if r2 <= 0 && c2 == nil {
			c2, w2, oh2 = d, w, int64(connOverhead(d))
		}
		if c1 != nil && c2 != nil {
			break
		}
	}
	if c1 == nil {
		// Only when weights changed between the two walks: the kernel
		// keeps its first walk's last usable destination as choice 1.
		c1 = usable
	}
	if c2 != nil && w2*oh1 > w1*oh2 {
		return c2
	}
	return c1
}
