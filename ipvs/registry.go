package ipvs

import "sync/atomic"

// registry hands out small integer ids for services and destinations, so
// the packet path and per-worker counters index arrays instead of hashing
// pointers. Reads are lock-free; writes happen under the engine's mutex.
// Storage grows a chunk at a time and never moves, so adding the ten
// thousandth destination costs what adding the first did.
type registry[T any] struct {
	chunks [regChunks]atomic.Pointer[[regChunkSize]atomic.Pointer[T]]
	next   atomic.Uint32 // ids ever handed out, + 1 (id 0 means none)
	free   []uint32
}

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

func (r *registry[T]) alloc(v *T) (uint32, bool) {
	var id uint32
	if n := len(r.free); n > 0 {
		id = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		id = r.next.Load()
		if id == 0 {
			id = 1
		}
		if id >= regChunks*regChunkSize {
			return 0, false
		}
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

func (r *registry[T]) release(id uint32) {
	if c := r.chunks[id>>regChunkBits].Load(); c != nil {
		c[id&(regChunkSize-1)].Store(nil)
	}
	r.free = append(r.free, id)
}

// each calls fn for every live object.
func (r *registry[T]) each(fn func(id uint32, v *T)) {
	for id := uint32(1); id < r.limit(); id++ {
		if v := r.get(id); v != nil {
			fn(id, v)
		}
	}
}
