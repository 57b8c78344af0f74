package sched

import (
	"github.com/govs/gvs/ipvs"
)

// What several schedulers share. Each helper states the kernel rule it
// stands for; a scheduler whose kernel rule differs (lc, nq, fo, ovf, twos)
// spells its own loop out rather than bend a shared one.

// constructors holds every scheduler of the package by name (filled by
// register from init, read-only afterwards).
var constructors = map[string]func(svc *ipvs.Service) ipvs.Scheduler{}

// register adds a scheduler whose construction cannot fail.
func register(name string, newSched func(svc *ipvs.Service) ipvs.Scheduler) {
	constructors[name] = newSched
	ipvs.RegisterScheduler(name, func(svc *ipvs.Service) (ipvs.Scheduler, error) {
		return newSched(svc), nil
	})
}

// connOverhead is ip_vs_dest_conn_overhead: active connections weigh 256
// times an inactive one. It is computed as the kernel's int, so it wraps
// the way the kernel's does (ipvs.Dest.ConnOverhead is the same value in 64
// bits for every realistic count).
func connOverhead(d *ipvs.Dest) int32 {
	return int32(uint32(d.ActiveConns())<<8 + uint32(d.InactConns()))
}

// expectedDelay is the sed and nq overhead: active connections plus the
// new one (inactive connections do not count).
func expectedDelay(d *ipvs.Dest) int32 {
	return d.ActiveConns() + 1
}

// lighter reports whether a destination with overhead doh and weight dw is
// strictly less loaded than the current choice (overhead loh, weight lw):
// the kernel's ((__s64)loh * dw > (__s64)doh * lw), in 64 bits, so equal
// loads keep the earlier destination.
func lighter(loh int32, lw int32, doh int32, dw int32) bool {
	return int64(loh)*int64(dw) > int64(doh)*int64(lw)
}

// leastWeighted is the loop the kernel's wlc, sed, lblc and lblcr share
// (ip_vs_wlc_schedule, ip_vs_sed_schedule, __ip_vs_lblc_schedule,
// __ip_vs_lblcr_schedule): the first destination, in list order, that is
// not overloaded and has a positive weight starts as the least loaded; every
// later destination that is not overloaded replaces it when strictly
// lighter by the cross-multiplied comparison. A later destination of weight
// 0 is not skipped but can never be lighter (0 > doh*lw is false for a
// non-negative overhead), exactly as in the kernel.
func leastWeighted(dests []*ipvs.Dest, overhead func(*ipvs.Dest) int32) *ipvs.Dest {
	i := 0
	for ; i < len(dests); i++ {
		if d := dests[i]; !d.Overloaded() && d.Weight() > 0 {
			break
		}
	}
	if i == len(dests) {
		return nil
	}
	least := dests[i]
	loh, lw := overhead(least), least.Weight()
	for _, d := range dests[i+1:] {
		if d.Overloaded() {
			continue
		}
		doh, dw := overhead(d), d.Weight()
		if lighter(loh, lw, doh, dw) {
			least, loh, lw = d, doh, dw
		}
	}
	return least
}

// foldAddr is the 32-bit value the kernel's table hashes start from
// (ip_vs_sh_hashkey, ip_vs_dh_hashkey, ip_vs_mh_hashkey, ip_vs_lblc(r)_hashkey):
// ntohl of the address for AF_INET, ntohl of the XOR of its four 32-bit
// words for AF_INET6. hashFamily is the family the kernel passes (the
// service's); addrFamily says how a is stored: the kernel keeps an IPv4
// address in the first word of a zeroed nf_inet_addr, so an IPv4 address
// folds to itself under either family, while an IPv6 address hashed as
// AF_INET (a tunnelled IPv6 server of an IPv4 service, in mh) contributes
// only its first word.
func foldAddr(a *ipvs.Addr, addrFamily, hashFamily ipvs.Family) uint32 {
	if addrFamily == ipvs.IPv4 {
		return be32(a[12:16])
	}
	if hashFamily == ipvs.IPv4 {
		return be32(a[0:4])
	}
	return be32(a[0:4]) ^ be32(a[4:8]) ^ be32(a[8:12]) ^ be32(a[12:16])
}

func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// goldenRatio32 is the kernel's GOLDEN_RATIO_32 (include/linux/hash.h).
const goldenRatio32 = 0x61C88647

// hash32 is the kernel's hash_32: multiply by GOLDEN_RATIO_32 and keep the
// top bits. sh, dh, lblc and lblcr index their tables with it (the Debian
// 6.1 modules multiply by 0x61c88647; older kernels used 2654435761 and the
// low bits).
func hash32(v uint32, bits uint) uint32 {
	return (v * goldenRatio32) >> (32 - bits)
}

// flowPort is the port sh-port and mh-port hash: the client's source port
// for TCP, UDP and SCTP, 0 for any other protocol (ip_vs_sh_get_port).
func flowPort(f *ipvs.Flow) uint16 {
	switch f.Protocol {
	case ipvs.ProtoTCP, ipvs.ProtoUDP, ipvs.ProtoSCTP:
		return f.SrcPort
	}
	return 0
}

// gcd is the kernel's gcd() for the positive weights wrr and mh reduce.
func gcd(a, b int32) int32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// weightsGCD is ip_vs_wrr_gcd_weight / ip_vs_mh_gcd_weight: the greatest
// common divisor of the positive values weight returns, 0 when there are none.
func weightsGCD(dests []*ipvs.Dest, weight func(*ipvs.Dest) int32) int32 {
	var g int32
	for _, d := range dests {
		if w := weight(d); w > 0 {
			if g > 0 {
				g = gcd(w, g)
			} else {
				g = w
			}
		}
	}
	return g
}

// maxWeight is ip_vs_wrr_max_weight / the maximum in ip_vs_mh_shift_weight
// (0 when no value is positive).
func maxWeight(dests []*ipvs.Dest, weight func(*ipvs.Dest) int32) int32 {
	var m int32
	for _, d := range dests {
		if w := weight(d); w > m {
			m = w
		}
	}
	return m
}

func curWeight(d *ipvs.Dest) int32  { return d.Weight() }
func lastWeight(d *ipvs.Dest) int32 { return d.LastWeight() }

// position finds d in list, trying hint first (the index d had when it was
// chosen; the list is copy-on-write, so it is usually still right). -1 when
// d is nil or no longer listed.
func position(list []*ipvs.Dest, d *ipvs.Dest, hint int) int {
	if d == nil {
		return -1
	}
	if hint >= 0 && hint < len(list) && list[hint] == d {
		return hint
	}
	for i, x := range list {
		if x == d {
			return i
		}
	}
	return -1
}

// nextPicks makes a cycle of n picks for Cycler.Cycle: nil when n is 0 or
// over limit, or when a pick finds no destination. The caller restores
// the scheduler's state afterwards, so the picks are a look ahead.
func nextPicks(n, limit int, pick func() *ipvs.Dest) []*ipvs.Dest {
	if n == 0 || n > limit {
		return nil
	}
	cycle := make([]*ipvs.Dest, n)
	for i := range cycle {
		if cycle[i] = pick(); cycle[i] == nil {
			return nil
		}
	}
	return cycle
}

// scheduleCycle is a Cycler's Schedule around its pick: while the kernel
// schedules the service, the kernel's next position, with the scheduler
// moved on by one as well (its position is the kernel's); otherwise its
// own pick.
func scheduleCycle(svc *ipvs.Service, pick func([]*ipvs.Dest) *ipvs.Dest) *ipvs.Dest {
	svc.Lock()
	defer svc.Unlock()
	list := svc.Dests()
	if d := svc.KernelPick(); d != nil {
		pick(list)
		return d
	}
	return pick(list)
}

// advanceCycle is a Cycler's Advance around its pick.
func advanceCycle(svc *ipvs.Service, pick func([]*ipvs.Dest) *ipvs.Dest) {
	svc.Lock()
	defer svc.Unlock()
	pick(svc.Dests())
}
