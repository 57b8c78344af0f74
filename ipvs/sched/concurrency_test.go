package sched

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// Every scheduler under concurrent packet workers while the configuration
// changes underneath (run with -race): no data race, no panic, and every
// connection goes to a server of the service.
func TestConcurrentScheduling(t *testing.T) {
	const workers, perWorker = 4, 1500
	for _, name := range kernelNames {
		t.Run(name, func(t *testing.T) {
			opts := ipvs.KernelOptions()
			e, err := ipvs.New(ipvs.Config{HashSeed: 1, MaxConns: 1 << 16, Options: &opts})
			if err != nil {
				t.Fatal(err)
			}
			flags := ipvs.SvcSched1 | ipvs.SvcSched2 // fallback and port for sh/mh
			if err := e.AddService(ipvs.ServiceConfig{ServiceKey: testSvc, Scheduler: name, Flags: flags}); err != nil {
				t.Fatal(err)
			}
			valid := map[ipvs.Addr]bool{}
			for n := 1; n <= 6; n++ {
				valid[ipvs.AddrFrom(rsAddr(n))] = true
				if err := e.AddDest(testSvc, ipvs.DestConfig{Addr: rsAddr(n), Port: 80, Weight: int32(n)}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			wg.Add(1)
			go func() { // the operator and the housekeeper
				defer wg.Done()
				now := int64(0)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					n := i%6 + 1
					cfg := ipvs.DestConfig{Addr: rsAddr(n), Port: 80, Weight: int32(i % 5)}
					if i%7 == 0 {
						cfg.UThreshold = 3
					}
					_ = e.EditDest(testSvc, cfg)
					if i%11 == 0 {
						_ = e.DelDest(testSvc, rsAddr(n), 80)
						_ = e.AddDest(testSvc, ipvs.DestConfig{Addr: rsAddr(n), Port: 80, Weight: 2})
					}
					now += 2e9
					e.Housekeep(now)
				}
			}()
			errs := make(chan string, workers)
			var ww sync.WaitGroup
			for g := 0; g < workers; g++ {
				ww.Add(1)
				go func(g int) {
					defer ww.Done()
					w := e.NewWorker()
					for i := 0; i < perWorker; i++ {
						f := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP,
							Src:     ipvs.AddrFrom(netip.AddrFrom4([4]byte{172, 16, byte(g), byte(i % 200)})),
							SrcPort: uint16(1000 + i), Dst: ipvs.AddrFrom(testVIP), DstPort: 80}
						v := w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn}, int64(i))
						if v.Action == ipvs.ActionForward && !valid[v.Dest] {
							errs <- v.Dest.String()
							return
						}
					}
				}(g)
			}
			ww.Wait()
			close(stop)
			wg.Wait()
			close(errs)
			for bad := range errs {
				t.Errorf("connection sent to %s", bad)
			}
		})
	}
}
