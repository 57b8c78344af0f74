package sched

import (
	"testing"

	"github.com/govs/gvs/ipvs"
)

// twosPick, the deterministic core: for every pair of draws the result is
// the lighter (overhead per weight) of the two servers the draws land on,
// the first draw on ties, and a draw r lands on the first server (list
// order) at which the running weight sum reaches r.
func TestTwosPickExhaustive(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 2, 3, 4) // list rs4(4) rs3(3) rs2(2) rs1(1)
	h.weight(4, 0)                                  // never drawn
	h.load(3, 3, 0)                                 // 768/3 = 256
	h.load(2, 0, 100)                               // 100/2 = 50
	h.load(1, 1, 0)                                 // 256/1 = 256
	list := h.svc.Dests()
	lands := func(r int64) *ipvs.Dest { // rs3 for 0..3, rs2 for 4..5, rs1 for 6
		switch {
		case r <= 3:
			return h.dest(3)
		case r <= 5:
			return h.dest(2)
		}
		return h.dest(1)
	}
	for r1 := int64(0); r1 <= 6; r1++ {
		for r2 := int64(0); r2 <= 6; r2++ {
			d1, d2 := lands(r1), lands(r2)
			want := d1
			if int64(d2.Weight())*int64(connOverhead(d1)) > int64(d1.Weight())*int64(connOverhead(d2)) {
				want = d2
			}
			if got := twosPick(list, r1, r2); got != want {
				t.Errorf("draws %d,%d: %s, want %s", r1, r2, rsName(got.Addr()), rsName(want.Addr()))
			}
		}
	}
}

// Random draws: never a weight-0 or overloaded server; with equal loads
// the first draw decides, in proportion to weight (the first server also
// gets the draw 0).
func TestTwosRandom(t *testing.T) {
	h := newHarness(t, pinScheduler, 0, 1, 2, 3, 5, 7) // list rs5 rs4 rs3 rs2 rs1
	h.weight(4, 0)
	h.load(5, 1, 0)
	h.overload(5)
	s := h.instance("twos")
	count := map[string]int{}
	const n = 7000
	for i := 0; i < n; i++ {
		count[h.pick(s, nil)]++
	}
	if count["rs4"] != 0 || count["rs5"] != 0 || count["-"] != 0 {
		t.Fatalf("drew a weight-0 or overloaded server: %v", count)
	}
	// usable weights rs3 3, rs2 2, rs1 1: draws 0..6; rs3 takes 0..3
	for name, want := range map[string]int{"rs3": n * 4 / 7, "rs2": n * 2 / 7, "rs1": n / 7} {
		if c := count[name]; c < want*85/100 || c > want*115/100 {
			t.Errorf("%s drawn %d times, want about %d (%v)", name, c, want, count)
		}
	}
	// the loaded server wins only when both draws land on it: (2/7)^2
	h.load(2, 20, 0)
	count = map[string]int{}
	for i := 0; i < n; i++ {
		count[h.pick(s, nil)]++
	}
	if c := count["rs2"]; c > n*15/100 {
		t.Errorf("loaded rs2 chosen %d times of %d", c, n)
	}
	h.weight(1, 0)
	h.weight(2, 0)
	h.weight(3, 0)
	if got := h.pick(s, nil); got != "-" {
		t.Errorf("nothing usable: %s", got)
	}
}
