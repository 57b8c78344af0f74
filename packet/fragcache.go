package packet

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// FragCache lets later fragments find their connection. IPVS sees whole
// datagrams (the kernel reassembles before IPVS's hooks); GVS does not
// reassemble on the hot path. A first fragment carries the ports: the data
// path records them (Add) under (family, protocol, source, destination,
// fragment id), and later fragments of the same datagram take them back
// (Lookup) and follow the same connection. A later fragment that arrives
// before its first fragment, or after its entry was overwritten or
// expired, is not matched and is dropped by the data path (counted), as
// IPVS would drop a datagram it cannot reassemble.
//
// The cache is a fixed array of slots, direct-mapped by a seeded hash
// (colliding datagrams overwrite each other: the cost of a flood is lost
// fragments, never memory). Slots are seqlocks over atomic words: any
// number of goroutines may Add and Lookup concurrently without locks or
// allocation; a reader that races a writer sees a miss, never a torn entry.
type FragCache struct {
	slots []fragSlot
	mask  uint64
	seed  uint64
	ttl   int64
}

type fragSlot struct {
	seq   atomic.Uint64 // odd while written
	key   [5]atomic.Uint64
	value atomic.Uint64 // ports << 32 | expiry
	_     [8]byte       // a slot per cache line
}

// NewFragCache returns a cache of at least slots entries (rounded up to a
// power of two) whose entries expire after ttl (the reassembly timeout:
// 30 s by default, as the kernel's ipfrag_time).
func NewFragCache(slots int, ttl time.Duration) *FragCache {
	n := 1
	for n < slots {
		n <<= 1
	}
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	return &FragCache{
		slots: make([]fragSlot, n),
		mask:  uint64(n - 1),
		seed:  rand.Uint64(),
		ttl:   int64(ttl),
	}
}

// expiry units: 2^20 ns (about 1 ms), in 32 bits (wraps in 50 days; the
// comparison is wrap-aware)
const fragTimeShift = 20

func fragKey(p *Packet) (k [5]uint64) {
	k[0], k[1] = le64(p.Key.Src[0:]), le64(p.Key.Src[8:])
	k[2], k[3] = le64(p.Key.Dst[0:]), le64(p.Key.Dst[8:])
	k[4] = uint64(p.Frag.ID)<<32 | uint64(p.Key.Proto)<<8 | uint64(p.Key.Family)
	return k
}

func (c *FragCache) slot(k *[5]uint64) *fragSlot {
	h := c.seed
	for _, w := range k {
		h = mix(h ^ w)
	}
	return &c.slots[h&c.mask]
}

// Add records the ports of a first fragment (p.Frag.IsFirst) at time now
// (nanoseconds, any monotonic clock). Other packets are ignored.
func (c *FragCache) Add(p *Packet, now int64) {
	if !p.Frag.IsFirst() || p.L4Off == 0 {
		return
	}
	k := fragKey(p)
	s := c.slot(&k)
	seq := s.seq.Load()
	if seq&1 != 0 || !s.seq.CompareAndSwap(seq, seq+1) {
		return // another writer has the slot: losing one entry is fine
	}
	for i := range k {
		s.key[i].Store(k[i])
	}
	exp := uint32((now + c.ttl) >> fragTimeShift)
	s.value.Store(uint64(p.Key.SrcPort)<<48 | uint64(p.Key.DstPort)<<32 | uint64(exp))
	s.seq.Store(seq + 2)
}

// Lookup fills the ports of a later fragment (p.Frag.IsLater) from its
// first fragment's entry and reports whether it found one.
func (c *FragCache) Lookup(p *Packet, now int64) bool {
	if !p.Frag.IsLater() {
		return false
	}
	k := fragKey(p)
	s := c.slot(&k)
	seq := s.seq.Load()
	if seq&1 != 0 {
		return false
	}
	for i := range k {
		if s.key[i].Load() != k[i] {
			return false
		}
	}
	v := s.value.Load()
	if s.seq.Load() != seq || seq == 0 {
		return false
	}
	if int32(uint32(v)-uint32(now>>fragTimeShift)) <= 0 {
		return false // expired
	}
	p.Key.SrcPort, p.Key.DstPort = uint16(v>>48), uint16(v>>32)
	return true
}
