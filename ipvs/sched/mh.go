package sched

import (
	"math/bits"
	"sync/atomic"

	"github.com/govs/gvs/ipvs"
)

// mh is Maglev Hashing (ip_vs_mh.c; Eisenbud et al., NSDI 2016, section
// 3.4): a lookup table of 4093 entries (the prime primes[IP_VS_MH_TAB_INDEX]
// for Debian's CONFIG_IP_VS_MH_TAB_INDEX=12) in which each destination
// holds a share proportional to its weight; a client's address, and with
// mh-port its source port, picks the entry. Unlike sh, a change to the list
// moves few clients: each destination fills the table along its own fixed
// permutation.
//
// Table (ip_vs_mh_reassign, rebuilt on every add, delete and edit):
//   - weights are last weights (ipvs.Dest.LastWeight, the latest non-zero
//     weight), so a server set to weight 0 keeps its entries and its clients
//     are refused (or, with mh-fallback, moved) instead of reshuffling
//     everyone; a server added with weight 0 has no entry;
//   - g is the gcd of the positive last weights and rshift =
//     max(0, fls(max/g) - 6) (IP_VS_MH_TAB_BITS is TAB_INDEX/2 = 6), so a
//     destination takes turns = (lw/g) >> rshift entries per round, at least
//     one when lw > 0;
//   - each destination's permutation starts at offset = H1 % 4093 and steps
//     by skip = H2 % 4092 + 1, where H1 and H2 hash its address and port
//     with the two keys below; rounds walk the list (newest first), each
//     destination claiming its next free entries for its turns, until all
//     4093 are taken;
//   - with no positive last weight the table is emptied (every pick refused);
//     with more destinations than entries the kernel refuses the rebuild and
//     the old table stays.
//
// Hashes (ip_vs_mh_hashkey): hsiphash of the 32-bit value offset + port +
// fold(addr) (host order; foldAddr with the service's family, also for the
// destinations' own addresses) under a 128-bit key. The keys are the
// kernel's: not random but fixed constants in generate_hash_secret,
// {2654435761, 2654435761} and {2654446892, 2654446892}, which is what lets
// directors (kernel or GVS) agree on the table. hsiphash on 64-bit kernels
// is SipHash-1-3 with a 64-bit output truncated to 32 bits, reproduced by
// hsiphash below and checked against the kernel's self-test vectors.
//
// Pick: entry H1(client) % 4093 (offset 0, port 0 unless mh-port); an empty
// entry, or a server with weight <= 0 or overloaded, refuses the connection.
// With mh-fallback (ip_vs_mh_get_fallback) the entries
// H1(client, offset (ihash+i) % 4093) for i = 0, 1, ... are tried in turn
// until an available server, giving up at an empty entry.
type mh struct {
	table atomic.Pointer[mhTable]
}

const (
	mhTabSize = 4093 // primes[CONFIG_IP_VS_MH_TAB_INDEX - 8], index 12
	mhTabBits = 6    // CONFIG_IP_VS_MH_TAB_INDEX / 2
)

type mhTable [mhTabSize]*ipvs.Dest

// The kernel's fixed hsiphash keys (generate_hash_secret).
var (
	mhKey1 = [2]uint64{2654435761, 2654435761}
	mhKey2 = [2]uint64{2654446892, 2654446892}
)

func init() { register("mh", func(*ipvs.Service) ipvs.Scheduler { return &mh{} }) }

// mhHash is ip_vs_mh_hashkey for an already folded address.
func mhHash(fold uint32, port uint16, key *[2]uint64, offset uint32) uint32 {
	return hsiphashU32(offset+uint32(port)+fold, key)
}

// mhSetup is struct ip_vs_mh_dest_setup.
type mhSetup struct {
	perm, skip uint32
	turns      int32
}

// UpdateDests is ip_vs_mh_dest_changed: gcd, rshift, permutations, populate.
func (s *mh) UpdateDests(svc *ipvs.Service) {
	list := svc.Dests()
	if len(list) > mhTabSize {
		return // -EINVAL: the old table stays
	}
	t := new(mhTable)
	g := weightsGCD(list, lastWeight)
	if g < 1 {
		s.table.Store(t) // ip_vs_mh_reset: every entry empty
		return
	}
	rshift := bits.Len32(uint32(maxWeight(list, lastWeight)/g)) - mhTabBits
	if rshift < 0 {
		rshift = 0
	}
	setup := make([]mhSetup, len(list))
	for i, d := range list {
		a := d.Addr()
		fold := foldAddr(&a, d.Family(), svc.Family())
		ds := &setup[i]
		ds.perm = mhHash(fold, d.Port(), &mhKey1, 0) % mhTabSize
		ds.skip = mhHash(fold, d.Port(), &mhKey2, 0)%(mhTabSize-1) + 1
		lw := d.LastWeight()
		if ds.turns = (lw / g) >> rshift; ds.turns == 0 && lw != 0 {
			ds.turns = 1
		}
	}
	// ip_vs_mh_populate
	var taken [mhTabSize]bool
	n, dt := 0, int32(0)
	for n < mhTabSize {
		for i := 0; i < len(list); {
			ds := &setup[i]
			if ds.turns < 1 { // added with weight 0
				i++
				continue
			}
			c := ds.perm
			for taken[c] {
				if ds.perm += ds.skip; ds.perm >= mhTabSize {
					ds.perm -= mhTabSize
				}
				c = ds.perm
			}
			taken[c] = true
			t[c] = list[i]
			if n++; n == mhTabSize {
				break
			}
			if dt++; dt >= ds.turns {
				dt = 0
				i++
			}
		}
	}
	s.table.Store(t)
}

func (s *mh) Schedule(svc *ipvs.Service, f *ipvs.Flow, _ int64) *ipvs.Dest {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	flags := svc.Flags()
	var port uint16
	if flags&ipvs.SvcMHPort != 0 {
		port = flowPort(f)
	}
	fold := foldAddr(&f.Src, f.Family, svc.Family())
	ihash := mhHash(fold, port, &mhKey1, 0) % mhTabSize
	d := t[ihash]
	if d == nil {
		return nil
	}
	if !shUnavailable(d) {
		return d
	}
	if flags&ipvs.SvcMHFallback == 0 {
		return nil
	}
	for off := uint32(0); off < mhTabSize; off++ {
		d = t[mhHash(fold, port, &mhKey1, (off+ihash)%mhTabSize)%mhTabSize]
		if d == nil {
			return nil
		}
		if !shUnavailable(d) {
			return d
		}
	}
	return nil
}

// ---- hsiphash (lib/siphash.c, BITS_PER_LONG == 64: SipHash-1-3) ----

type sipState struct{ v0, v1, v2, v3 uint64 }

func newSip(key *[2]uint64) sipState {
	return sipState{
		v0: 0x736f6d6570736575 ^ key[0],
		v1: 0x646f72616e646f6d ^ key[1],
		v2: 0x6c7967656e657261 ^ key[0],
		v3: 0x7465646279746573 ^ key[1],
	}
}

func (s *sipState) round() {
	s.v0 += s.v1
	s.v1 = bits.RotateLeft64(s.v1, 13)
	s.v1 ^= s.v0
	s.v0 = bits.RotateLeft64(s.v0, 32)
	s.v2 += s.v3
	s.v3 = bits.RotateLeft64(s.v3, 16)
	s.v3 ^= s.v2
	s.v0 += s.v3
	s.v3 = bits.RotateLeft64(s.v3, 21)
	s.v3 ^= s.v0
	s.v2 += s.v1
	s.v1 = bits.RotateLeft64(s.v1, 17)
	s.v1 ^= s.v2
	s.v2 = bits.RotateLeft64(s.v2, 32)
}

// compress absorbs one little-endian 64-bit message word (one round).
func (s *sipState) compress(m uint64) {
	s.v3 ^= m
	s.round()
	s.v0 ^= m
}

// finish absorbs the last word b (length << 56 | tail bytes) and runs the
// three finalization rounds.
func (s *sipState) finish(b uint64) uint32 {
	s.compress(b)
	s.v2 ^= 0xff
	s.round()
	s.round()
	s.round()
	return uint32(s.v0 ^ s.v1 ^ s.v2 ^ s.v3)
}

// hsiphash hashes data as the kernel's hsiphash does on 64-bit machines.
func hsiphash(data []byte, key *[2]uint64) uint32 {
	s := newSip(key)
	b := uint64(len(data)) << 56
	for ; len(data) >= 8; data = data[8:] {
		s.compress(uint64(data[0]) | uint64(data[1])<<8 | uint64(data[2])<<16 | uint64(data[3])<<24 |
			uint64(data[4])<<32 | uint64(data[5])<<40 | uint64(data[6])<<48 | uint64(data[7])<<56)
	}
	for i, c := range data {
		b |= uint64(c) << (8 * i)
	}
	return s.finish(b)
}

// hsiphashU32 is hsiphash(&v, 4, key) for a native (little-endian) u32, the
// form ip_vs_mh_hashkey uses.
func hsiphashU32(v uint32, key *[2]uint64) uint32 {
	s := newSip(key)
	return s.finish(4<<56 | uint64(v))
}
