package ipvs

import (
	"net/netip"
	"sync"
	"testing"
)

// checkInvariants walks the whole table and compares it with the
// destinations' counters: every entry points at a registered destination,
// ActiveConn/InActConn/persistent counts equal what the table holds, every
// template's control count equals the connections that point at it, and
// the entry count matches and stays within the cap.
func checkInvariants(t *testing.T, e *Engine) {
	t.Helper()
	type counts struct{ active, inact, persist int32 }
	per := map[uint32]*counts{}
	controls := map[ConnRef]uint32{}
	nControl := map[ConnRef]uint32{}
	total := int64(0)
	for i := range e.table.shards {
		sh := &e.table.shards[i]
		sh.mu.Lock()
		e.forEachEntry(sh, func(idx uint32, c *connEntry) {
			total++
			if e.dest(c.destID) == nil {
				t.Errorf("entry %v points at unregistered destination %d", c.info(0, 0), c.destID)
			}
			k := per[c.destID]
			if k == nil {
				k = &counts{}
				per[c.destID] = k
			}
			switch {
			case c.flags&ConnTemplate != 0:
				k.persist++
				nControl[makeRef(i, idx)] = c.nControl
			case c.flags&ConnInactive != 0:
				k.inact++
			default:
				k.active++
			}
			if c.control != 0 {
				controls[c.control]++
			}
		})
		sh.mu.Unlock()
	}
	if total != e.ConnCount() || total > e.MaxConns() {
		t.Fatalf("walked %d entries, ConnCount %d, max %d", total, e.ConnCount(), e.MaxConns())
	}
	e.destReg.each(func(_ uint32, d *Dest) {
		k := per[d.id]
		if k == nil {
			k = &counts{}
		}
		if d.ActiveConns() != k.active || d.InactConns() != k.inact || d.PersistConns() != k.persist {
			t.Fatalf("dest %s: counters %d/%d/%d, table holds %d/%d/%d", d.naddr,
				d.ActiveConns(), d.InactConns(), d.PersistConns(), k.active, k.inact, k.persist)
		}
	})
	for ref, n := range nControl {
		if controls[ref] != n {
			t.Fatalf("template %v: nControl %d, %d connections point at it", ref, n, controls[ref])
		}
	}
	for ref := range controls {
		if _, ok := nControl[ref]; !ok {
			t.Fatalf("connection controlled by missing template %v", ref)
		}
	}
}

var fuzzAddrs = []netip.Addr{
	netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.1.0.3"),
	netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
}
var fuzzVIPs = []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8:f::1")}

// FuzzEngine drives the engine with a random sequence of configuration
// operations, packets in both directions and clock jumps, and checks the
// table's invariants after every step.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 0, 1, 5, 5, 0, 2, 5, 5, 1, 16, 7, 200, 5, 5, 1, 0})
	f.Add([]byte{0, 3, 1, 2, 0, 0, 2, 0, 4, 5, 5, 0, 2, 9, 6, 1, 1, 0, 4, 0, 0, 7, 255, 8})
	f.Add([]byte{0, 17, 0, 2, 0, 1, 2, 0, 2, 5, 5, 0, 2, 5, 5, 3, 3, 4, 0, 1, 7, 30, 11, 1})
	f.Fuzz(runFuzzEngineBody)
}

func runFuzzEngineBody(t *testing.T, data []byte) {
	opts := DefaultOptions()
	e, err := New(Config{MaxConns: 64, Options: &opts, HashSeed: 7})
	if err != nil {
		t.Fatal(err)
	}
	w := e.NewWorker()
	now := int64(0)
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	keyOf := func(b byte) ServiceKey {
		if b&8 != 0 {
			return ServiceKey{FWMark: uint32(b&1) + 1, Family: IPv4}
		}
		protos := []Protocol{ProtoTCP, ProtoUDP, ProtoSCTP}
		return ServiceKey{Protocol: protos[int(b)%3], Addr: fuzzVIPs[int(b>>4)%2], Port: uint16(b>>2&1) * 80}
	}
	if len(data) > 600 {
		data = data[:600] // long inputs only repeat what short ones reach
	}
	for len(data) > 0 {
		switch next() % 12 {
		case 0:
			b := next()
			cfg := ServiceConfig{ServiceKey: keyOf(b), Scheduler: []string{"test-first", "test-rr"}[b>>5&1]}
			if b&0x40 != 0 {
				cfg.Flags |= SvcPersistent
				cfg.Timeout = uint32(next()%8) * 10
				cfg.Netmask = 0xffffff00
			}
			if b&0x80 != 0 {
				cfg.Flags |= SvcOnePacket
			}
			_ = e.AddService(cfg)
		case 1:
			_ = e.DelService(keyOf(next()))
		case 2:
			k, a := keyOf(next()), next()
			m := []ForwardMethod{Masq, Route, Tunnel, Local}[a>>4&3]
			_ = e.AddDest(k, DestConfig{Addr: fuzzAddrs[int(a)%len(fuzzAddrs)], Port: uint16(a>>3&1) * 80,
				Weight: int32(next() % 4), UThreshold: uint32(a >> 6), Forwarding: Forwarding{Method: m}})
		case 3:
			k, a := keyOf(next()), next()
			_ = e.SetWeight(k, fuzzAddrs[int(a)%len(fuzzAddrs)], uint16(a>>3&1)*80, int32(next()%3))
		case 4:
			k, a := keyOf(next()), next()
			_ = e.DelDest(k, fuzzAddrs[int(a)%len(fuzzAddrs)], uint16(a>>3&1)*80)
		case 5, 6:
			b, c := next(), next()
			k := keyOf(b)
			fl := &Flow{Protocol: k.Protocol, Family: IPv4, Mark: k.FWMark}
			if k.FWMark != 0 {
				fl.Protocol = ProtoTCP
			}
			vipAddr := fuzzVIPs[int(b>>4)%2]
			fl.Family = FamilyOf(vipAddr)
			cl := netip.AddrFrom4([4]byte{192, 0, 2, c & 7})
			if fl.Family == IPv6 {
				cl = netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 15: c & 7})
			}
			pi := &PacketInfo{TCPFlags: next(), SCTPChunk: next() % 16, Bytes: 64}
			if b&1 == 0 {
				fl.Src, fl.SrcPort, fl.Dst, fl.DstPort = AddrFrom(cl), uint16(c>>3), AddrFrom(vipAddr), k.Port
				w.In(fl, pi, now)
			} else {
				fl.Src, fl.SrcPort = AddrFrom(fuzzAddrs[int(c)%len(fuzzAddrs)]), uint16(c>>7)*80
				fl.Dst, fl.DstPort = AddrFrom(cl), uint16(c>>3)
				w.Out(fl, pi, now)
			}
		case 7:
			now += int64(next()) * Tick * 8
			e.Housekeep(now)
		case 8:
			_ = e.Flush()
		case 9:
			_ = e.SetTimeouts(uint32(next()%5), uint32(next()%5), uint32(next()%5))
		case 10:
			_ = e.Zero(nil)
		case 11:
			o := e.Options()
			b := next()
			o.ExpireNodestConn, o.ExpireQuiescentTemplate = b&1 != 0, b&2 != 0
			o.ConnReuseMode, o.SloppyTCP = int(b>>2&3), b&16 != 0
			o.PerSourceLimit = uint32(b >> 5)
			_ = e.SetOptions(o)
		}
		checkInvariants(t, e)
	}
	// Everything ends: flush, let time pass, and nothing may remain.
	_ = e.Flush()
	now += 1 << 50
	e.Housekeep(now)
	e.Housekeep(now + 1<<45)
	if e.ConnCount() != 0 {
		t.Fatalf("%d entries survive flush and expiry", e.ConnCount())
	}
	checkInvariants(t, e)
}

// TestConcurrentWorkers runs packet workers against configuration changes
// and expiry; with -race it proves the packet path's synchronization.
func TestConcurrentWorkers(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-rr", Flags: SvcPersistent, Timeout: 5, Netmask: 0xffffffff},
		DestConfig{Addr: rs1, Port: 80, Weight: 1}, DestConfig{Addr: rs2, Port: 80, Weight: 1})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			w := e.NewWorker()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cl := netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 50)})
				f := tcpFlow(cl, uint16(1000+i%500), vip, 80)
				now := int64(i) * 1e6
				w.In(f, &PacketInfo{TCPFlags: []uint8{TCPSyn, TCPAck, TCPFin | TCPAck, TCPRst}[i%4], Bytes: 60}, now)
				v := w.Out(f.reversed(), &PacketInfo{TCPFlags: TCPAck, Bytes: 60}, now)
				_ = v
			}
		}(g)
	}
	for i := 0; i < 200; i++ {
		_ = e.SetWeight(tcpSvc, rs1, 80, int32(i%3))
		if i%50 == 0 {
			_ = e.DelDest(tcpSvc, rs2, 80)
			_ = e.AddDest(tcpSvc, DestConfig{Addr: rs2, Port: 80, Weight: 1})
		}
		e.Housekeep(int64(i) * 1e8)
		e.Services()
	}
	close(stop)
	wg.Wait()
	checkInvariants(t, e)
}
