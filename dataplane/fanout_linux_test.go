//go:build linux

package dataplane

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestWorkerCPUs: with CPU fanout, worker i of n is kept on exactly the
// allowed CPUs c with c mod n = i (the CPUs whose frames PACKET_FANOUT_CPU
// gives it), so together the workers cover every allowed CPU once.
func TestWorkerCPUs(t *testing.T) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= allowed.Count()+1; n++ {
		covered := 0
		for id := 0; id < n; id++ {
			set := workerCPUs(id, n)
			if set == nil {
				// only when no allowed CPU falls to this worker
				for c := id; c < len(allowed)*64; c += n {
					if allowed.IsSet(c) {
						t.Fatalf("n=%d: worker %d has no CPUs, but CPU %d is allowed", n, id, c)
					}
				}
				continue
			}
			for c := 0; c < len(allowed)*64; c++ {
				if set.IsSet(c) && (c%n != id || !allowed.IsSet(c)) {
					t.Fatalf("n=%d: worker %d kept on CPU %d", n, id, c)
				}
			}
			covered += set.Count()
		}
		if covered != allowed.Count() {
			t.Fatalf("n=%d: workers cover %d CPUs, %d allowed", n, covered, allowed.Count())
		}
	}
}
