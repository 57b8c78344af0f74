package ipvs

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// serviceIndex finds the service of a new flow. The packet path reads it
// without a lock (atomic slot loads); writers hold Engine.mu and pay O(1)
// amortised per change, so loading tens of thousands of services (a
// keepalived virtual_server_group range) stays linear.
//
// It is an open-addressing table of service pointers with linear probing.
// Deleted slots hold a tombstone until the next rehash; a rehash builds a
// new table and publishes it atomically, so readers always see either the
// old or the new one, both complete.
type serviceIndex struct {
	slots    atomic.Pointer[[]atomic.Pointer[Service]]
	used     int // live services; Engine.mu
	dead     int // tombstones; Engine.mu
	zeroPort atomic.Int32
}

// tombstone marks a deleted slot; its key matches nothing.
var tombstone = &Service{key: ServiceKey{Family: 255}}

const minIndexSlots = 16

func newServiceIndex() *serviceIndex {
	ix := &serviceIndex{}
	s := make([]atomic.Pointer[Service], minIndexSlots)
	ix.slots.Store(&s)
	return ix
}

// indexHash mixes a service key: family, protocol, port, mark and address.
func indexHash(af Family, proto Protocol, port uint16, mark uint32, addr *Addr) uint64 {
	a := binary.LittleEndian.Uint64(addr[:8])
	b := binary.LittleEndian.Uint64(addr[8:])
	m := uint64(af)<<56 | uint64(proto)<<48 | uint64(port)<<32 | uint64(mark)
	h := (a ^ 0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	h = (h ^ b ^ h>>31) * 0x94d049bb133111eb
	h = (h ^ m ^ h>>29) * 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

func (s *Service) indexHash() uint64 {
	return indexHash(s.key.Family, s.key.Protocol, s.key.Port, s.key.FWMark, &s.vaddr)
}

// find returns the service with exactly this key, or nil.
func (ix *serviceIndex) find(af Family, proto Protocol, port uint16, mark uint32, addr *Addr) *Service {
	slots := *ix.slots.Load()
	mask := uint64(len(slots) - 1)
	for i := indexHash(af, proto, port, mark, addr) & mask; ; i = (i + 1) & mask {
		s := slots[i].Load()
		if s == nil {
			return nil
		}
		if s.key.FWMark == mark && s.key.Port == port && s.key.Protocol == proto &&
			s.key.Family == af && s.vaddr == *addr {
			return s
		}
	}
}

// insert adds a service that is not in the index yet; Engine.mu held.
func (ix *serviceIndex) insert(s *Service) {
	slots := *ix.slots.Load()
	if (ix.used+ix.dead+1)*4 > len(slots)*3 {
		slots = ix.rehash(ix.used + 1)
	}
	mask := uint64(len(slots) - 1)
	for i := s.indexHash() & mask; ; i = (i + 1) & mask {
		cur := slots[i].Load()
		if cur == nil || cur == tombstone {
			if cur == tombstone {
				ix.dead--
			}
			slots[i].Store(s)
			break
		}
	}
	ix.used++
	if s.key.FWMark == 0 && s.key.Port == 0 {
		ix.zeroPort.Add(1)
	}
}

// remove takes a service out; Engine.mu held.
func (ix *serviceIndex) remove(s *Service) {
	slots := *ix.slots.Load()
	mask := uint64(len(slots) - 1)
	for i := s.indexHash() & mask; ; i = (i + 1) & mask {
		cur := slots[i].Load()
		if cur == nil {
			return
		}
		if cur == s {
			slots[i].Store(tombstone)
			ix.used--
			ix.dead++
			if s.key.FWMark == 0 && s.key.Port == 0 {
				ix.zeroPort.Add(-1)
			}
			return
		}
	}
}

// rehash publishes a table sized for want live services without tombstones.
func (ix *serviceIndex) rehash(want int) []atomic.Pointer[Service] {
	n := max(minIndexSlots, 1<<bits.Len(uint(want*2)))
	fresh := make([]atomic.Pointer[Service], n)
	mask := uint64(n - 1)
	old := *ix.slots.Load()
	for k := range old {
		s := old[k].Load()
		if s == nil || s == tombstone {
			continue
		}
		i := s.indexHash() & mask
		for fresh[i].Load() != nil {
			i = (i + 1) & mask
		}
		fresh[i].Store(s)
	}
	ix.slots.Store(&fresh)
	ix.dead = 0
	return fresh
}

// each calls fn for every live service, in no particular order.
func (ix *serviceIndex) each(fn func(*Service) bool) {
	slots := *ix.slots.Load()
	for k := range slots {
		if s := slots[k].Load(); s != nil && s != tombstone && !fn(s) {
			return
		}
	}
}
