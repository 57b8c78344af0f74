package ipvs

import (
	"fmt"
	"runtime"
	"testing"
)

// benchFlow builds the i-th synthetic flow without touching memory: client
// addresses spread over 10.0.0.0/8 and ports, as a busy director sees them.
func benchFlow(f *Flow, i uint32) {
	x := i * 2654435761 // spread consecutive i over the address space
	*f = Flow{Family: IPv4, Protocol: ProtoTCP, SrcPort: uint16(1024 + i%60000), DstPort: 80}
	f.Src = AddrFrom4([4]byte{10, byte(x >> 24), byte(x >> 16), byte(x >> 8)})
	f.Dst = AddrFrom(vip)
}

type benchTable struct {
	e        *Engine
	w        *Worker
	n        uint32
	perEntry float64
}

var benchTables = map[uint32]*benchTable{}

// populatedEngine returns an engine holding n established TCP connections,
// built once per size (10M entries take a few seconds and about a gigabyte).
func populatedEngine(b *testing.B, n uint32) *benchTable {
	if bt := benchTables[n]; bt != nil {
		return bt
	}
	for k := range benchTables { // keep one big table in memory at a time
		delete(benchTables, k)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	e, err := New(Config{MaxConns: int64(n) + 1024, HashSeed: 1})
	if err != nil {
		b.Fatal(err)
	}
	w := e.NewWorker()
	mustAddService(b, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-rr"},
		DestConfig{Addr: rs1, Port: 80, Weight: 1}, DestConfig{Addr: rs2, Port: 80, Weight: 1})
	var f Flow
	for i := uint32(0); i < n; i++ {
		benchFlow(&f, i)
		if v := w.In(&f, &PacketInfo{TCPFlags: TCPSyn}, 0); v.Action != ActionForward {
			b.Fatalf("populate %d: %+v", i, v)
		}
	}
	if e.ConnCount() != int64(n) {
		b.Fatalf("populated %d, want %d (flow generator collides)", e.ConnCount(), n)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	bt := &benchTable{e: e, w: w, n: n, perEntry: float64(after.HeapAlloc-before.HeapAlloc) / float64(n)}
	benchTables[n] = bt
	return bt
}

// BenchmarkConnLookup is the per-packet cost for an existing flow: hash,
// lookup, state machine, timer refresh and counters, in random order over
// 1M and 10M entries. bytes/conn is the heap the table holds per entry.
func BenchmarkConnLookup(b *testing.B) {
	for _, n := range []uint32{1 << 20, 10 << 20} {
		b.Run(fmt.Sprintf("%dM", n>>20), func(b *testing.B) {
			bt := populatedEngine(b, n)
			pi := &PacketInfo{TCPFlags: TCPAck, Bytes: 64}
			var f Flow
			b.ReportAllocs()
			b.ResetTimer()
			j := uint32(0)
			for i := 0; i < b.N; i++ {
				j = (j + 7919*1021) % n // stride through the table: no cache locality
				benchFlow(&f, j)
				if v := bt.w.In(&f, pi, 1); v.Action != ActionForward {
					b.Fatal(v)
				}
			}
			b.ReportMetric(bt.perEntry, "bytes/conn")
		})
	}
}

// BenchmarkConnLookupBatch is the same work through Worker.Process in
// batches of 32, as the data path calls it: the batch's cache misses overlap.
func BenchmarkConnLookupBatch(b *testing.B) {
	for _, n := range []uint32{1 << 20, 10 << 20} {
		b.Run(fmt.Sprintf("%dM", n>>20), func(b *testing.B) {
			bt := populatedEngine(b, n)
			batch := make([]Packet, 32)
			b.ReportAllocs()
			b.ResetTimer()
			j := uint32(0)
			for i := 0; i < b.N; i += len(batch) {
				for k := range batch {
					j = (j + 7919*1021) % n
					benchFlow(&batch[k].Flow, j)
					batch[k].Info = PacketInfo{TCPFlags: TCPAck, Bytes: 64}
				}
				bt.w.Process(batch, 1)
				if batch[0].Verdict.Action != ActionForward {
					b.Fatal(batch[0].Verdict)
				}
			}
			b.ReportMetric(bt.perEntry, "bytes/conn")
		})
	}
}

// BenchmarkExpire measures expiry cost per expired entry.
func BenchmarkExpire(b *testing.B) {
	e, err := New(Config{MaxConns: int64(b.N) + 1024, HashSeed: 1})
	if err != nil {
		b.Fatal(err)
	}
	w := e.NewWorker()
	mustAddService(b, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-rr"}, DestConfig{Addr: rs1, Port: 80, Weight: 1})
	var f Flow
	for i := uint32(0); i < uint32(b.N); i++ {
		benchFlow(&f, i)
		w.In(&f, &PacketInfo{TCPFlags: TCPSyn}, 0) // SYN_RECV: 60 s
	}
	b.ReportAllocs()
	b.ResetTimer()
	e.Expire(61 * second)
	b.StopTimer()
	if e.ConnCount() != 0 {
		b.Fatalf("%d left", e.ConnCount())
	}
}

// BenchmarkMemoryLatency is the baseline for BenchmarkConnLookup: one
// dependent random read (a pointer chase over cache lines in one random
// cycle) in as much memory as the connection table holds at 1M and 10M
// entries. A lookup needs at least one such read (its entry), so no lookup
// can beat this figure on the machine at hand; compare ratios, not ns.
func BenchmarkMemoryLatency(b *testing.B) {
	const line = 64 / 8 // uint64s per cache line
	for _, n := range []uint32{1 << 20, 10 << 20} {
		b.Run(fmt.Sprintf("%dM", n>>20), func(b *testing.B) {
			lines := int(uint64(n) * 150 / 64) // about the table's bytes
			mem := make([]uint64, lines*line)
			// Sattolo's algorithm: a random permutation that is one cycle
			perm := make([]uint32, lines)
			for i := range perm {
				perm[i] = uint32(i)
			}
			x := uint64(0x9e3779b97f4a7c15)
			for i := lines - 1; i > 0; i-- {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				j := int(x % uint64(i))
				perm[i], perm[j] = perm[j], perm[i]
			}
			for i, next := range perm {
				mem[i*line] = uint64(next) * line
			}
			perm = nil
			b.ResetTimer()
			p := uint64(0)
			for i := 0; i < b.N; i++ {
				p = mem[p]
			}
			if p == 1 { // keep the chase
				b.Log(p)
			}
		})
	}
}
