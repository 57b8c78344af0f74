package sched

import (
	"net/netip"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// BenchmarkConnNew is the cost of a new connection: service lookup,
// scheduling, entry creation and the first state transition (one SYN
// through Worker.In), per scheduler. The flows are all distinct; the table
// is sized for them and the clock stands still, so nothing expires.
func BenchmarkConnNew(b *testing.B) {
	for _, name := range []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"} {
		b.Run(name, func(b *testing.B) {
			e, err := ipvs.New(ipvs.Config{MaxConns: int64(b.N) + 1024, HashSeed: 1})
			if err != nil {
				b.Fatal(err)
			}
			key := ipvs.ServiceKey{Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}
			if err := e.AddService(ipvs.ServiceConfig{ServiceKey: key, Scheduler: name}); err != nil {
				b.Fatal(err)
			}
			for i := 1; i <= 8; i++ {
				d := ipvs.DestConfig{Addr: netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), Port: 80, Weight: int32(i%3 + 1)}
				if name == "ovf" {
					d.Weight = 1 << 30 // ovf refuses servers with more active connections than weight
				}
				if err := e.AddDest(key, d); err != nil {
					b.Fatal(err)
				}
			}
			w := e.NewWorker()
			f := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Dst: ipvs.AddrFrom(key.Addr), DstPort: 80}
			pi := &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, Bytes: 60}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				x := uint32(i) * 2654435761
				f.Src = ipvs.AddrFrom4([4]byte{172, byte(x >> 24), byte(x >> 16), byte(x >> 8)})
				f.SrcPort = uint16(1024 + i%60000)
				if v := w.In(&f, pi, 0); v.Action != ipvs.ActionForward {
					b.Fatalf("%d: %+v", i, v)
				}
			}
		})
	}
}
