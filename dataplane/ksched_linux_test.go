//go:build linux

package dataplane

import (
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/govs/gvs/dataplane/fastpath"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/packet"
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

// A kernel-scheduled entry whose SYN's copy never reached a worker is
// recorded in the engine, bound to the kernel's choice, before the sweep
// deletes it, retired (its FIN lost too) or not; an entry of a service
// without a table, a server that is gone and a connection the engine
// knows get no record.
func TestRecordUnrecorded(t *testing.T) {
	eng, err := ipvs.New(ipvs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParseAddr("10.0.2.100")
	svc := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: vip, Port: 80}
	if err := eng.AddService(ipvs.ServiceConfig{ServiceKey: svc, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"10.0.2.11", "10.0.2.12"} {
		if err := eng.AddDest(svc, ipvs.DestConfig{Addr: netip.MustParseAddr(a), Port: 80, Weight: 1, Forwarding: ipvs.Forwarding{Method: ipvs.Route}}); err != nil {
			t.Fatal(err)
		}
	}
	plan := eng.KernelPlans(fastpath.MaxSlots)[0]
	o := &offloader{eng: eng, ew: eng.NewWorker(), ks: newKernelScheduler(1500), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o.ks.installed[fastpath.SchedKey{Addr: vip, Port: 80, Proto: 6}] = []fastpath.Slot{{Dest: plan.Slots[0].DestID}, {Dest: plan.Slots[1].DestID}}
	client := netip.MustParseAddr("10.0.1.2")
	key := func(port uint16) fastpath.Key {
		return fastpath.Key{Src: client, Dst: vip, SrcPort: port, DstPort: 80, Proto: 6}
	}
	want := plan.Slots[1]
	o.record(o.ks.installed, key(40000), fastpath.Counters{Packets: 5, Bytes: 500, Deadline: 1, Dest: want.DestID})
	o.record(o.ks.installed, key(40000), fastpath.Counters{Packets: 5, Bytes: 500, Deadline: 1, Dest: plan.Slots[0].DestID}) // known: no second record
	o.record(o.ks.installed, key(40001), fastpath.Counters{Packets: 5, Bytes: 500, Deadline: 0, Dest: want.DestID})          // retired: recorded too
	o.record(o.ks.installed, key(40002), fastpath.Counters{Packets: 5, Bytes: 500, Deadline: 1, Dest: 9999})                 // gone
	other := key(40003)
	other.DstPort = 81
	o.record(o.ks.installed, other, fastpath.Counters{Packets: 5, Bytes: 500, Deadline: 1, Dest: want.DestID}) // no table
	var conns []ipvs.ConnInfo
	eng.Conns(func(c ipvs.ConnInfo) bool { conns = append(conns, c); return true })
	slices.SortFunc(conns, func(a, b ipvs.ConnInfo) int { return int(a.ClientPort) - int(b.ClientPort) })
	if len(conns) != 2 || conns[0].ClientPort != 40000 || conns[1].ClientPort != 40001 ||
		conns[0].Dest.Netip(ipvs.IPv4) != want.Addr || conns[1].Dest.Netip(ipvs.IPv4) != want.Addr {
		t.Fatalf("connections %+v, want ports 40000 and 40001 to %v", conns, want.Addr)
	}
}

// Adoptions wait in a queue that wakes the offloader once, when it was
// empty, and is taken in one batch; a full queue refuses.
func TestAdoptQueue(t *testing.T) {
	a := adoptQueue{kick: make(chan struct{}, 1)}
	k := func(port uint16) fastpath.Key { return fastpath.Key{SrcPort: port, Proto: 6} }
	for p := uint16(1); p <= 3; p++ {
		if !a.push(offloadReq{kind: reqAdopt, key: k(p)}) {
			t.Fatal("push refused")
		}
	}
	if len(a.kick) != 1 {
		t.Fatalf("%d kicks queued, want 1", len(a.kick))
	}
	<-a.kick
	got := a.take(nil)
	if len(got) != 3 || got[2].key != k(3) {
		t.Fatalf("took %v", got)
	}
	if len(a.take(got)) != 0 {
		t.Error("the queue is not empty after take")
	}
	a.push(offloadReq{key: k(4)})
	if len(a.kick) != 1 {
		t.Error("no kick after the queue emptied")
	}
	for i := 1; i < maxQueuedAdopts; i++ {
		a.push(offloadReq{key: k(5)})
	}
	if a.push(offloadReq{key: k(6)}) {
		t.Error("a full queue took more")
	}

	// the offloader records a queued adoption, a reply entry as a reply,
	// unless an entry was installed for the key meanwhile
	o := &offloader{adopts: adoptQueue{kick: make(chan struct{}, 1)}, entries: map[fastpath.Key]*offloaded{}}
	o.entries[k(9)] = &offloaded{packets: 7}
	o.adopts.push(offloadReq{kind: reqAdopt, key: k(8), reply: true, packets: 1})
	o.adopts.push(offloadReq{kind: reqAdopt, key: k(9), packets: 1})
	o.adoptQueued()
	if e := o.entries[k(8)]; e == nil || !e.reply || e.packets != 1 {
		t.Errorf("adopted reply entry %+v", e)
	}
	if e := o.entries[k(9)]; e.packets != 7 {
		t.Errorf("an installed entry was overwritten by a stale adoption: %+v", e)
	}
	if len(o.adopts.take(nil)) != 0 {
		t.Error("adoptQueued left some")
	}
}

// The installed cycle stays while the engine's is the same cycle from
// another position (the engine's moves with each connection); any other
// difference installs the engine's.
func TestRotationOf(t *testing.T) {
	s := func(dests ...uint32) []fastpath.Slot {
		var out []fastpath.Slot
		for _, d := range dests {
			out = append(out, fastpath.Slot{Dest: d})
		}
		return out
	}
	for _, tc := range []struct {
		a, b []fastpath.Slot
		want bool
	}{
		{s(1, 2, 3), s(1, 2, 3), true}, {s(1, 2, 3), s(2, 3, 1), true}, {s(1, 2, 3), s(3, 1, 2), true},
		{s(1, 1, 2), s(1, 2, 1), true}, {s(1, 2, 3), s(1, 3, 2), false}, {s(1, 2, 3), s(1, 2), false},
		{s(1, 1, 2), s(1, 2, 2), false}, {nil, nil, false}, {s(1), s(1), true},
	} {
		if got := rotationOf(tc.a, tc.b); got != tc.want {
			t.Errorf("rotationOf(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}

// A configuration change drains the fast path: a connection the kernel
// scheduled whose SYN's copy no worker has read yet is recorded in the
// engine first, bound to the kernel's choice, so the copy read later is
// not scheduled a second time, maybe elsewhere. After the drain the
// service is planned again from the engine's position.
func TestFlushRecordsKernelScheduled(t *testing.T) {
	o, addrOf := plannedOffloader(t, "10.0.2.11", "10.0.2.12")
	fp, eng, vip := o.fp, o.eng, netip.MustParseAddr("10.0.2.100")
	if err := runProgram(fp, mkFrame(t, "10.0.1.2", "10.0.2.100", 40000, 80, fopt{flags: packet.TCPSyn})); err != nil {
		t.Fatalf("the program on a SYN: %v", err)
	}
	k := fastpath.Key{Src: netip.MustParseAddr("10.0.1.2"), Dst: vip, SrcPort: 40000, DstPort: 80, Proto: 6}
	c, ok := fp.Lookup(k)
	if !ok || c.Dest == 0 {
		t.Fatalf("the kernel did not schedule the SYN: %v %+v", ok, c)
	}
	o.sweep(true)
	if _, ok := fp.Lookup(k); ok {
		t.Error("the entry survived the drain")
	}
	var conns []ipvs.ConnInfo
	eng.Conns(func(ci ipvs.ConnInfo) bool { conns = append(conns, ci); return true })
	if len(conns) != 1 || conns[0].ClientPort != 40000 || conns[0].Dest.Netip(ipvs.IPv4) != addrOf[c.Dest] {
		t.Fatalf("the engine's connections after the drain: %+v, want port 40000 bound to %v", conns, addrOf[c.Dest])
	}
	if len(o.ks.installed) != 1 {
		t.Errorf("the service was not planned again after the drain: %v", o.ks.installed)
	}
}

// A worker's request to offload a flow whose kernel-scheduled entry's
// adoption is still queued does not write over the entry (and what it
// has counted): the adoption is recorded first, and the live entry with
// the same forwarding is left as it is.
func TestInstallAfterQueuedAdoption(t *testing.T) {
	o, addrOf := plannedOffloader(t, "10.0.2.11")
	fp, eng := o.fp, o.eng
	vip, client := netip.MustParseAddr("10.0.2.100"), netip.MustParseAddr("10.0.1.2")
	var dest uint32
	for id := range addrOf {
		dest = id
	}
	hop := o.ks.hops[dest].hop
	if err := runProgram(fp, mkFrame(t, client.String(), vip.String(), 40000, 80, fopt{flags: packet.TCPSyn})); err != nil {
		t.Fatal(err)
	}
	k := fastpath.Key{Src: client, Dst: vip, SrcPort: 40000, DstPort: 80, Proto: 6}
	if c, ok := fp.Lookup(k); !ok || c.Dest != dest {
		t.Fatalf("the kernel did not schedule the SYN: %v %+v", ok, c)
	}
	// the engine records the connection from the SYN's copy (as a worker
	// does, bound to the kernel's choice) and queues the adoption
	f := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(client), Dst: ipvs.AddrFrom(vip), SrcPort: 40000, DstPort: 80}
	if v := o.ew.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, KernelDest: dest}, eng.Now()); v.Action != ipvs.ActionForward {
		t.Fatalf("the SYN's copy: %+v", v)
	}
	for range ipvs.OffloadAfter { // established, and enough packets to be offloaded
		o.ew.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPAck}, eng.Now())
	}
	rw := fastpath.Rewrite{Src: vip, Dst: vip, DstPort: 80, Ifindex: 1, DstMAC: hop.dst, MTU: 1500, Timeout: 15 * time.Minute}
	o.adopts.push(offloadReq{kind: reqAdopt, key: k, rw: rw, flow: f, hop: hop, packets: 1, bytes: 60})
	o.install(offloadReq{kind: reqOffload, key: k, rw: rw, flow: f, hop: hop})
	if c, ok := fp.Lookup(k); !ok || c.Dest != dest || c.Packets != 1 {
		t.Fatalf("the kernel's entry after the worker's request: %v %+v, want it untouched (destination %d, 1 packet)", ok, c, dest)
	}
	if e := o.entries[k]; e == nil || e.packets != 1 {
		t.Fatalf("the offloader's record %+v, want the adoption's", e)
	}
	// a flow the engine scheduled itself gets an entry written
	f2 := f
	f2.SrcPort = 40001
	o.ew.In(&f2, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn}, eng.Now())
	for range ipvs.OffloadAfter {
		o.ew.In(&f2, &ipvs.PacketInfo{TCPFlags: ipvs.TCPAck}, eng.Now())
	}
	k2 := k
	k2.SrcPort = 40001
	o.install(offloadReq{kind: reqOffload, key: k2, rw: rw, flow: f2, hop: hop})
	if c, ok := fp.Lookup(k2); !ok || c.Dest != 0 {
		t.Fatalf("the entry gvsd wrote: %v %+v", ok, c)
	}
	_, events, ok := (&Dataplane{off: o}).FastPath()
	if !ok || events["adopted"] != 1 || events["installed"] != 1 {
		t.Errorf("fast path events %v, want 1 adopted and 1 installed", events)
	}
}

// openFastPath loads the kernel fast path, or skips the test where the
// kernel refuses.
func openFastPath(t *testing.T) *fastpath.FastPath {
	fp, err := fastpath.Open(64)
	if err != nil {
		t.Skipf("kernel fast path unavailable (needs root and BPF; CI runs it): %v", err)
	}
	t.Cleanup(func() { fp.Close() })
	return fp
}

// fastPathAndEngine is openFastPath and a new engine.
func fastPathAndEngine(t *testing.T) (*fastpath.FastPath, *ipvs.Engine) {
	fp := openFastPath(t)
	eng, err := ipvs.New(ipvs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return fp, eng
}

// plannedOffloader is an offloader with the kernel fast path and a
// scheduling table for an rr DR service 10.0.2.100:80 over rips, whose
// next hops it has learned; addrOf gives each destination id's address.
func plannedOffloader(t *testing.T, rips ...string) (o *offloader, addrOf map[uint32]netip.Addr) {
	fp, eng := fastPathAndEngine(t)
	svc := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("10.0.2.100"), Port: 80}
	if err := eng.AddService(ipvs.ServiceConfig{ServiceKey: svc, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	o = &offloader{fp: fp, eng: eng, ew: eng.NewWorker(), ks: newKernelScheduler(1500), entries: map[fastpath.Key]*offloaded{},
		adopts: adoptQueue{kick: make(chan struct{}, 1)}, log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	addrOf = map[uint32]netip.Addr{}
	for i, a := range rips {
		rip := netip.MustParseAddr(a)
		if err := eng.AddDest(svc, ipvs.DestConfig{Addr: rip, Port: 80, Weight: 1, Forwarding: ipvs.Forwarding{Method: ipvs.Route}}); err != nil {
			t.Fatal(err)
		}
		for _, s := range eng.KernelPlans(fastpath.MaxSlots)[0].Slots {
			if s.Addr == rip {
				addrOf[s.DestID] = rip
				o.ks.hops[s.DestID] = learnedHop{addr: rip, fwd: s.Fwd, mtu: 1500, hop: &nextHop{ifindex: 1, dst: [6]byte{2, 0, 0, 0, 0, byte(i)}, mtu: 1500}}
			}
		}
	}
	o.plan()
	if len(o.ks.installed) != 1 {
		t.Fatalf("no table installed: %v", o.ks.installed)
	}
	return o, addrOf
}

// runProgram runs fp's program on frame as an interface's ingress would
// (a scheduled SYN is recorded and forwarded, not left to the rings).
func runProgram(fp *fastpath.FastPath, frame []byte) error {
	_, _, err := fp.Process(frame)
	return err
}

// A SYN the kernel scheduled reaches the engine as a record of the SYN
// ring, not a copy in a ring: the worker that drains the records binds
// the connection to the kernel's choice, sends nothing (the kernel has)
// and queues the entry's adoption. When the engine overrules the kernel
// (the server was replaced, its id not yet handed out again), the worker
// sends the record's SYN itself, its checksum (left to offload)
// completed, and has the kernel's entry retired.
func TestSYNRecords(t *testing.T) {
	e := newTestEnv(t)
	fp := openFastPath(t)
	eng := e.d.eng
	o := &offloader{fp: fp, eng: eng, ew: eng.NewWorker(), ks: newKernelScheduler(1500), entries: map[fastpath.Key]*offloaded{},
		reqs: make(chan offloadReq, 16), adopts: adoptQueue{kick: make(chan struct{}, 1)}, log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	vip := netip.MustParseAddr(vipDR)
	var dest uint32
	for _, p := range eng.KernelPlans(fastpath.MaxSlots) {
		if p.Key.Addr == vip && p.Key.Port == 80 {
			s := p.Slots[0]
			dest = s.DestID
			o.ks.hops[s.DestID] = learnedHop{addr: s.Addr, fwd: s.Fwd, mtu: 1500, hop: &nextHop{ifindex: 2, dst: macRS[rs2], src: macEth1, mtu: 1500}}
		}
	}
	o.plan()
	if len(o.ks.installed) != 1 || dest == 0 {
		t.Fatalf("no table for %s:80: %v", vipDR, o.ks.installed)
	}
	ring, err := fp.SYNRing()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ring.Close() })
	e.d.off, e.d.syns = o, &synRecords{ring: ring}

	syn := mkFrame(t, client4, vipDR, 40000, 80, fopt{flags: packet.TCPSyn})
	var p packet.Packet
	if r := packet.Parse(syn, &p); r != packet.DropNone {
		t.Fatal(r)
	}
	syn[p.L4Off+16], syn[p.L4Off+17] = 0x12, 0x34 // as a partial checksum would be
	if err := runProgram(fp, syn); err != nil {
		t.Fatal(err)
	}
	if n := e.w.drainSYNs(); n != 1 {
		t.Fatalf("drainSYNs handled %d records, want 1", n)
	}
	e.nothing(e.eth0, e.eth1)
	f := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(netip.MustParseAddr(client4)), Dst: ipvs.AddrFrom(vip), SrcPort: 40000, DstPort: 80}
	if !e.w.ew.Knows(&f) {
		t.Fatal("the engine has no connection for the recorded SYN")
	}
	if v := e.w.ew.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPAck}, eng.Now()); v.DestID != dest {
		t.Fatalf("the connection goes to destination %d, want the kernel's %d", v.DestID, dest)
	}
	reqs := o.adopts.take(nil)
	if len(reqs) != 1 || reqs[0].key != (fastpath.Key{Src: netip.MustParseAddr(client4), Dst: vip, SrcPort: 40000, DstPort: 80, Proto: 6}) {
		t.Fatalf("queued adoptions %+v, want the SYN's entry", reqs)
	}
	if e.w.rxCount.Load() != 1 {
		t.Errorf("worker received %d frames, want the record counted", e.w.rxCount.Load())
	}
	// the engine overrules the kernel (its server was replaced by another
	// since the table was written): the worker sends the record's SYN
	// itself, with the checksum the offload left undone completed
	svc := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: vip, Port: 80}
	if err := eng.DelDest(svc, netip.MustParseAddr(rs2), 80); err != nil {
		t.Fatal(err)
	}
	if err := eng.AddDest(svc, ipvs.DestConfig{Addr: netip.MustParseAddr(rs1), Port: 80, Weight: 1, Forwarding: ipvs.Forwarding{Method: ipvs.Route}}); err != nil {
		t.Fatal(err)
	}
	again := mkFrame(t, client4, vipDR, 40001, 80, fopt{flags: packet.TCPSyn})
	again[p.L4Off+16], again[p.L4Off+17] = 0x12, 0x34
	if err := runProgram(fp, again); err != nil {
		t.Fatal(err)
	}
	if n := e.w.drainSYNs(); n != 1 {
		t.Fatalf("drainSYNs handled %d records, want 1", n)
	}
	out, sent := e.one(e.eth1)
	checksumsOK(t, out.frame, sent)
	if sent.Key.SrcPort != 40001 || sent.TCPFlags != packet.TCPSyn || [6]byte(out.frame[0:6]) != macRS[rs1] {
		t.Fatalf("sent %+v to %x, want the second SYN to %s", sent.Key, out.frame[0:6], rs1)
	}
	if r := <-o.reqs; r.kind != reqRetire {
		t.Fatalf("offloader request %+v, want the kernel's entry retired", r)
	}
	if n := e.w.drainSYNs(); n != 0 {
		t.Fatalf("a second drain handled %d records", n)
	}
}

// A sweep keeps the entries of kernel-scheduled NAT connections whose
// client sent packets after the SYN, the reply entries too, whichever
// order the walk meets them in: the engine takes those packets for the
// ACK that makes each connection established (TouchKernel). Before, the
// first sweep found such a connection still SYN_RECV, handed its entries
// back, and its next packets went through a worker. A connection adopted
// since the last sweep with no packet after its SYN yet is left for the
// next sweep; a half-open one is handed back then.
func TestSweepKeepsKernelConnections(t *testing.T) {
	fp, eng := fastPathAndEngine(t)
	vip, rip, client := netip.MustParseAddr("10.0.2.100"), netip.MustParseAddr("10.0.2.11"), netip.MustParseAddr("10.0.1.2")
	svc := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: vip, Port: 80}
	if err := eng.AddService(ipvs.ServiceConfig{ServiceKey: svc, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	if err := eng.AddDest(svc, ipvs.DestConfig{Addr: rip, Port: 8080, Weight: 1, Forwarding: ipvs.Forwarding{Method: ipvs.Masq}}); err != nil {
		t.Fatal(err)
	}
	dest := eng.KernelPlans(fastpath.MaxSlots)[0].Slots[0].DestID
	o := &offloader{fp: fp, eng: eng, ew: eng.NewWorker(), entries: map[fastpath.Key]*offloaded{}, log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	w := eng.NewWorker()
	hop := &nextHop{ifindex: 1, mtu: 1500}
	const conns = 16
	for i := range conns {
		port := uint16(40000 + i)
		f := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(client), Dst: ipvs.AddrFrom(vip), SrcPort: port, DstPort: 80}
		if v := w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, KernelDest: dest}, eng.Now()); v.DestID != dest {
			t.Fatalf("the SYN's record: %+v", v)
		}
		k := flowKey(&f)
		rk := natReplyKey(k, rip, 8080)
		reply := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(rip), Dst: ipvs.AddrFrom(client), SrcPort: 8080, DstPort: port}
		fw := fastpath.Rewrite{Src: client, Dst: rip, SrcPort: port, DstPort: 8080, Ifindex: 1, MTU: 1500, Timeout: time.Minute}
		bw := fastpath.Rewrite{Src: vip, Dst: client, SrcPort: 80, DstPort: port, Ifindex: 1, MTU: 1500, Timeout: time.Minute}
		if err := fp.Add(k, fw); err != nil {
			t.Fatal(err)
		}
		if err := fp.Add(rk, bw); err != nil {
			t.Fatal(err)
		}
		o.adopt(offloadReq{kind: reqAdopt, key: k, rw: fw, flow: f, hop: hop})
		o.adopt(offloadReq{kind: reqAdopt, key: rk, rw: bw, flow: reply, reply: true, hop: hop})
	}
	// a half-open connection: nothing after its SYN
	half := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(client), Dst: ipvs.AddrFrom(vip), SrcPort: 39999, DstPort: 80}
	w.In(&half, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, KernelDest: dest}, eng.Now())
	hk := flowKey(&half)
	hw := fastpath.Rewrite{Src: client, Dst: rip, SrcPort: 39999, DstPort: 8080, Ifindex: 1, MTU: 1500, Timeout: time.Minute}
	if err := fp.Add(hk, hw); err != nil {
		t.Fatal(err)
	}
	o.adopt(offloadReq{kind: reqAdopt, key: hk, rw: hw, flow: half, hop: hop})
	o.sweep(false) // all adopted since the last sweep, no packet yet: left as they are
	if c, ok := fp.Lookup(hk); !ok || c.Deadline == 0 {
		t.Fatalf("a connection adopted since the last sweep handed back at once: %v %+v", ok, c)
	}
	for i := range conns {
		port := uint16(40000 + i)
		// the kernel forwards the client's ACK and request, and a reply
		for _, fr := range [][]byte{
			mkFrame(t, client.String(), vip.String(), port, 80, fopt{flags: packet.TCPAck}),
			mkFrame(t, client.String(), vip.String(), port, 80, fopt{flags: packet.TCPAck | packet.TCPPsh, payload: 40}),
			mkFrame(t, rip.String(), client.String(), 8080, port, fopt{flags: packet.TCPAck, payload: 100}),
		} {
			if err := runProgram(fp, fr); err != nil {
				t.Fatal(err)
			}
		}
	}
	o.sweep(false) // forward and reply entries judged in one sweep
	if _, ok := fp.Lookup(hk); ok {
		t.Fatal("a half-open connection kept at its second sweep")
	}
	for i := range conns {
		k := fastpath.Key{Src: client, Dst: vip, SrcPort: uint16(40000 + i), DstPort: 80, Proto: 6}
		for _, key := range []fastpath.Key{k, natReplyKey(k, rip, 8080)} {
			if c, ok := fp.Lookup(key); !ok || c.Deadline == 0 || o.entries[key] == nil {
				t.Fatalf("%+v: entry %v %+v after the sweep, want it kept", key, ok, c)
			}
		}
	}
	st, err := eng.ServiceStatus(svc)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Stats; c.InPkts != 3*conns+1 || c.OutPkts != conns {
		t.Fatalf("service counters: %d packets in, %d out; want %d and %d", c.InPkts, c.OutPkts, 3*conns+1, conns)
	}
	established := 0
	eng.Conns(func(c ipvs.ConnInfo) bool {
		if c.State == "ESTABLISHED" {
			established++
		}
		return true
	})
	if established != conns {
		t.Fatalf("%d connections established, want %d", established, conns)
	}
	// a connection adopted since the last sweep is kept, not yet judged,
	// but what the kernel counted of it is counted at once
	late := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(client), Dst: ipvs.AddrFrom(vip), SrcPort: 41000, DstPort: 80}
	w.In(&late, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, KernelDest: dest}, eng.Now())
	lk := flowKey(&late)
	lrk := natReplyKey(lk, rip, 8080)
	lreply := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(rip), Dst: ipvs.AddrFrom(client), SrcPort: 8080, DstPort: 41000}
	lbw := fastpath.Rewrite{Src: vip, Dst: client, SrcPort: 80, DstPort: 41000, Ifindex: 1, MTU: 1500, Timeout: time.Minute}
	if err := fp.Add(lrk, lbw); err != nil {
		t.Fatal(err)
	}
	o.adopt(offloadReq{kind: reqAdopt, key: lrk, rw: lbw, flow: lreply, reply: true, hop: hop})
	if err := runProgram(fp, mkFrame(t, rip.String(), client.String(), 8080, 41000, fopt{flags: packet.TCPAck, payload: 10})); err != nil {
		t.Fatal(err)
	}
	o.sweep(false)
	if c, ok := fp.Lookup(lrk); !ok || c.Deadline == 0 {
		t.Fatalf("a reply entry adopted since the last sweep: %v %+v, want it kept", ok, c)
	}
	if st, _ := eng.ServiceStatus(svc); st.Stats.OutPkts != conns+1 {
		t.Fatalf("%d packets out, want %d: the young entry's packet counted at once", st.Stats.OutPkts, conns+1)
	}
}
