package sched

import (
	"net/netip"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// BenchmarkConnNew is the cost of a new connection through the engine, per
// scheduler: one SYN of a new flow through Worker.In (service lookup,
// scheduling, entry creation, first state transition). Eight servers of
// weights 1..3. Flows rotate through a window of benchWindow clients; at
// the end of each window the clock jumps past every timeout and the table
// is expired with the timer stopped, so the table never fills and the
// figures do not depend on b.N.
func BenchmarkConnNew(b *testing.B) {
	const benchWindow = 1 << 16
	for _, name := range kernelNames {
		b.Run(name, func(b *testing.B) {
			e, err := ipvs.New(ipvs.Config{MaxConns: 4 * benchWindow, HashSeed: 1})
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
					d.Weight = 1 << 20 // ovf refuses servers with more active connections than weight
				}
				if err := e.AddDest(key, d); err != nil {
					b.Fatal(err)
				}
			}
			w := e.NewWorker()
			f := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Dst: ipvs.AddrFrom(key.Addr), DstPort: 80}
			pi := &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, Bytes: 60}
			now := int64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % benchWindow
				if j == 0 && i > 0 {
					b.StopTimer()
					now += 3600 * 1e9
					e.Expire(now)
					b.StartTimer()
				}
				x := uint32(j) * 2654435761
				f.Src = ipvs.AddrFrom4([4]byte{172, byte(x >> 24), byte(x >> 16), byte(x >> 8)})
				f.SrcPort = uint16(1024 + j%60000)
				if v := w.In(&f, pi, now); v.Action != ipvs.ActionForward {
					b.Fatalf("%d: %+v", i, v)
				}
			}
		})
	}
}

// BenchmarkSchedule is the scheduler alone: one Schedule call for a new
// client, on a service of eight servers carrying some load (weights 1..3,
// 0..7 active connections each).
func BenchmarkSchedule(b *testing.B) {
	for _, name := range kernelNames {
		b.Run(name, func(b *testing.B) {
			h := newHarness(b, pinScheduler, 0)
			for n := 1; n <= 8; n++ {
				w := int32(n%3 + 1)
				if name == "ovf" {
					w = 1 << 20
				}
				h.addRS(n, w)
			}
			for n := 1; n <= 8; n++ {
				h.load(n, n-1, 2*n)
			}
			s := h.instance(name)
			f := h.flow()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f.Src[15], f.Src[14] = byte(i), byte(i>>8)
				if s.Schedule(h.svc, &f, int64(i)) == nil {
					b.Fatal("no server")
				}
			}
		})
	}
}
