//go:build linux

package bench

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinToCPU: sender g goes to the g-th allowed CPU, wrapping around.
func TestPinToCPU(t *testing.T) {
	cpus, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for g := 0; g <= len(cpus); g++ {
		done := make(chan unix.CPUSet)
		go func() {
			runtime.LockOSThread() // the pinned thread ends with the goroutine
			var got unix.CPUSet
			if err := pinToCPU(g); err != nil {
				t.Error(err)
			} else if err := unix.SchedGetaffinity(0, &got); err != nil {
				t.Error(err)
			}
			done <- got
		}()
		got := <-done
		want := cpus[g%len(cpus)]
		if got.Count() != 1 || !got.IsSet(want) {
			t.Fatalf("sender %d: on %d CPUs, CPU %d set: %v; want only CPU %d", g, got.Count(), want, got.IsSet(want), want)
		}
	}
}
