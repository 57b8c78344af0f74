package ipvs

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// The connection table.
//
// Entries are sharded by a hash of (protocol, family, client address, client
// port, template bit). Both lookups IPVS needs hash the same fields: a
// client's packet carries the client address and port as its source, a real
// server's NAT reply carries them as its destination. So one shard lock
// covers a connection's state for both directions, and a packet takes exactly
// one lock (the kernel hashes its table the same way).
//
// Inside a shard:
//   - a slab of fixed-size entries in chunks, addressed by index+1, never moved;
//   - an open-addressing index of uint64 slots (32-bit hash tag, index+1),
//     linear probing with backward-shift deletion;
//   - a timer wheel (wheel.go) linking entries by index.
//
// Nothing here allocates per packet, and nothing in a slab holds a Go pointer.

const (
	chunkBits = 8
	chunkSize = 1 << chunkBits
)

type shard struct {
	mu     sync.Mutex
	chunks []*[chunkSize]connEntry // chunks never move: entries keep their address
	free   uint32                  // free list head (index+1), linked through wnext
	fresh  uint32                  // next never-used entry (index+1); 0 before the first chunk
	used   uint32                  // entries in use
	hashed uint32                  // entries in the index
	slots  []uint64
	wheel  wheel
	// peData holds persistence-engine keys of templates for listings
	// (rare: SIP only), keyed by index.
	peData map[uint32]peKey
	// views of slots and chunks published for lock-free prefetching
	// (prefetch.go); the locked paths use the fields above
	view atomic.Pointer[shardView]
	_    [64]byte // keep neighbouring shards' locks off this cache line
}

// Table is the sharded connection table.
type Table struct {
	shards [numShards]shard
	max    int64
	count  atomic.Int64
	seed   uint64
}

func newTable(max int64, seed uint64) *Table {
	t := &Table{max: max, seed: seed | 1}
	return t
}

// hashKey mixes the shared key of both lookup directions. Inputs are the
// last 8 and first 8 address bytes, so IPv4-mapped and IPv6 both spread.
func (t *Table) hashKey(proto Protocol, af Family, caddr *Addr, cport uint16, template bool) uint64 {
	lo := uint64(caddr[8]) | uint64(caddr[9])<<8 | uint64(caddr[10])<<16 | uint64(caddr[11])<<24 |
		uint64(caddr[12])<<32 | uint64(caddr[13])<<40 | uint64(caddr[14])<<48 | uint64(caddr[15])<<56
	hi := uint64(caddr[0]) | uint64(caddr[1])<<8 | uint64(caddr[2])<<16 | uint64(caddr[3])<<24 |
		uint64(caddr[4])<<32 | uint64(caddr[5])<<40 | uint64(caddr[6])<<48 | uint64(caddr[7])<<56
	x := uint64(cport) | uint64(proto)<<16 | uint64(af)<<24
	if template {
		x |= 1 << 32
	}
	h := mix(lo^t.seed, hi^x)
	return h
}

// mix is a 128->64 bit multiply-xorshift hash (the wyhash mixing step).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a^0xa0761d6478bd642f, b^0xe7037ed1a0b428db)
	return hi ^ lo
}

func (t *Table) shardOf(h uint64) (*shard, int) {
	i := int(h >> (64 - shardBits))
	return &t.shards[i], i
}

// entry returns the entry at index+1 idx. The caller holds the shard lock
// (or, for nControl, knows the entry cannot be freed).
func (s *shard) entry(idx uint32) *connEntry {
	i := idx - 1
	return &s.chunks[i>>chunkBits][i&(chunkSize-1)]
}

// alloc takes a free entry: a released one, or the next never-used one
// of the newest chunk (growing the slab by a chunk when it is used up).
// Fresh entries are already zero and are touched only when handed out.
func (s *shard) alloc() uint32 {
	if s.free != 0 {
		idx := s.free
		e := s.entry(idx)
		s.free = e.wnext
		*e = connEntry{}
		s.used++
		return idx
	}
	if s.fresh == 0 || (s.fresh-1)&(chunkSize-1) == 0 && int(s.fresh-1)>>chunkBits == len(s.chunks) {
		n := uint32(len(s.chunks)) * chunkSize
		if n >= maxShardEntries {
			return 0
		}
		s.chunks = append(s.chunks, new([chunkSize]connEntry))
		s.publish()
		s.fresh = n + 1
	}
	idx := s.fresh
	s.fresh++
	s.used++
	return idx
}

func (s *shard) release(idx uint32) {
	if s.peData != nil {
		delete(s.peData, idx)
	}
	e := s.entry(idx)
	*e = connEntry{}
	e.wnext = s.free
	s.free = idx
	s.used--
}

// Open-addressing index. A slot holds tag<<32 | index+1; 0 is empty. The
// tag is the low 32 bits of the key hash, and its low bits pick the home slot.

func (s *shard) indexInsert(tag, idx uint32) {
	if s.slots == nil {
		s.slots = make([]uint64, 16)
		s.publish()
	} else if uint64(s.indexCount()+1)*4 > uint64(len(s.slots))*3 {
		s.indexGrow()
	}
	mask := uint32(len(s.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		if s.slots[i] == 0 {
			s.slots[i] = uint64(tag)<<32 | uint64(idx)
			s.hashed++
			return
		}
	}
}

// indexCount is the number of hashed entries; unhashed templates are in
// the slab but not in the index, so it is tracked via the slab count minus those.
func (s *shard) indexCount() uint32 { return s.hashed }

func (s *shard) indexGrow() {
	old := s.slots
	s.slots = make([]uint64, len(old)*2)
	defer s.publish()
	mask := uint32(len(s.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		for i := uint32(v>>32) & mask; ; i = (i + 1) & mask {
			if s.slots[i] == 0 {
				s.slots[i] = v
				break
			}
		}
	}
}

// indexDelete removes idx (hashed with tag) using backward-shift deletion,
// which keeps probe sequences intact without tombstones.
func (s *shard) indexDelete(tag, idx uint32) {
	mask := uint32(len(s.slots) - 1)
	want := uint64(tag)<<32 | uint64(idx)
	i := tag & mask
	for s.slots[i] != want {
		if s.slots[i] == 0 {
			return // not hashed
		}
		i = (i + 1) & mask
	}
	s.hashed--
	for {
		s.slots[i] = 0
		j := i
		for {
			j = (j + 1) & mask
			v := s.slots[j]
			if v == 0 {
				return
			}
			home := uint32(v>>32) & mask
			// move v back to i if its home is not cyclically within (i, j]
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				s.slots[i] = v
				i = j
				break
			}
		}
	}
}

// find returns the index+1 of the first hashed entry with this tag that
// match accepts, or 0.
func (s *shard) find(tag uint32, match func(*connEntry) bool) uint32 {
	if s.slots == nil {
		return 0
	}
	mask := uint32(len(s.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return 0
		}
		if uint32(v>>32) == tag {
			if idx := uint32(v); match(s.entry(idx)) {
				return idx
			}
		}
	}
}

// findIn finds the connection a client's packet belongs to.
func (s *shard) findIn(tag uint32, f *Flow) uint32 {
	if s.slots == nil {
		return 0
	}
	mask := uint32(len(s.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return 0
		}
		if uint32(v>>32) == tag {
			e := s.entry(uint32(v))
			if e.cport == f.SrcPort && e.vport == f.DstPort && e.proto == f.Protocol &&
				e.caddr == f.Src && e.vaddr == f.Dst && e.flags&ConnTemplate == 0 {
				return uint32(v)
			}
		}
	}
}

// findOut finds the connection a real server's reply belongs to.
func (s *shard) findOut(tag uint32, f *Flow) uint32 {
	if s.slots == nil {
		return 0
	}
	mask := uint32(len(s.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return 0
		}
		if uint32(v>>32) == tag {
			e := s.entry(uint32(v))
			if e.dport == f.SrcPort && e.cport == f.DstPort && e.proto == f.Protocol &&
				e.daddr == f.Src && e.caddr == f.Dst && e.flags&ConnTemplate == 0 {
				return uint32(v)
			}
		}
	}
}

// shardView is an immutable snapshot of a shard's arrays for prefetching.
type shardView struct {
	slots  []uint64
	chunks []*[chunkSize]connEntry
}

func (s *shard) publish() {
	s.view.Store(&shardView{slots: s.slots, chunks: s.chunks})
}

// peKey is a template's persistence-engine name and key.
type peKey struct {
	name string
	data string
}

func (s *shard) setPEData(idx uint32, name string, key []byte) {
	if s.peData == nil {
		s.peData = map[uint32]peKey{}
	}
	s.peData[idx] = peKey{name, string(key)}
}
