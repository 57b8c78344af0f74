package dataplane

import (
	"runtime"
	"testing"
)

// Each reservation adds its Ps until released (once, however often the
// release is called); the default worker count stays the base; an
// operator's GOMAXPROCS is left alone.
func TestReserveProcs(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(base) })
	r1 := reserveProcs(2)
	r2 := reserveProcs(1)
	if got := runtime.GOMAXPROCS(0); got != base+3 {
		t.Fatalf("GOMAXPROCS %d with 3 reserved, want %d", got, base+3)
	}
	if got := baseProcs(); got != base {
		t.Errorf("baseProcs %d, want %d", got, base)
	}
	r1()
	r1()
	if got := runtime.GOMAXPROCS(0); got != base+1 {
		t.Errorf("GOMAXPROCS %d after one release (twice), want %d", got, base+1)
	}
	r2()
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Errorf("GOMAXPROCS %d after both releases, want %d", got, base)
	}
	reserveProcs(0)()
	t.Setenv("GOMAXPROCS", "1")
	r3 := reserveProcs(4)
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Errorf("GOMAXPROCS %d with the variable set, want it untouched (%d)", got, base)
	}
	r3()
}
