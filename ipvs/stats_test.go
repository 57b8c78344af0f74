package ipvs

import "testing"

func TestEstimatorArithmetic(t *testing.T) {
	// 1000 packets and 100 connections every 2 s: after enough samples the
	// smoothed rate converges on 500 pps and 50 cps; bytes scale by 2^5.
	var e estimator
	var c Counters
	for i := 0; i < 60; i++ {
		c.Conns += 100
		c.InPkts += 1000
		c.InBytes += 1000 * 100
		e.sample(c)
	}
	r := e.rates()
	if r.CPS != 50 || r.InPPS != 500 || r.InBPS != 50000 || r.OutPPS != 0 {
		t.Fatalf("rates %+v", r)
	}
	// The first sample moves the average a quarter of the way (weight 1/4):
	// 100 conns in 2 s = 50/s, so the first reading is 50/4 rounded as IPVS does.
	var f estimator
	f.sample(Counters{Conns: 100})
	if got := f.rates().CPS; got != 12 { // (100<<9>>2 + 0x1ff) >> 10 = 13311>>10 = 12
		t.Fatalf("first sample cps %d, want 12", got)
	}
}

func TestCountersAndZero(t *testing.T) {
	e, w := newTestEngine(t, nil)
	w2 := e.NewWorker()
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 80, Weight: 1, Forwarding: Forwarding{Method: Masq}})
	f := tcpFlow(client, 1, vip, 80)
	w.In(f, &PacketInfo{TCPFlags: TCPSyn, Bytes: 60}, 0)
	w2.In(f, &PacketInfo{TCPFlags: TCPAck, Bytes: 52}, 0) // a second worker counts separately
	w.Out(&Flow{Family: IPv4, Protocol: ProtoTCP, Src: AddrFrom(rs1), SrcPort: 80, Dst: AddrFrom(client), DstPort: 1},
		&PacketInfo{TCPFlags: TCPAck, Bytes: 1500}, 0)
	st, _ := e.ServiceStatus(tcpSvc)
	want := Counters{Conns: 1, InPkts: 2, OutPkts: 1, InBytes: 112, OutBytes: 1500}
	if st.Stats != want || st.Dests[0].Stats != want {
		t.Fatalf("service %+v dest %+v, want %+v", st.Stats, st.Dests[0].Stats, want)
	}
	if tot, _ := e.TotalStats(); tot != want {
		t.Fatalf("total %+v", tot)
	}
	if err := e.Zero(&tcpSvc); err != nil {
		t.Fatal(err)
	}
	st, _ = e.ServiceStatus(tcpSvc)
	if st.Stats != (Counters{}) || st.Dests[0].Stats != (Counters{}) {
		t.Fatalf("after zero %+v", st)
	}
	if tot, _ := e.TotalStats(); tot != want {
		t.Fatal("zeroing one service leaves the totals")
	}
	e.Zero(nil)
	if tot, _ := e.TotalStats(); tot != (Counters{}) {
		t.Fatal("zero all")
	}
	// rates follow traffic through Housekeep's 2-second samples
	for i := int64(1); i <= 40; i++ {
		for p := 0; p < 10; p++ {
			w.In(f, &PacketInfo{TCPFlags: TCPAck, Bytes: 100}, i*second)
		}
		e.Housekeep(i * 2 * second)
	}
	st, _ = e.ServiceStatus(tcpSvc)
	if st.Rates.InPPS != 5 || st.Rates.InBPS != 500 {
		t.Fatalf("rates %+v", st.Rates)
	}
}

func TestRelatedICMP(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 8080, Weight: 1, Forwarding: Forwarding{Method: Masq}})
	w.In(tcpFlow(client, 1, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 0)
	// The client reports an error about a reply it got: VIP:80 -> client:1.
	v := w.Related(&Flow{Family: IPv4, Protocol: ProtoTCP, Src: AddrFrom(vip), SrcPort: 80, Dst: AddrFrom(client), DstPort: 1}, true, 56)
	if v.Action != ActionForward || v.Dest != AddrFrom(rs1) || v.DestPort != 8080 {
		t.Fatalf("from client: %+v", v)
	}
	// The real server reports an error about a packet it got: client:1 -> RIP:8080.
	v = w.Related(&Flow{Family: IPv4, Protocol: ProtoTCP, Src: AddrFrom(client), SrcPort: 1, Dst: AddrFrom(rs1), DstPort: 8080}, false, 56)
	if v.Action != ActionForward || v.VAddr != AddrFrom(vip) || v.VPort != 80 {
		t.Fatalf("from real server: %+v", v)
	}
	if v := w.Related(&Flow{Family: IPv4, Protocol: ProtoTCP, Src: AddrFrom(client), SrcPort: 2, Dst: AddrFrom(rs1), DstPort: 8080}, false, 56); v.Action != ActionPass {
		t.Fatalf("unknown flow: %+v", v)
	}
}

func TestDefenses(t *testing.T) {
	opts := DefaultOptions()
	opts.DropPacket = 1
	opts.SecureTCP = 1
	opts.DropEntry = 1
	opts.LoadThreshold = 0.5
	e, err := New(Config{MaxConns: 100, Options: &opts, HashSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := e.NewWorker()
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"}, DestConfig{Addr: rs1, Port: 80, Weight: 1})
	e.Housekeep(0)
	if s := e.Defense(); s.DropPacket != 1 || s.SecureTCP != 1 || s.DropEntry != 1 {
		t.Fatalf("idle defenses %+v", s)
	}
	// 70 busy established connections (not droppable) and 20 half-open ones
	for p := uint16(1); p <= 90; p++ {
		f := tcpFlow(client, p, vip, 80)
		w.In(f, &PacketInfo{TCPFlags: TCPSyn}, 0)
		for i := 0; p <= 70 && i < 10; i++ {
			w.In(f, &PacketInfo{TCPFlags: TCPAck}, 0)
		}
	}
	e.Housekeep(Tick)
	if s := e.Defense(); s.DropPacket != 2 || s.SecureTCP != 2 || s.DropEntry != 2 || s.DropRate < 1 {
		t.Fatalf("loaded defenses %+v", s)
	}
	for i := int64(2); i <= 40; i++ { // drop_entry visits 1/32 of the table per round
		e.Housekeep(i * Tick)
	}
	if n := e.ConnCount(); n != 70 {
		t.Fatalf("drop_entry left %d entries, want the 70 established", n)
	}
	dropped := 0
	for p := uint16(200); p < 260; p++ {
		if v := w.In(tcpFlow(client, p, vip, 80), &PacketInfo{TCPFlags: TCPSyn}, 41*Tick); v.Reason == DropDefense {
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatal("drop_packet dropped nothing while overloaded")
	}
}
