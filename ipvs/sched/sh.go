package sched

import (
	"sync/atomic"

	"github.com/govs/gvs/ipvs"
)

// sh: source hashing (ip_vs_sh.c): a 256-bucket table where each
// destination takes as many consecutive buckets as its weight (at least
// one); the client's address (and port with sh-port) picks the bucket.
// With sh-fallback an unavailable server's clients move to the next
// available bucket in a deterministic probe sequence.
const (
	shTabBits = 8
	shTabSize = 1 << shTabBits
)

type sh struct {
	table atomic.Pointer[[shTabSize]*ipvs.Dest]
}

func init() { register("sh", func(*ipvs.Service) ipvs.Scheduler { return &sh{} }) }

func (s *sh) UpdateDests(svc *ipvs.Service) {
	var t [shTabSize]*ipvs.Dest
	list := svc.Dests()
	if len(list) > 0 {
		p, count := 0, int32(0)
		for i := range t {
			d := list[p]
			t[i] = d
			count++
			if count >= d.Weight() {
				p = (p + 1) % len(list)
				count = 0
			}
		}
	}
	s.table.Store(&t)
}

// hash32 is the kernel's hash_32 (golden-ratio multiplicative hash).
func hash32(v uint32, bits uint) uint32 { return (v * 0x61c88647) >> (32 - bits) }

func shHash(a ipvs.Addr, fam ipvs.Family, port uint16, offset uint32) uint32 {
	return (offset + hash32(uint32(port)+fold32(a, fam), shTabBits)) % shTabSize
}

func shUnavailable(d *ipvs.Dest) bool { return d == nil || d.Weight() <= 0 || d.Overloaded() }

func (s *sh) Schedule(svc *ipvs.Service, f *ipvs.Flow, _ int64) *ipvs.Dest {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	var port uint16
	flags := svc.Flags()
	if flags&ipvs.SvcSHPort != 0 {
		port = f.SrcPort
	}
	i := shHash(f.Src, f.Family, port, 0)
	d := t[i]
	if flags&ipvs.SvcSHFallback == 0 {
		if shUnavailable(d) {
			return nil
		}
		return d
	}
	if d == nil {
		return nil
	}
	if !shUnavailable(d) {
		return d
	}
	for off := uint32(0); off < shTabSize; off++ {
		d = t[shHash(f.Src, f.Family, port, (off+i)%shTabSize)]
		if !shUnavailable(d) {
			return d
		}
	}
	return nil
}
