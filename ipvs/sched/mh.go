package sched

import (
	"math/bits"
	"sync/atomic"

	"github.com/govs/gvs/ipvs"
)

// mh: Maglev hashing (ip_vs_mh.c): a 4093-entry lookup table (the kernel's
// default CONFIG_IP_VS_MH_TAB_INDEX 12) populated from each destination's
// permutation (offset and skip from keyed hashes of its address and port),
// destinations taking turns in proportion to their last non-zero weight;
// the client's address (and port with mh-port) picks the entry. The hash
// keys are the kernel's fixed ones, so every director (and kernel IPVS)
// builds the same table. mh-fallback probes further entries when the
// chosen server is unavailable.
const (
	mhTabSize = 4093
	mhTabBits = 5 // ilog2(mhTabSize) / 2
)

var (
	mhKey1 = [2]uint64{2654435761, 2654435761}
	mhKey2 = [2]uint64{2654435801, 2654435801}
)

type mh struct {
	table atomic.Pointer[[mhTabSize]*ipvs.Dest]
}

func init() { register("mh", func(*ipvs.Service) ipvs.Scheduler { return &mh{} }) }

// hsiphash32 is the kernel's hsiphash of one 32-bit word on 64-bit
// machines (SipHash-1-3 with a 128-bit key, the 64-bit result truncated).
func hsiphash32(v uint32, key [2]uint64) uint32 {
	v0 := uint64(0x736f6d6570736575) ^ key[0]
	v1 := uint64(0x646f72616e646f6d) ^ key[1]
	v2 := uint64(0x6c7967656e657261) ^ key[0]
	v3 := uint64(0x7465646279746573) ^ key[1]
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	b := uint64(4)<<56 | uint64(v)
	v3 ^= b
	round()
	v0 ^= b
	v2 ^= 0xff
	round()
	round()
	round()
	return uint32((v0 ^ v1) ^ (v2 ^ v3))
}

func mhHash(a ipvs.Addr, fam ipvs.Family, port uint16, key [2]uint64, offset uint32) uint32 {
	return hsiphash32(offset+uint32(port)+fold32(a, fam), key)
}

// UpdateDests rebuilds the lookup table (ip_vs_mh_reassign).
func (s *mh) UpdateDests(svc *ipvs.Service) {
	list := svc.Dests()
	var g int32
	var maxW int32
	for _, d := range list {
		if w := d.LastWeight(); w > 0 {
			if g > 0 {
				g = gcd(w, g)
			} else {
				g = w
			}
			maxW = max(maxW, w)
		}
	}
	var t [mhTabSize]*ipvs.Dest
	if old := s.table.Load(); old != nil {
		t = *old // the kernel leaves entries as they were when nothing can be placed
	}
	if g < 1 || len(list) > mhTabSize {
		s.table.Store(&t)
		return
	}
	shift := bits.Len32(uint32(maxW/g)) - mhTabBits
	if shift < 0 {
		shift = 0
	}
	type setup struct {
		perm, skip uint32
		turns      int32
	}
	ds := make([]setup, len(list))
	for i, d := range list {
		off := mhHash(d.Addr(), d.Family(), d.Port(), mhKey1, 0) % mhTabSize
		ds[i].perm = off
		ds[i].skip = mhHash(d.Addr(), d.Family(), d.Port(), mhKey2, 0)%(mhTabSize-1) + 1
		lw := d.LastWeight()
		ds[i].turns = (lw / g) >> shift
		if ds[i].turns == 0 && lw != 0 {
			ds[i].turns = 1
		}
	}
	var filled [mhTabSize]bool
	n, dt := 0, int32(0)
	for n < mhTabSize {
		for i := 0; i < len(list); {
			if ds[i].turns < 1 {
				i++
				continue
			}
			c := ds[i].perm
			for filled[c] {
				ds[i].perm += ds[i].skip
				if ds[i].perm >= mhTabSize {
					ds[i].perm -= mhTabSize
				}
				c = ds[i].perm
			}
			filled[c] = true
			t[c] = list[i]
			if n++; n == mhTabSize {
				break
			}
			if dt++; dt >= ds[i].turns {
				dt = 0
				i++
			}
		}
	}
	s.table.Store(&t)
}

func mhUnavailable(d *ipvs.Dest) bool { return d == nil || d.Weight() <= 0 || d.Overloaded() }

func (s *mh) Schedule(svc *ipvs.Service, f *ipvs.Flow, _ int64) *ipvs.Dest {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	var port uint16
	flags := svc.Flags()
	if flags&ipvs.SvcMHPort != 0 {
		port = f.SrcPort
	}
	if flags&ipvs.SvcMHFallback == 0 {
		d := t[mhHash(f.Src, f.Family, port, mhKey1, 0)%mhTabSize]
		if mhUnavailable(d) {
			return nil
		}
		return d
	}
	for off := uint32(0); off < mhTabSize; off++ {
		if d := t[mhHash(f.Src, f.Family, port, mhKey1, off)%mhTabSize]; !mhUnavailable(d) {
			return d
		}
	}
	return nil
}
