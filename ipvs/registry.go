package ipvs

import (
	"sync/atomic"
	"time"
)

// registry hands out small integer ids for services and destinations, so
// the packet path and per-worker counters index arrays instead of hashing
// pointers. Reads are lock-free; writes happen under the engine's mutex.
// Storage grows a chunk at a time and never moves, so adding the ten
// thousandth destination costs what adding the first did.
//
// A released id is handed out again only reuseAfter later (oldest
// first): the kernel fast path names destinations by id in entries and
// SYN records written before a configuration change and read after it,
// and an id reused at once would give a new server the connections the
// kernel sent to the deleted one.
type registry[T any] struct {
	chunks [regChunks]atomic.Pointer[[regChunkSize]atomic.Pointer[T]]
	next   atomic.Uint32 // ids ever handed out, + 1 (id 0 means none)
	free   []freedID     // oldest first
}

// freedID is a released id and when (engine clock).
type freedID struct {
	id uint32
	at int64
}

// reuseAfter is how long a released id rests (engine clock, ns): far
// longer than a SYN record or a fast-path entry of a deleted server
// waits to be read.
const reuseAfter = int64(10 * time.Second)

const (
	regChunkBits = 10
	regChunkSize = 1 << regChunkBits
	regChunks    = 1024 // up to a million live objects of a kind
)

func (r *registry[T]) get(id uint32) *T {
	c := r.chunks[(id>>regChunkBits)%regChunks].Load()
	if c == nil {
		return nil
	}
	return c[id&(regChunkSize-1)].Load()
}

// limit is one past the highest id handed out.
func (r *registry[T]) limit() uint32 {
	n := r.next.Load()
	if n == 0 {
		return 1
	}
	return n
}

// alloc registers v under a new id, or one released at least reuseAfter
// before now (any released one when no new id is left).
func (r *registry[T]) alloc(v *T, now int64) (uint32, bool) {
	id := r.next.Load()
	if id == 0 {
		id = 1
	}
	switch {
	case len(r.free) > 0 && (now-r.free[0].at >= reuseAfter || id >= regChunks*regChunkSize):
		id = r.free[0].id
		r.free = r.free[1:]
	case id >= regChunks*regChunkSize:
		return 0, false
	default:
		r.next.Store(id + 1)
	}
	ci := id >> regChunkBits
	c := r.chunks[ci].Load()
	if c == nil {
		c = new([regChunkSize]atomic.Pointer[T])
		r.chunks[ci].Store(c)
	}
	c[id&(regChunkSize-1)].Store(v)
	return id, true
}

// release unregisters id at now; alloc hands it out again reuseAfter later.
func (r *registry[T]) release(id uint32, now int64) {
	if c := r.chunks[id>>regChunkBits].Load(); c != nil {
		c[id&(regChunkSize-1)].Store(nil)
	}
	r.free = append(r.free, freedID{id, now})
}

// each calls fn for every live object.
func (r *registry[T]) each(fn func(id uint32, v *T)) {
	for id := uint32(1); id < r.limit(); id++ {
		if v := r.get(id); v != nil {
			fn(id, v)
		}
	}
}
