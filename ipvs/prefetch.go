//go:build !race

package ipvs

// Memory-level parallelism for batches: before a batch is processed, touch
// the index slot and then the entry of every packet, so their cache misses
// overlap instead of being paid one after the other. The reads go through
// the shard's published view without its lock: they only warm the cache,
// their values are discarded, and the locked lookup that follows decides.
// (Built without the race detector only; prefetch_race.go is a no-op.)

var prefetchSink uint64

func (t *Table) prefetchSlot(h uint64) {
	sh, _ := t.shardOf(h)
	v := sh.view.Load()
	if v == nil || len(v.slots) == 0 {
		return
	}
	prefetchSink += v.slots[uint32(h)&uint32(len(v.slots)-1)]
}

func (t *Table) prefetchEntry(h uint64) {
	sh, _ := t.shardOf(h)
	v := sh.view.Load()
	if v == nil || len(v.slots) == 0 {
		return
	}
	tag := uint32(h)
	slot := v.slots[tag&uint32(len(v.slots)-1)]
	if uint32(slot>>32) != tag {
		return
	}
	i := uint32(slot) - 1
	if c := i >> chunkBits; int(c) < len(v.chunks) {
		prefetchSink += uint64(v.chunks[c][i&(chunkSize-1)].cport)
	}
}
