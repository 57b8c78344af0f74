package dataplane

import (
	"fmt"
	"testing"

	"github.com/govs/gvs/packet"
)

// BenchmarkWorker measures a worker's whole per-frame path on established
// connections: a fake port's receive (a copy into the buffer, as a ring
// slot holds it), packet.Parse, classification, the engine's batch lookup,
// the transform, next hop and MACs, and the fake port's send. One op is
// one frame (64 per batch, 64 flows); frames/s is the same figure as a
// rate. The kernel's costs (ring, sendmmsg) are not in it.
func BenchmarkWorker(b *testing.B) {
	for _, c := range []struct {
		name, vip string
		reply     bool
	}{
		{"nat-in", vipNAT, false}, {"nat-out", vipNAT, true}, {"dr", vipDR, false},
		{"ipip", vipIPIP, false}, {"gue", vipGUE, false}, {"nat6-in", vipNAT6, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := newTestEnv(b)
			client := client4
			if c.vip == vipNAT6 {
				client = client6
			}
			var replay []fakeFrame
			for i := 0; i < batchSize; i++ {
				sport := uint16(30000 + i)
				e.in(e.eth0, mkFrame(b, client, c.vip, sport, 80, fopt{flags: packet.TCPSyn}))
				out := e.eth1.take()
				if len(out) != 1 {
					b.Fatalf("flow %d not forwarded", i)
				}
				f := mkFrame(b, client, c.vip, sport, 80, fopt{flags: packet.TCPAck, payload: 64})
				if c.reply {
					var p packet.Packet
					packet.Parse(out[0].frame, &p)
					f = mkFrame(b, p.Key.Dst.String(), client, p.Key.DstPort, sport, fopt{flags: packet.TCPAck, payload: 64, srcMAC: macRS[rs1], dstMAC: macEth1})
				}
				replay = append(replay, fakeFrame{frame: f})
			}
			port := e.eth0
			if c.reply {
				port = e.eth1
			}
			port.replay = replay
			e.eth0.replay, e.eth1.replay = replay, replay // both count only
			rx := &e.w.rx[0]
			if c.reply {
				rx = &e.w.rx[1]
			}
			sent0 := e.eth0.sent + e.eth1.sent
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n += batchSize {
				e.w.drain(rx)
			}
			b.StopTimer()
			frames := (b.N + batchSize - 1) / batchSize * batchSize
			if sent := e.eth0.sent + e.eth1.sent - sent0; sent != frames {
				b.Fatalf("%d frames sent of %d", sent, frames)
			}
			b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
			for k, v := range e.d.Drops() {
				if v != 0 {
					b.Fatal(fmt.Sprint(k, v))
				}
			}
		})
	}
}
