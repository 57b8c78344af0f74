//go:build linux

package dataplane

import (
	"net/netip"
	"testing"

	"github.com/govs/gvs/dataplane/fastpath"
)

// The reply entry of a connection the engine overruled is found from the
// installed slots: for a NAT slot, the kernel's server and port to the
// client; nothing for a DR slot or a service without a table.
func TestScheduledReplyKey(t *testing.T) {
	vip, rip, client := netip.MustParseAddr("10.0.2.100"), netip.MustParseAddr("10.0.2.11"), netip.MustParseAddr("10.0.1.2")
	ks := newKernelScheduler(1500)
	ks.installed[fastpath.SchedKey{Addr: vip, Port: 8080, Proto: 6}] = []fastpath.Slot{
		{Dest: 7, Rewrite: fastpath.Rewrite{Src: vip, Dst: vip, DstPort: 8080}}, // DR
		{Dest: 8, Rewrite: fastpath.Rewrite{Src: vip, Dst: rip, DstPort: 80}},   // NAT
	}
	k := fastpath.Key{Src: client, Dst: vip, SrcPort: 40000, DstPort: 8080, Proto: 6}
	if rk, ok := ks.replyKey(k, 8); !ok || rk != (fastpath.Key{Src: rip, Dst: client, SrcPort: 80, DstPort: 40000, Proto: 6}) {
		t.Fatalf("NAT slot: %+v %v", rk, ok)
	}
	if rk, ok := ks.replyKey(k, 7); ok {
		t.Fatalf("DR slot: %+v", rk)
	}
	other := k
	other.DstPort = 81
	if rk, ok := ks.replyKey(other, 8); ok {
		t.Fatalf("a service without a table: %+v", rk)
	}
}
