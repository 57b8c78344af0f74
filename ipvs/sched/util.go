package sched

import "github.com/govs/gvs/ipvs"

func register(name string, f func(svc *ipvs.Service) ipvs.Scheduler) {
	ipvs.RegisterScheduler(name, func(svc *ipvs.Service) (ipvs.Scheduler, error) { return f(svc), nil })
}

// usable is the test most kernel schedulers apply: not overloaded and a
// positive weight.
func usable(d *ipvs.Dest) bool { return !d.Overloaded() && d.Weight() > 0 }

// lessLoaded reports whether dest with overhead doh is strictly less
// loaded than least with loh, weighing by the weights the way the kernel
// compares (loh * dest.weight > doh * least.weight), in 64 bits.
func lessLoaded(loh, doh int64, least, dest *ipvs.Dest) bool {
	return loh*int64(dest.Weight()) > doh*int64(least.Weight())
}

// weightedLeast is the loop shared by wlc, sed and lblc: the first usable
// destination, then any later non-overloaded one that is strictly less
// loaded per weight.
func weightedLeast(dests []*ipvs.Dest, overhead func(*ipvs.Dest) int64) *ipvs.Dest {
	var least *ipvs.Dest
	var loh int64
	i := 0
	for ; i < len(dests); i++ {
		if usable(dests[i]) {
			least, loh = dests[i], overhead(dests[i])
			break
		}
	}
	if least == nil {
		return nil
	}
	for _, d := range dests[i+1:] {
		if d.Overloaded() {
			continue
		}
		if doh := overhead(d); lessLoaded(loh, doh, least, d) {
			least, loh = d, doh
		}
	}
	return least
}

func connOverhead(d *ipvs.Dest) int64 { return d.ConnOverhead() }

// fold32 is the kernel's address fold for its table hashes: the IPv4
// address, or the XOR of an IPv6 address's four words (host order).
func fold32(a ipvs.Addr, fam ipvs.Family) uint32 {
	w := func(i int) uint32 { return uint32(a[i])<<24 | uint32(a[i+1])<<16 | uint32(a[i+2])<<8 | uint32(a[i+3]) }
	if fam == ipvs.IPv4 {
		return w(12)
	}
	return w(0) ^ w(4) ^ w(8) ^ w(12)
}

// destIndex returns d's position in list, or -1.
func destIndex(list []*ipvs.Dest, d *ipvs.Dest) int {
	for i, x := range list {
		if x == d {
			return i
		}
	}
	return -1
}
