//go:build linux

package fastpath

import (
	"net/netip"
	"os"
	"testing"
	"time"
)

func open(t *testing.T) *FastPath {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs")
	}
	fp, err := Open(1024)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fp.Close() })
	return fp
}

// The verifier accepts both programs, and entries go in, are walked with
// their counters and deleted.
func TestOpenAddWalk(t *testing.T) {
	fp := open(t)
	k := Key{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.100"), SrcPort: 40000, DstPort: 80, Proto: 6}
	r := Rewrite{Src: k.Src, Dst: netip.MustParseAddr("10.1.0.2"), SrcPort: 40000, DstPort: 8080, Ifindex: 1, MTU: 1500, Timeout: time.Minute}
	if err := fp.Add(k, r); err != nil {
		t.Fatal(err)
	}
	k2 := k
	k2.SrcPort++
	if err := fp.Add(k2, r); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := fp.Walk(func(got Key, c Counters) bool {
		n++
		if got != k && got != k2 {
			t.Errorf("walk: key %+v", got)
		}
		if c.Timeout != time.Minute || c.Deadline < Now() || c.Packets != 0 {
			t.Errorf("walk: counters %+v", c)
		}
		return got != k2
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("walked %d entries, want 2", n)
	}
	n = 0
	fp.Walk(func(Key, Counters) bool { n++; return true })
	if n != 1 {
		t.Fatalf("after deleting one: %d entries, want 1", n)
	}
	if err := fp.Delete(k); err != nil {
		t.Fatal(err)
	}
	if err := fp.Delete(k); err != nil {
		t.Fatalf("deleting a missing entry: %v", err)
	}
	if err := fp.Add(Key{Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("::2"), Proto: 6}, r); err == nil {
		t.Fatal("an IPv6 key was accepted")
	}
	if err := fp.Add(k, Rewrite{Src: k.Src, Dst: k.Dst, Ifindex: 1, MTU: 0, Timeout: time.Second}); err == nil {
		t.Fatal("an MTU of 0 was accepted")
	}
}
