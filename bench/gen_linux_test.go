//go:build linux

package bench

import (
	"fmt"
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

func TestSetLatencies(t *testing.T) {
	var res ConnResult
	res.setLatencies([]float64{3.4, 1.6, 2.5, 1000.2})
	if res.P50 != 2.5 || res.Max != 1000.2 {
		t.Errorf("p50 %v max %v", res.P50, res.Max)
	}
	if want := []float64{2, 3, 3, 1000}; fmt.Sprint(res.Samples) != fmt.Sprint(want) {
		t.Errorf("samples %v, want %v (sorted, whole microseconds)", res.Samples, want)
	}
	var none ConnResult
	if none.setLatencies(nil); none.Samples != nil || none.P99 != 0 {
		t.Errorf("no requests: %+v", none)
	}
}
