package ipvs

import (
	"testing"
	"unsafe"
)

func TestConnEntryLayout(t *testing.T) {
	var c connEntry
	if sz := unsafe.Sizeof(c); sz != 128 {
		t.Fatalf("connEntry is %d bytes, want 128 (two cache lines)", sz)
	}
	if off := unsafe.Offsetof(c.wtick); off+4 > 64 {
		t.Fatalf("hot fields spill out of the first cache line (wtick at %d)", off)
	}
}
