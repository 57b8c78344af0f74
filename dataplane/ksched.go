//go:build linux

package dataplane

import (
	"encoding/binary"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govs/gvs/dataplane/fastpath"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/packet"
)

// Kernel scheduling (Config.KernelScheduling; docs/dataplane.md, "Kernel
// scheduling"). A new connection's SYN otherwise waits for a worker's
// wake-up, and on this kind of machine 1 % of wake-ups take more than
// ~240 µs: that was the whole new-connection latency gap to the in-kernel
// balancers (bench/results/profile.md). For the services the engine says
// a kernel round robin schedules exactly as it would (KernelPlans), the
// offloader writes each one's cycle into the fast path's scheduling map;
// the fast path's program then picks the next slot for a SYN without an entry,
// writes the connection's entry and forwards the SYN at once, and records
// it in the SYN ring with its destination (synRecords, drainSYNs). The
// worker that handles the record gives the engine the kernel's choice
// (ipvs.PacketInfo.KernelDest), the engine binds the connection to it,
// and nothing is sent again. A SYN the ring cannot take (too long, the
// ring full) is copied to a ring instead, and the worker that reads the
// copy finds the kernel's destination in the entry (kernelScheduled).
//
// A slot needs the destination's next hop, which only a worker's
// forwarding learns: a service is planned once each destination of its
// cycle has had a connection scheduled the ordinary way (reqLearn).

// kernelScheduler is the offloader's scheduling state.
type kernelScheduler struct {
	hops      map[uint32]learnedHop // by destination id
	installed map[fastpath.SchedKey][]fastpath.Slot
	// scheduled is what the workers read: the services in the map
	scheduled atomic.Pointer[map[fastpath.SchedKey]bool]
	announced map[fastpath.SchedKey]bool // as last logged
	// unrecorded are kernel-scheduled entries no worker has recorded
	// yet, with the sweep that first saw them
	unrecorded map[fastpath.Key]uint64
	// replyMTU is the path MTU of the reply entries the program writes for
	// NAT: the smallest of the data-path interfaces' (a SYN may come in on
	// any of them; a longer reply goes to a worker)
	replyMTU int
}

// learnedHop is where a destination's packets go, and how: the
// forwarding they were sent with, and for a tunnel its mark (the TC
// encapsulation writes it), overhead and inner MTU.
type learnedHop struct {
	addr     netip.Addr
	fwd      ipvs.Forwarding
	hop      *nextHop
	mark     uint32
	overhead int
	mtu      int
}

// unrecordedSweeps is how many sweeps (250 ms each) an entry the kernel
// scheduled may wait for the worker's record before it is deleted (the
// copy was lost: the ring was full).
const unrecordedSweeps = 4

func newKernelScheduler(replyMTU int) *kernelScheduler {
	ks := &kernelScheduler{hops: map[uint32]learnedHop{}, installed: map[fastpath.SchedKey][]fastpath.Slot{}, unrecorded: map[fastpath.Key]uint64{}, replyMTU: replyMTU}
	ks.scheduled.Store(&map[fastpath.SchedKey]bool{})
	return ks
}

// learn records destination r.dest's next hop and plans again when it is
// new.
func (o *offloader) learn(r offloadReq) {
	if o.ks == nil {
		return
	}
	lh := learnedHop{addr: r.rw.Dst, fwd: r.fwd, hop: r.hop, mark: r.rw.Mark, overhead: r.rw.Overhead, mtu: r.rw.MTU}
	if o.ks.hops[r.dest] == lh {
		return
	}
	o.ks.hops[r.dest] = lh
	o.plan()
}

// plan brings the scheduling map in line with the engine's plans and the
// learned next hops. A table is written under the service's scheduling
// lock (ipvs.Engine.HandOver), from the engine's next pick, so the round
// goes on exactly.
func (o *offloader) plan() {
	ks := o.ks
	if ks == nil {
		return
	}
	want := map[fastpath.SchedKey][]fastpath.Slot{}
	for _, p := range o.eng.KernelPlans(fastpath.MaxSlots) {
		k := fastpath.SchedKey{Addr: p.Key.Addr, Port: p.Key.Port, Proto: uint8(p.Key.Protocol)}
		slots := o.slots(p)
		if len(slots) == 0 {
			continue
		}
		want[k] = slots
		if rotationOf(ks.installed[k], slots) {
			continue // the kernel is where the engine is in the same cycle
		}
		err := o.eng.HandOver(p.Key, fastpath.MaxSlots, func(p ipvs.KernelPlan) (ipvs.KernelPicker, error) {
			slots := o.slots(p) // the plan again, now from the engine's position
			if len(slots) == 0 {
				return nil, errors.New("a next hop went away")
			}
			// the workers learn of the table before the program uses it:
			// the copy of a SYN the program scheduled must be looked up
			// (kernelScheduled), never scheduled again
			ks.installed[k] = slots
			o.publish()
			if err := o.fp.SetSchedule(k, time.Duration(p.Timeout)*time.Second, ks.replyMTU, slots); err != nil {
				return nil, err // withdrawn below, with any table it had
			}
			return func() (uint32, bool) { return o.fp.TakeSlot(k) }, nil
		})
		if err != nil {
			o.log.Warn("kernel scheduling: service left to gvsd", "service", netip.AddrPortFrom(k.Addr, k.Port), "err", err)
			delete(want, k)
		}
	}
	for k := range ks.installed {
		if want[k] == nil {
			o.withdraw(k)
			delete(ks.installed, k)
		}
	}
	set := o.publish()
	for k := range set {
		if !ks.announced[k] {
			o.log.Info("kernel scheduling: the kernel schedules this service's new connections", "service", netip.AddrPortFrom(k.Addr, k.Port), "slots", len(ks.installed[k]))
		}
	}
	for k := range ks.announced {
		if !set[k] {
			o.log.Info("kernel scheduling: gvsd schedules this service's new connections again", "service", netip.AddrPortFrom(k.Addr, k.Port))
		}
	}
	ks.announced = set // logged on a change only, not at each flush and plan again
}

// publish tells the workers which services have a table (kernelScheduled)
// and returns that set.
func (o *offloader) publish() map[fastpath.SchedKey]bool {
	set := map[fastpath.SchedKey]bool{}
	for k := range maps.Keys(o.ks.installed) {
		set[k] = true
	}
	o.ks.scheduled.Store(&set)
	return set
}

// slots are plan p's table: nil unless every destination's next hop is
// learned, current and one a kernel entry can take.
func (o *offloader) slots(p ipvs.KernelPlan) []fastpath.Slot {
	ks := o.ks
	k := fastpath.SchedKey{Addr: p.Key.Addr, Port: p.Key.Port, Proto: uint8(p.Key.Protocol)}
	slots := make([]fastpath.Slot, 0, len(p.Slots))
	for _, s := range p.Slots {
		lh, ok := ks.hops[s.DestID]
		if !ok || lh.addr != s.Addr || lh.fwd != s.Fwd || lh.hop.stale.Load() || lh.hop.held != nil || lh.hop.local {
			if ok && lh.hop.stale.Load() {
				delete(ks.hops, s.DestID) // a later connection learns it again
			}
			return nil
		}
		h := lh.hop
		dst, port := k.Addr, k.Port // DR and TUN: the packet as it came
		if s.Fwd.Method == ipvs.Masq {
			dst, port = s.Addr, s.Port
		}
		slots = append(slots, fastpath.Slot{Dest: s.DestID, Rewrite: fastpath.Rewrite{
			Src: k.Addr, Dst: dst, DstPort: port, Ifindex: h.ifindex, DstMAC: h.dst, SrcMAC: h.src,
			Mark: lh.mark, MTU: lh.mtu, Overhead: lh.overhead, Timeout: time.Duration(p.Timeout) * time.Second,
		}})
	}
	return slots
}

// withdraw hands service k's new connections back to the engine, which
// goes on from the kernel's position, and deletes its table.
func (o *offloader) withdraw(k fastpath.SchedKey) {
	o.eng.TakeBack(ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.Protocol(k.Proto), Addr: k.Addr, Port: k.Port})
	_ = o.fp.DeleteSchedule(k)
}

// rotationOf reports whether cycle b is cycle a from some position on.
// The engine's cycle starts at its next pick (ipvs.Cycler), which moves
// with every connection while the installed one stays put.
func rotationOf(a, b []fastpath.Slot) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for r := range a {
		if slices.Equal(a[r:], b[:len(a)-r]) && slices.Equal(a[:r], b[len(a)-r:]) {
			return true
		}
	}
	return false
}

// unschedule empties the scheduling map at once (a configuration
// change: no SYN may follow the old plans) and returns the plans it
// withdrew.
func (o *offloader) unschedule() map[fastpath.SchedKey][]fastpath.Slot {
	if o.ks == nil {
		return nil
	}
	for k := range o.ks.installed {
		o.withdraw(k)
	}
	planned := o.ks.installed
	o.ks.installed = map[fastpath.SchedKey][]fastpath.Slot{}
	clear(o.ks.unrecorded) // the flush deletes their entries
	o.ks.scheduled.Store(&map[fastpath.SchedKey]bool{})
	return planned
}

// unrecorded reports whether the sweep should leave entry k alone for
// now: the kernel scheduled it and the worker's record may still come.
func (o *offloader) unrecorded(k fastpath.Key, c fastpath.Counters) bool {
	if o.ks == nil || c.Dest == 0 {
		return false
	}
	first, ok := o.ks.unrecorded[k]
	if !ok {
		o.ks.unrecorded[k] = o.sweeps
		return true
	}
	if o.sweeps-first < unrecordedSweeps {
		return true
	}
	delete(o.ks.unrecorded, k)
	o.record(o.ks.installed, k, c)
	return false
}

// record gives the engine a connection the kernel scheduled whose SYN's
// copy never reached a worker (a full ring), or not yet when a
// configuration change drains every entry, with the kernel's counts,
// before its entry is deleted: the engine then follows the
// connection's next packets, which come to the workers. A retired entry
// too: the FIN that retired it went to a full ring as well, and its
// retransmission must find the connection. Forward entries only (a NAT
// reply entry's connection is its forward entry's: planned, the
// services the kernel schedules, tells them apart).
func (o *offloader) record(planned map[fastpath.SchedKey][]fastpath.Slot, k fastpath.Key, c fastpath.Counters) {
	if _, ok := planned[fastpath.SchedKey{Addr: k.Dst, Port: k.DstPort, Proto: k.Proto}]; !ok {
		return
	}
	f := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.Protocol(k.Proto), Src: ipvs.AddrFrom(k.Src), Dst: ipvs.AddrFrom(k.Dst), SrcPort: k.SrcPort, DstPort: k.DstPort}
	if o.ew.Knows(&f) {
		return
	}
	if v := o.ew.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPAck, KernelDest: c.Dest}, o.eng.Now()); v.Action != ipvs.ActionForward {
		return // its server is gone: the connection ends with its entry
	}
	o.ew.Touch(&f, false, -1, c.Packets, c.Bytes)
	o.log.Debug("kernel scheduling: recorded a connection whose SYN the workers never saw", "client", netip.AddrPortFrom(k.Src, k.SrcPort), "service", netip.AddrPortFrom(k.Dst, k.DstPort))
}

// retireScheduled deletes an entry the kernel scheduled that the engine
// overruled or the worker refused and, for a NAT connection, the reply
// entry the program wrote with it: keyed by the kernel's choice of server,
// which the worker does not know, but the installed slot does.
func (o *offloader) retireScheduled(k fastpath.Key) {
	now := o.now()
	if c, ok := o.fp.Lookup(k); ok && c.Dest != 0 && o.ks != nil {
		if rk, ok := o.ks.replyKey(k, c.Dest); ok {
			o.retire(rk, o.entries[rk], now)
		}
	}
	o.retire(k, o.entries[k], now)
}

// replyKey is the key of the reply entry the program wrote for connection
// k when it scheduled it to destination dest of a NAT slot; false for a
// DR or TUN slot, or one no longer installed.
func (ks *kernelScheduler) replyKey(k fastpath.Key, dest uint32) (fastpath.Key, bool) {
	for _, s := range ks.installed[fastpath.SchedKey{Addr: k.Dst, Port: k.DstPort, Proto: k.Proto}] {
		if r := s.Rewrite; s.Dest == dest && (r.Dst != k.Dst || r.DstPort != k.DstPort) {
			return natReplyKey(k, r.Dst, r.DstPort), true
		}
	}
	return fastpath.Key{}, false
}

// natReplyKey is the key of the replies to connection k from real server
// rip:rport (NAT): the server's address and port to the client's.
func natReplyKey(k fastpath.Key, rip netip.Addr, rport uint16) fastpath.Key {
	return fastpath.Key{Src: rip, Dst: k.Src, SrcPort: rport, DstPort: k.SrcPort, Proto: k.Proto}
}

// adopt makes a kernel-scheduled entry the offloader's, as if it had
// installed it, with what the engine has counted of it already.
func (o *offloader) adopt(r offloadReq) {
	if o.ks != nil {
		delete(o.ks.unrecorded, r.key)
	}
	if o.entries[r.key] != nil {
		return // installed since it was queued (adoptQueue): that entry's counts are the record's
	}
	o.entries[r.key] = &offloaded{flow: r.flow, reply: r.reply, kernel: true, hop: r.hop, rw: r.rw, packets: r.packets, bytes: r.bytes, seen: o.sweeps, since: o.sweeps}
	o.stats.adopted.Add(1)
}

// kernelScheduled looks a SYN of a service the kernel schedules up in the
// fast path: the destination the program chose when it forwarded
// this very SYN, 0 if it did not. The entry's SYN sequence number tells
// the copy of the SYN the program forwarded from a later SYN on the same
// ports that met the entry and was left to gvsd (a new connection reusing
// the ports); a retransmission of the SYN has the same number, but it
// marked the entry when it met it (Counters.SYNAgain), and is gvsd's to
// send. The first SYN's copy read after an RST retired the entry is still
// the kernel's (docs/dataplane.md, "Kernel scheduling").
//
// A later client packet (not an RST) of such a service whose connection
// the engine does not know is looked up too: the SYN's copy was lost (a
// full ring), and the kernel's choice lets the engine create the
// connection where the kernel sent it rather than drop the packet.
func (w *worker) kernelScheduled(in *iface, b []byte, p *packet.Packet, ep *ipvs.Packet) uint32 {
	off := w.d.off
	if off == nil || off.ks == nil || in.loop || ep.Reply || ep.Flow.Family != ipvs.IPv4 ||
		p.Key.Proto != packet.ProtoTCP || p.TCPFlags&ipvs.TCPRst != 0 || len(b) < int(p.L4Off)+8 {
		return 0
	}
	f := &ep.Flow
	k := flowKey(f)
	if !(*off.ks.scheduled.Load())[fastpath.SchedKey{Addr: k.Dst, Port: k.DstPort, Proto: k.Proto}] {
		return 0
	}
	syn := p.TCPFlags&(ipvs.TCPSyn|ipvs.TCPAck|ipvs.TCPFin) == ipvs.TCPSyn
	if !syn && (p.TCPFlags&ipvs.TCPSyn != 0 || w.ew.Knows(f)) {
		return 0
	}
	c, ok := off.fp.Lookup(k)
	if !ok || c.Dest == 0 {
		return 0
	}
	if syn && (c.SYNSeq != binary.BigEndian.Uint32(b[p.L4Off+4:]) || c.SYNAgain) {
		return 0
	}
	return c.Dest
}

// kernelSent settles a SYN the kernel has forwarded already (its copy b,
// which came in on in; ep.Info.KernelDest set): true when the engine
// bound the connection to the kernel's destination, so nothing is to be
// sent; false when the engine decided otherwise (the destination was
// just removed, a persistent service...): the kernel's entries are
// deleted and the verdict is carried out as usual.
func (w *worker) kernelSent(in *iface, b []byte, p *packet.Packet, ep *ipvs.Packet) bool {
	v := &ep.Verdict
	f := &ep.Flow
	k := flowKey(f)
	if v.Action != ipvs.ActionForward || v.DestID != ep.Info.KernelDest || (v.Method != ipvs.Route && v.Method != ipvs.Tunnel && v.Method != ipvs.Masq) {
		w.d.off.reqs <- offloadReq{kind: reqRetire, key: k} // a NAT reply entry goes with it
		return false
	}
	hop := w.hops.lookup(v.Dest, v.DestFamily)
	if hop == nil {
		return true
	}
	_, rw, _ := flowRewrite(ep, hop, 0, 0, hop.mtu)
	// full: the sweep deletes the entry after its grace, the connection
	// stays the engine's
	w.d.off.adopts.push(offloadReq{kind: reqAdopt, key: k, rw: rw, flow: *f, hop: hop, packets: 1, bytes: uint64(p.IPLen())})
	if v.Method == ipvs.Masq {
		w.kernelReply(in, b, ep, k)
	}
	return true
}

// kernelReply adopts the reply entry the program wrote for the NAT
// connection of ep (key k) when its way back is the one
// the worker would take: the program sent replies out of the interface the
// SYN came in on, to the MAC it came from, which holds where routing to
// the client is symmetric. Otherwise the entry is deleted and the replies
// are the workers' (the server's first SYN+ACK may have gone the SYN's
// way already).
func (w *worker) kernelReply(in *iface, b []byte, ep *ipvs.Packet, k fastpath.Key) {
	f := &ep.Flow
	v := &ep.Verdict
	rk := natReplyKey(k, v.Dest.Netip(v.DestFamily), v.DestPort)
	hop := w.hops.lookup(f.Src, f.Family)
	ks := w.d.off.ks
	if hop == nil || hop.local || hop.held != nil || hop.ifindex != in.index || hop.mtu < ks.replyMTU ||
		[6]byte(b[6:12]) != hop.dst || [6]byte(b[0:6]) != hop.src {
		select {
		case w.d.off.reqs <- offloadReq{kind: reqRetire, key: rk}:
		default: // the sweep deletes it after its grace, unrecorded
		}
		return
	}
	reply := ipvs.Flow{Family: f.Family, Protocol: f.Protocol, Src: v.Dest, Dst: f.Src, SrcPort: v.DestPort, DstPort: f.SrcPort}
	rw := fastpath.Rewrite{
		Src: v.VAddr.Netip(f.Family), Dst: rk.Dst, SrcPort: v.VPort, DstPort: rk.DstPort,
		Ifindex: hop.ifindex, DstMAC: hop.dst, SrcMAC: hop.src, MTU: ks.replyMTU, Timeout: time.Duration(v.Timeout) * time.Millisecond,
	}
	w.d.off.adopts.push(offloadReq{kind: reqAdopt, key: rk, rw: rw, flow: reply, reply: true, hop: hop})
}

// learnHop tells the offloader where destination v.DestID's packets went
// and how (mark, overhead and mtu as for offload), for its service's
// kernel scheduling table.
func (w *worker) learnHop(ep *ipvs.Packet, hop *nextHop, mark uint32, overhead, mtu int) {
	v := &ep.Verdict
	if w.d.off == nil || w.d.off.ks == nil || !v.NewConn || hop == nil || hop.local || hop.held != nil ||
		ep.Flow.Family != ipvs.IPv4 || ep.Flow.Protocol != ipvs.ProtoTCP {
		return
	}
	told := toldHop{hop: hop, mark: mark, fwd: v.Forwarding}
	if w.toldHops[v.DestID] == told {
		return // the offloader has it: no message per new connection
	}
	rw := fastpath.Rewrite{Dst: v.Dest.Netip(v.DestFamily), Mark: mark, Overhead: overhead, MTU: mtu}
	select {
	case w.d.off.reqs <- offloadReq{kind: reqLearn, dest: v.DestID, rw: rw, fwd: v.Forwarding, hop: hop}:
		if w.toldHops == nil {
			w.toldHops = map[uint32]toldHop{}
		}
		w.toldHops[v.DestID] = told
	default: // the offloader is busy: a later connection tells it
	}
}

// toldHop is what a worker last told the offloader of a destination.
type toldHop struct {
	hop  *nextHop
	mark uint32
	fwd  ipvs.Forwarding
}

// synRecords is the fast path's SYN ring as the workers share it. The
// fast path's program records each SYN it schedules there (the frame
// never reaches a ring), without waking anyone (fastpath.SYNRing): the workers read
// the records before each batch of their own frames and at least every
// synPollMS, so a kernel-scheduled connection costs gvsd neither a
// wake-up nor a lookup of its own. The lock is held while records are
// handled, not only read: a worker about to handle a batch that may hold
// a later packet of such a connection (its FIN, on whatever worker's
// ring) waits until the engine has recorded the connection.
type synRecords struct {
	mu   sync.Mutex
	ring *fastpath.SYNRing
	// handling is set, under mu, from before records are taken from the
	// ring until they are handled: a worker that finds the ring empty
	// and nothing being handled goes on without the lock
	handling atomic.Bool
}

// synPollMS bounds how long a SYN record waits when no frame wakes a
// worker: the engine's listing and counters lag the kernel by that much.
const synPollMS = 10

// synSlot is a SYN record's buffer: headroom (encapsulation in place, as
// the rings leave), the virtio-net header, the frame.
const (
	synHeadroom = 128
	synSlot     = synHeadroom + vnetLen + fastpath.SYNFrameMax
)

// pollMS is how long an idle worker blocks in poll: synPollMS while the
// kernel schedules some service (the program may be writing records).
func (w *worker) pollMS() int {
	if w.d.syns != nil && len(*w.d.off.ks.scheduled.Load()) > 0 {
		return synPollMS
	}
	return 100
}

// drainSYNs handles every SYN record waiting, a batch at a time, each run
// of records of one interface as that interface's frames; it returns how
// many it handled.
func (w *worker) drainSYNs() int {
	s := w.d.syns
	if s == nil || w.ew == nil || !s.ring.Pending() && !s.handling.Load() {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handling.Store(true)
	defer s.handling.Store(false)
	if w.synBuf == nil {
		w.synBuf = make([]byte, batchSize*synSlot)
		w.synIn = make([]*iface, batchSize)
	}
	total := 0
	for s.ring.Pending() {
		n := 0
		for n < batchSize {
			buf := w.synBuf[n*synSlot : (n+1)*synSlot]
			clear(buf[synHeadroom : synHeadroom+vnetLen]) // no offload state: a SYN, its checksum recomputed
			rec, ok := s.ring.Next(buf[synHeadroom+vnetLen:])
			if !ok {
				break
			}
			if rec.Len == 0 || rec.Dest == 0 {
				w.count(dropMalformed)
				continue
			}
			in := w.d.byIx[rec.Ifindex]
			if in == nil || in.loop {
				w.count(dropNoInterface)
				continue
			}
			w.synIn[n] = in
			w.frames[n] = RxFrame{Buf: buf, Off: synHeadroom + vnetLen, Len: rec.Len, Orig: rec.Len, KernelDest: rec.Dest}
			n++
		}
		if n == 0 {
			break
		}
		w.rxCount.Add(uint64(n))
		total += n
		for lo := 0; lo < n; {
			hi := lo + 1
			for hi < n && w.synIn[hi] == w.synIn[lo] {
				hi++
			}
			copy(w.frames[:hi-lo], w.frames[lo:hi])
			w.handle(w.synIn[lo], hi-lo)
			lo = hi
		}
	}
	return total
}
