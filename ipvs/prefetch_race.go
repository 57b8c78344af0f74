//go:build race

package ipvs

// Under the race detector the prefetching reads would be reported; they
// only warm caches, so they are compiled out.

func (t *Table) prefetchSlot(h uint64)  {}
func (t *Table) prefetchEntry(h uint64) {}
