//go:build linux

package dataplane

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govs/gvs/dataplane/fastpath"
	"github.com/govs/gvs/dataplane/tcencap"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/packet"
)

// The kernel fast path for established connections (package fastpath;
// docs/dataplane.md, "Fast path"). A worker that has forwarded a packet of
// a connection the engine allows to offload (Verdict.Offload) asks the
// offloader to install the same forwarding in the kernel; from then on the
// flow's packets are rewritten and redirected by a TC ingress program and
// never reach the rings, except SYN, FIN, RST and whatever the programs
// cannot handle. The offloader sweeps the entries every sweepEvery: their
// packets and bytes go to the engine's statistics, their last packet
// restarts the connection's timer, and an entry whose connection is gone
// or no longer offloadable, or whose next hop changed, is deleted.

// sweepEvery is how often the offloader reads the kernel's counters (less
// often with hundreds of thousands of entries: see run). It bounds how
// long the fast path keeps forwarding for a connection that the engine
// has dropped for another reason than its packets (its real server found
// down; a configuration change flushes at once).
const sweepEvery = 250 * time.Millisecond

// maxOffloaded bounds the kernel's flow map; flows beyond it stay in user
// space.
const maxOffloaded = 1 << 18

// offloadReq is a worker's request to the offloader: to hand a flow to
// the kernel (reqOffload), or one of kernel scheduling's (ksched.go).
type offloadReq struct {
	kind  reqKind
	key   fastpath.Key
	rw    fastpath.Rewrite
	flow  ipvs.Flow
	reply bool
	hop   *nextHop
	// reqAdopt: what the kernel counted of the entry so far, and already
	// given to the engine; reqLearn: a destination, where it is and how
	// it is forwarded
	dest           uint32
	fwd            ipvs.Forwarding
	packets, bytes uint64
}

type reqKind uint8

const (
	reqOffload reqKind = iota
	reqAdopt           // the engine recorded a connection the kernel scheduled: the entry is ours (queued: adoptQueue)
	reqRetire          // the engine overruled the kernel's choice: delete its entry
	reqLearn           // a destination's next hop, for the scheduling tables
)

// sweptEntry is an entry as a sweep read it.
type sweptEntry struct {
	key fastpath.Key
	c   fastpath.Counters
}

// offloaded is the offloader's record of one entry.
type offloaded struct {
	flow           ipvs.Flow
	reply          bool
	kernel         bool // the kernel scheduled its connection (adopted): ipvs.Worker.TouchKernel
	hop            *nextHop
	rw             fastpath.Rewrite
	packets, bytes uint64 // the kernel's counts already given to the engine
	seen           uint64 // the sweep that last found it in the map
	since          uint64 // kernel: the sweep before its adoption
}

// offloader owns the fast path's flow map on gvsd's side.
type offloader struct {
	fp      *fastpath.FastPath
	eng     *ipvs.Engine
	ew      *ipvs.Worker // its own engine handle: the counters it adds
	reqs    chan offloadReq
	flushes chan struct{}
	adopts  adoptQueue
	entries map[fastpath.Key]*offloaded
	sweeps  uint64
	ks      *kernelScheduler // nil: off (ksched.go)
	batch   []offloadReq     // adoptQueued's buffer
	replies []sweptEntry     // a sweep's kernel-scheduled NAT reply entries, touched last

	log   *slog.Logger
	stats fastPathStats
}

// fastPathStats are what the offloader reports (Dataplane.FastPath);
// atomic, as the metrics read them from another goroutine.
type fastPathStats struct {
	entries atomic.Uint64 // entries held (set after each step)
	// events since start
	installed  atomic.Uint64 // entries written for flows gvsd scheduled
	adopted    atomic.Uint64 // entries of connections the kernel scheduled, recorded
	refused    atomic.Uint64 // entries not written (the map full); the first is logged
	slowSteps  atomic.Uint64 // sweeps or flushes that ran late or long (logged)
	walkFailed atomic.Uint64 // sweeps whose walk of the map failed; the first is logged
}

// FastPath reports the kernel fast path: the flows it forwards now and
// its events since gvsd started, by kind; ok is false when it is off.
func (d *Dataplane) FastPath() (entries uint64, events map[string]uint64, ok bool) {
	if d.off == nil {
		return 0, nil, false
	}
	st := &d.off.stats
	return st.entries.Load(), map[string]uint64{
		"installed": st.installed.Load(), "adopted": st.adopted.Load(), "refused": st.refused.Load(),
		"slow_step": st.slowSteps.Load(), "walk_failed": st.walkFailed.Load(),
	}, true
}

// openFastPath loads the fast path and attaches it to every data-path
// interface. Where the kernel refuses (no privileges, no BPF or TCX) it
// says so once and every packet takes the user-space path.
// GVS_FASTPATH=off turns it off (for measurements).
func (d *Dataplane) openFastPath() {
	fp, ok := openOnInterfaces(d, "GVS_FASTPATH", "kernel fast path for established connections", "forwarding every packet in user space",
		func() (*fastpath.FastPath, error) { return fastpath.Open(maxOffloaded) })
	if !ok {
		return
	}
	d.off = &offloader{
		fp: fp, eng: d.eng, ew: d.eng.NewWorker(),
		reqs: make(chan offloadReq, 1024), flushes: make(chan struct{}, 1),
		adopts:  adoptQueue{kick: make(chan struct{}, 1)},
		entries: map[fastpath.Key]*offloaded{}, log: d.log,
	}
	switch {
	case d.cfg.KernelScheduling && d.cfg.Fanout == FanoutByCPU:
		// the engine records a kernel-scheduled connection from its SYN's
		// copy, which must come before the connection's later packets:
		// only the flow fanout keeps a flow on one worker, in order
		d.log.Warn("kernel scheduling is off: it needs the flow fanout (fanout: flow), not fanout: cpu")
	case d.cfg.KernelScheduling:
		replyMTU := 0
		for _, x := range d.ifs {
			if !x.loop && (replyMTU == 0 || x.mtu < replyMTU) {
				replyMTU = x.mtu
			}
		}
		ring, err := fp.SYNRing()
		if err != nil {
			// the program's records would reach no one: the SYNs stay gvsd's
			d.log.Warn("kernel scheduling is off: its SYN records cannot be read", "err", err)
			return
		}
		d.syns = &synRecords{ring: ring}
		d.closers = append(d.closers, ring.Close)
		d.off.ks = newKernelScheduler(replyMTU)
	}
}

// flushFastPath hands every offloaded flow back to the workers (after a
// configuration change: a deleted real server, a changed method or port).
func (d *Dataplane) flushFastPath() {
	if d.off == nil {
		return
	}
	select {
	case d.off.flushes <- struct{}{}:
	default:
	}
}

// run installs the workers' requests and sweeps until ctx ends, then
// empties the map.
// A sweep reads every entry (about 260 ns each: 26 ms for 100,000), so
// with many entries the sweeps are spaced to take at most a tenth of the
// offloader's time.
func (o *offloader) run(ctx context.Context) {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	adoptLater := time.NewTimer(time.Hour)
	adoptLater.Stop()
	armed := false
	var last time.Time
	var took time.Duration
	for ; ; o.stats.entries.Store(uint64(len(o.entries))) {
		select {
		case <-ctx.Done():
			o.adoptQueued()
			o.sweep(true)
			return
		case r := <-o.reqs:
			o.handle(r)
		case <-o.adopts.kick:
			if !armed {
				adoptLater.Reset(adoptDelay)
				armed = true
			}
		case <-adoptLater.C:
			armed = false
			o.adoptQueued()
		case <-o.flushes:
			start := time.Now()
			o.adoptQueued()
			o.sweep(true)
			o.slow("flush", start, start)
		case now := <-tick.C:
			if now.Sub(last) < 10*took {
				continue
			}
			start := time.Now()
			o.adoptQueued()
			o.sweep(false)
			o.slow("sweep", now, start)
			last, took = time.Now(), time.Since(now)
		}
	}
}

// slowStep is how late or long one offloader step may be before it is
// logged: new flows wait in user space for their entries meanwhile, and
// the sweeps keep the engine's timers of offloaded connections fed.
// (An e2e run saw a few flows' entries come hundreds of milliseconds
// late, cause not established; this says where the time went.)
const slowStep = 200 * time.Millisecond

// slow logs a step that started late (due, when it was due) or took long.
func (o *offloader) slow(step string, due, start time.Time) {
	late, took := start.Sub(due), time.Since(start)
	if late > slowStep || took > slowStep {
		o.stats.slowSteps.Add(1)
		o.log.Warn("kernel fast path: the offloader was slow", "step", step, "late", late.Round(time.Millisecond), "took", took.Round(time.Millisecond), "entries", len(o.entries))
	}
}

// adoptDelay is how long the offloader lets the workers' adoptions
// (reqAdopt) gather before it records them: they are bookkeeping, the
// kernel forwards the connection meanwhile, and waking the offloader for
// each new connection cost more than its work (a thread wake-up, often
// of an idle CPU, per connection).
const adoptDelay = 4 * time.Millisecond

// maxQueuedAdopts bounds the queue; past it an adoption is dropped, and
// the sweep records the entry after its grace (ksched.go, unrecorded).
const maxQueuedAdopts = 1 << 16

// adoptQueue holds the workers' adoptions until the offloader takes them
// in a batch. A worker wakes the offloader (kick) only when the queue was
// empty.
type adoptQueue struct {
	mu   sync.Mutex
	q    []offloadReq
	kick chan struct{}
}

// push queues r; false when the queue is full.
func (a *adoptQueue) push(r offloadReq) bool {
	a.mu.Lock()
	n := len(a.q)
	if n < maxQueuedAdopts {
		a.q = append(a.q, r)
	}
	a.mu.Unlock()
	if n == 0 {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
	return n < maxQueuedAdopts
}

// take empties the queue into buf.
func (a *adoptQueue) take(buf []offloadReq) []offloadReq {
	a.mu.Lock()
	buf = append(buf[:0], a.q...)
	a.q = a.q[:0]
	a.mu.Unlock()
	return buf
}

// adoptQueued records every queued adoption.
func (o *offloader) adoptQueued() {
	o.batch = o.adopts.take(o.batch)
	for _, r := range o.batch {
		o.adopt(r)
	}
	clear(o.batch) // no flows or next hops kept alive by the buffer
}

// handle carries out one worker request.
func (o *offloader) handle(r offloadReq) {
	switch r.kind {
	case reqOffload:
		o.install(r)
	case reqRetire:
		o.retireScheduled(r.key)
	case reqLearn:
		o.learn(r)
	}
}

// install writes one flow's entry, unless it is there already with the
// same forwarding and still taking packets.
func (o *offloader) install(r offloadReq) {
	if o.entries[r.key] == nil && o.ks != nil {
		// the kernel may have scheduled this connection, with its
		// adoption still waiting in the queue (adoptDelay): record it
		// first, or the entry would be written over and what it has
		// counted lost
		o.adoptQueued()
	}
	if e := o.entries[r.key]; e != nil {
		if c, ok := o.fp.Lookup(r.key); ok && c.Deadline != 0 && e.rw == r.rw && e.hop == r.hop {
			return // live: a packet the programs left to the workers (TTL, size)
		}
		// a new connection on the same ports, or a new next hop: settle
		// the old entry's counts first
		o.retire(r.key, e, o.now())
	}
	if len(o.entries) >= maxOffloaded {
		o.refuse(errFlowMapFull) // no system call that would fail
		return
	}
	if !o.ew.Touch(&r.flow, r.reply, -1, 0, 0) {
		return // no longer offloadable since the worker asked
	}
	if err := o.fp.Add(r.key, r.rw); err != nil {
		o.refuse(err)
		return
	}
	o.entries[r.key] = &offloaded{flow: r.flow, reply: r.reply, hop: r.hop, rw: r.rw}
	o.stats.installed.Add(1)
}

// errFlowMapFull: the offloader holds maxOffloaded entries.
var errFlowMapFull = errors.New("the flow map is full")

// refuse counts a flow left in user space because its entry could not be
// written, and logs the first.
func (o *offloader) refuse(err error) {
	if o.stats.refused.Add(1) == 1 {
		o.log.Warn("kernel fast path: an entry was refused (map full?); such flows stay in user space", "err", err)
	}
}

// retire deletes entry e and gives the engine its last counts (nil e:
// an entry that is not ours, a previous gvsd's).
func (o *offloader) retire(k fastpath.Key, e *offloaded, now clocks) {
	if c, ok := o.fp.Take(k); ok && e != nil {
		o.touch(e, c, now)
	}
	delete(o.entries, k)
}

// touch reports an entry's new counts to the engine; false when its
// connection is gone or may no longer be offloaded.
func (o *offloader) touch(e *offloaded, c fastpath.Counters, now clocks) bool {
	pkts, bytes := c.Packets-e.packets, c.Bytes-e.bytes
	e.packets, e.bytes = c.Packets, c.Bytes
	last := int64(-1)
	if pkts > 0 && c.Deadline != 0 {
		// the last packet came when the deadline was last pushed
		age := now.kernel - (c.Deadline - c.Timeout)
		last = now.engine - int64(max(age, 0))
	}
	var keep bool
	if e.kernel {
		var opening bool
		keep, opening = o.ew.TouchKernel(&e.flow, e.reply, last, pkts, bytes)
		// adopted since the last sweep and not established yet: its ACK
		// may be on its way, so it is judged at the next sweep
		keep = keep || opening && o.sweeps-e.since < 2
	} else {
		keep = o.ew.Touch(&e.flow, e.reply, last, pkts, bytes)
	}
	return keep && c.Deadline != 0 && !e.hop.stale.Load()
}

// clocks are the kernel programs' clock and the engine's, read together.
type clocks struct {
	kernel time.Duration
	engine int64
}

func (o *offloader) now() clocks { return clocks{fastpath.Now(), o.eng.Now()} }

// sweep reads every entry's counters; with all, it deletes every entry.
// An entry the program retired (a SYN, FIN or RST, or its deadline passed:
// its deadline is then 0) counts no more packets, so the counts this
// sweep read are its last (short of a packet another CPU was counting in
// the very instant of the retirement and the read), and such entries go
// in one system call (fastpath.Delete). Any other entry to delete (its
// connection is gone or closing, its next hop changed) may still be
// forwarding: it is deleted with its last counts in the same system call
// (fastpath.Take, Drain), so a packet forwarded between this sweep's read
// and the delete is still counted. (At kernel-scheduled NAT connections'
// rates, a system call per closed connection's forward entry was about a
// tenth of gvsd's CPU.)
func (o *offloader) sweep(all bool) {
	o.sweeps++
	now := o.now()
	if all {
		planned := o.unschedule() // the configuration changed: plan again below
		defer o.plan()
		if len(planned) > 0 {
			// connections the kernel scheduled that no worker has
			// recorded yet: the engine takes them over where the kernel
			// sent them, while their entries still tell a worker reading
			// a SYN's copy the kernel's choice; otherwise the copy would
			// be scheduled again, maybe elsewhere
			_ = o.fp.Walk(func(k fastpath.Key, c fastpath.Counters) {
				if o.entries[k] == nil && c.Dest != 0 {
					o.record(planned, k, c)
				}
			})
		}
		_ = o.fp.Drain(func(k fastpath.Key, c fastpath.Counters) {
			if e := o.entries[k]; e != nil {
				o.touch(e, c, now)
			}
		})
		clear(o.entries)
		return
	}
	o.plan()
	var done, retired []fastpath.Key
	drop := func(k fastpath.Key, c fastpath.Counters) {
		if c.Deadline == 0 {
			retired = append(retired, k) // the program retired it
		} else {
			done = append(done, k)
		}
	}
	o.replies = o.replies[:0]
	err := o.fp.Walk(func(k fastpath.Key, c fastpath.Counters) {
		e := o.entries[k]
		if e != nil {
			e.seen = o.sweeps
			if e.kernel && e.reply {
				// after the forward entries: their packets may make the
				// connection established (TouchKernel)
				o.replies = append(o.replies, sweptEntry{k, c})
				return
			}
		} else if o.unrecorded(k, c) {
			return // the kernel scheduled it; the worker's record is on its way
		}
		if e == nil || !o.touch(e, c, now) {
			drop(k, c)
		}
	})
	for _, r := range o.replies {
		if !o.touch(o.entries[r.key], r.c, now) {
			drop(r.key, r.c)
		}
	}
	if len(retired) > 0 {
		if derr := o.fp.Delete(retired); derr != nil {
			done = append(done, retired...) // one by one, then
		} else {
			for _, k := range retired {
				delete(o.entries, k)
			}
		}
	}
	for _, k := range done {
		o.retire(k, o.entries[k], now)
	}
	if err != nil {
		// an entry the walk did not reach is not gone: forgetting it
		// would lose its counts when it is deleted later
		if o.stats.walkFailed.Add(1) == 1 {
			o.log.Warn("kernel fast path: reading the flow map failed; entries not read are kept", "err", err)
		}
		return
	}
	for k, e := range o.entries {
		if e.seen != o.sweeps {
			delete(o.entries, k) // gone from the map
		}
	}
}

// offload asks for the flow of ep to be forwarded by the kernel from now
// on, as this packet was: to next hop hop, with the tunnel's mark and
// overhead for a TUN real server, mtu the largest IP packet that may leave
// without a decision. The worker checked offloadable before the packet was
// rewritten.
func (w *worker) offload(ep *ipvs.Packet, hop *nextHop, mark uint32, overhead, mtu int) {
	if hop.held != nil {
		return // no link-layer address yet
	}
	k, rw, ok := flowRewrite(ep, hop, mark, overhead, mtu)
	if !ok {
		return // NAT across families: not a rewrite the programs make
	}
	select {
	case w.d.off.reqs <- offloadReq{key: k, rw: rw, flow: ep.Flow, reply: ep.Reply, hop: hop}:
	default: // the offloader is busy: a later packet asks again
	}
}

// flowKey is flow f's fast-path key.
func flowKey(f *ipvs.Flow) fastpath.Key {
	return fastpath.Key{Src: f.Src.Netip(f.Family), Dst: f.Dst.Netip(f.Family), SrcPort: f.SrcPort, DstPort: f.DstPort, Proto: uint8(f.Protocol)}
}

// flowRewrite is the fast-path key and rewrite of ep's flow as the worker
// forwarded its packet to hop; false for a rewrite the programs cannot
// make (NAT across families).
func flowRewrite(ep *ipvs.Packet, hop *nextHop, mark uint32, overhead, mtu int) (fastpath.Key, fastpath.Rewrite, bool) {
	v := &ep.Verdict
	f := &ep.Flow
	k := flowKey(f)
	rw := fastpath.Rewrite{
		Src: k.Src, Dst: k.Dst, SrcPort: k.SrcPort, DstPort: k.DstPort,
		Ifindex: hop.ifindex, DstMAC: hop.dst, SrcMAC: hop.src, Mark: mark,
		MTU: mtu, Overhead: overhead, Timeout: time.Duration(v.Timeout) * time.Millisecond,
	}
	switch {
	case ep.Reply:
		rw.Src, rw.SrcPort = v.VAddr.Netip(f.Family), v.VPort
	case v.Method == ipvs.Masq:
		rw.Dst, rw.DstPort = v.Dest.Netip(v.DestFamily), v.DestPort
	}
	return k, rw, rw.Src.Is4() == k.Src.Is4() && rw.Dst.Is4() == k.Src.Is4()
}

// offloadTunnel asks for the flow of ep (p its inner packet) to be
// forwarded by the kernel to tunnel t: the fast path sets the tunnel's
// mark and the TC egress program of kernel encapsulation (kencap.go)
// encapsulates, when it can write this tunnel.
func (w *worker) offloadTunnel(ep *ipvs.Packet, p *packet.Packet, t *packet.Tunnel, hop *nextHop) {
	if mark, overhead, mtu, ok := w.encapMark(p, t); ok {
		w.offload(ep, hop, mark, overhead, mtu)
	}
}

// learnTunnel is learnHop for a new connection's tunnel the TC
// encapsulation can write (kernel scheduling).
func (w *worker) learnTunnel(ep *ipvs.Packet, p *packet.Packet, t *packet.Tunnel, hop *nextHop) {
	if w.d.off == nil || w.d.off.ks == nil || !ep.Verdict.NewConn {
		return
	}
	if mark, overhead, mtu, ok := w.encapMark(p, t); ok {
		w.learnHop(ep, hop, mark, overhead, mtu)
	}
}

// encapMark is how the kernel forwards p (an inner packet) into tunnel
// t: the skb mark for the TC encapsulation, the tunnel's overhead and the
// inner MTU; false when the TC encapsulation cannot write this tunnel.
func (w *worker) encapMark(p *packet.Packet, t *packet.Tunnel) (mark uint32, overhead, mtu int, ok bool) {
	if _, ok := kernelKind(t); !ok || w.kenc.tx == nil {
		return 0, 0, 0, false
	}
	if mark = w.tunnelMark(t); mark == 0 {
		return 0, 0, 0, false
	}
	return mark | tcencap.ShrinkGSO, t.Overhead(p), t.InnerMTU(p), true
}

// offloadable reports whether the kernel's programs could forward packets
// like p of ep's flow: the engine allows it, and p is an untagged TCP or
// UDP packet, IPv4 without options or fragmentation or IPv6 without
// extension headers (not a UDP super-frame), that came in on an attached
// interface, as the fast path's program checks.
func (w *worker) offloadable(in *iface, p *packet.Packet, ep *ipvs.Packet) bool {
	if w.d.off == nil || !ep.Verdict.Offload || in.loop || ep.Verdict.Action != ipvs.ActionForward {
		return false
	}
	hdr := 20 // IPv4 without options; IPv6 without extension headers
	if p.Key.Family == packet.IPv6 {
		hdr = 40
	}
	if p.NumVLAN != 0 || p.L3Off != packet.EtherHeaderLen || p.L4Off != packet.EtherHeaderLen+hdr || p.Frag.More || p.Frag.Offset != 0 {
		return false
	}
	switch p.Key.Proto {
	case packet.ProtoTCP:
		return p.TCPFlags&(ipvs.TCPFin|ipvs.TCPSyn|ipvs.TCPRst) == 0
	case packet.ProtoUDP:
		typ, _ := p.GSO()
		return typ == packet.GSONone
	}
	return false
}
