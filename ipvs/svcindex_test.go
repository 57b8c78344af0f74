package ipvs

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestServiceIndexChurn adds and removes services at random and checks
// every lookup against a plain map, tombstones and rehashes included.
func TestServiceIndexChurn(t *testing.T) {
	ix := newServiceIndex()
	want := map[ServiceKey]*Service{}
	r := rand.New(rand.NewPCG(1, 2))
	mk := func(i int) *Service {
		k := ServiceKey{Family: IPv4, Protocol: ProtoTCP, Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Port: uint16(i % 3)}
		if i%7 == 0 {
			k = ServiceKey{Family: IPv4, FWMark: uint32(i)}
		}
		s := &Service{key: k}
		if k.FWMark == 0 {
			s.vaddr = AddrFrom(k.Addr)
		}
		return s
	}
	for step := 0; step < 20000; step++ {
		i := r.IntN(600)
		s := mk(i)
		if old := want[s.key]; old != nil {
			ix.remove(old)
			delete(want, s.key)
		} else {
			ix.insert(s)
			want[s.key] = s
		}
		if step%97 == 0 {
			for j := 0; j < 600; j++ {
				p := mk(j)
				got := ix.find(p.key.Family, p.key.Protocol, p.key.Port, p.key.FWMark, &p.vaddr)
				if got != want[p.key] {
					t.Fatalf("step %d: find %v = %v, want %v", step, p.key, got, want[p.key])
				}
			}
			if ix.used != len(want) {
				t.Fatalf("used %d, want %d", ix.used, len(want))
			}
		}
	}
}

// BenchmarkAddServices loads n services into a fresh engine; ns/service
// must stay flat as n grows (a keepalived group range can bring 65,536).
func BenchmarkAddServices(b *testing.B) {
	for _, n := range []int{5000, 50000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				e, err := New(Config{})
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < n; i++ {
					k := ServiceKey{Protocol: ProtoTCP, Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Port: 80}
					if err := e.AddService(ServiceConfig{ServiceKey: k, Scheduler: NoScheduler}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/service")
		})
	}
}
