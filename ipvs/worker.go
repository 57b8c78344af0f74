package ipvs

import (
	"sync/atomic"
)

// PacketInfo is what the state machines need from a packet besides its flow.
type PacketInfo struct {
	TCPFlags uint8 // TCP header flag byte (FIN, SYN, RST, ACK...)
	// SCTPChunk is the first chunk's type, or ABORT when a COOKIE ECHO or
	// COOKIE ACK is followed by an ABORT in the same packet (IPVS looks at both).
	SCTPChunk uint8
	Bytes     uint32 // length counted in the byte statistics (the IP packet)
	// Payload is the transport payload; only persistence engines read it
	// (the SIP engine looks for the Call-ID).
	Payload []byte
	// KernelDest is the destination a kernel scheduler already sent this
	// new connection's first packet to (Engine.KernelPlans): the
	// connection is bound to it rather than scheduled again, if the
	// destination is still the service's and available. On a later
	// packet (not an RST) of a connection the engine has no entry for, it
	// creates the entry, as the SYN would have: the SYN's record was lost.
	// 0: none.
	KernelDest uint32
}

// Action is what the data path must do with a packet.
type Action uint8

const (
	// ActionPass: the packet belongs to no virtual service; leave it to the kernel.
	ActionPass Action = iota
	// ActionForward: send it to the real server in the verdict (client
	// side), or rewrite its source to the service (NAT reply).
	ActionForward
	// ActionDrop: drop it and count Reason.
	ActionDrop
	// ActionReject: no real server may take the connection; answer the
	// client with ICMP port unreachable, as IPVS does (ip_vs_leave).
	ActionReject
)

func (a Action) String() string {
	switch a {
	case ActionPass:
		return "pass"
	case ActionForward:
		return "forward"
	case ActionDrop:
		return "drop"
	case ActionReject:
		return "reject"
	}
	return "?"
}

// DropReason says why the engine refused a packet. The data path counts them.
type DropReason uint8

const (
	DropNone DropReason = iota
	// DropNoConn: a packet of a virtual service that matches no connection
	// and cannot start one (a TCP segment without SYN, say). The data
	// path may answer with a TCP reset.
	DropNoConn
	// DropNoDest: the connection's real server was deleted.
	DropNoDest
	// DropTableFull: the connection table is at its cap.
	DropTableFull
	// DropDefense: drop_packet defense while overloaded.
	DropDefense
	// DropSourceLimit: the client has reached the per-source limit.
	DropSourceLimit
	// DropPersistence: the persistence engine refused the packet.
	DropPersistence
	// DropNotMasq: a reply through the director for a connection that is not NAT.
	DropNotMasq
	NumDropReasons
)

var dropNames = [NumDropReasons]string{
	"none", "no_connection", "destination_deleted", "table_full", "defense_drop_packet",
	"source_limit", "persistence_engine", "reply_not_masq",
}

func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// Verdict tells the data path how to forward one packet.
type Verdict struct {
	Action Action
	Reason DropReason
	// Forwarding holds the method and tunnel settings of the real server.
	Forwarding
	DestFamily Family
	Dest       Addr   // the real server
	DestPort   uint16 // NAT: new destination port
	VAddr      Addr   // the virtual address (NAT replies: new source)
	VPort      uint16 // the virtual port (NAT replies: new source port)
	DestID     uint32
	NewConn    bool // the packet created the connection
	// Offload: the connection has settled (TCP established, or UDP; not a
	// template) and seen OffloadAfter client packets, so the data path
	// may forward its later packets without asking, reporting them with
	// Touch. Timeout is the connection's current timeout (ms).
	Offload bool
	Timeout uint32
}

// OffloadAfter is the number of client packets a connection has before
// Verdict.Offload is set: a short connection (one request) is over before
// handing it to a fast path would pay.
const OffloadAfter = 8

func offloadable(c *connEntry, d *Dest) bool {
	return c.inPkts >= OffloadAfter && forwardable(c, d)
}

// forwardable says whether a fast path may go on forwarding connection c
// to d: an established TCP connection or a UDP one (servable).
func forwardable(c *connEntry, d *Dest) bool {
	return servable(c, d) && (c.proto == ProtoUDP || (c.proto == ProtoTCP && c.state == TCPEstablished))
}

// servable: connection c is not a template nor one-packet, and its real
// server d is there and available.
func servable(c *connEntry, d *Dest) bool {
	return d != nil && d.Available() && c.flags&(ConnTemplate|ConnOnePacket) == 0
}

// Worker is one packet worker's handle on the engine. Each worker owns its
// counters, so counting a packet touches no shared cache line; readers sum
// the workers. A Worker must be used by one goroutine at a time.
type Worker struct {
	e *Engine

	destSlots []counterSlot
	destPub   atomic.Pointer[[]counterSlot]
	svcSlots  []counterSlot
	svcPub    atomic.Pointer[[]counterSlot]
	total     counterSlot
	drops     [NumDropReasons]atomic.Uint64

	rng uint64
}

// NewWorker registers a packet worker.
func (e *Engine) NewWorker() *Worker {
	w := &Worker{e: e, rng: uint64(len(*e.workers.Load())+1) * 0x9e3779b97f4a7c15}
	e.workersMu.Lock()
	list := append(append([]*Worker(nil), *e.workers.Load()...), w)
	e.workers.Store(&list)
	e.workersMu.Unlock()
	return w
}

// Drops returns this worker's drop counts by reason.
func (w *Worker) Drops() (out [NumDropReasons]uint64) {
	for i := range out {
		out[i] = w.drops[i].Load()
	}
	return out
}

func (w *Worker) drop(r DropReason) Verdict {
	w.drops[r].Store(w.drops[r].Load() + 1)
	return Verdict{Action: ActionDrop, Reason: r}
}

// slots returns this worker's counters for a destination and its service,
// growing the arrays when the registries have grown.
func (w *Worker) slots(d *Dest) (*counterSlot, *counterSlot) {
	if int(d.id) >= len(w.destSlots) {
		n := make([]counterSlot, w.e.destReg.limit()+16)
		for i := range w.destSlots {
			n[i].store(w.destSlots[i].read())
		}
		w.destSlots = n
		w.destPub.Store(&n)
	}
	sid := d.svc.id
	if int(sid) >= len(w.svcSlots) {
		n := make([]counterSlot, w.e.svcReg.limit()+16)
		for i := range w.svcSlots {
			n[i].store(w.svcSlots[i].read())
		}
		w.svcSlots = n
		w.svcPub.Store(&n)
	}
	return &w.destSlots[d.id], &w.svcSlots[sid]
}

func (w *Worker) countIn(d *Dest, bytes uint32) { w.countInN(d, 1, uint64(bytes)) }

// countInN counts pkts client packets of bytes in all (one packet here, a
// fast path's share at a sweep).
func (w *Worker) countInN(d *Dest, pkts, bytes uint64) {
	if d == nil || !d.Available() {
		return
	}
	ds, ss := w.slots(d)
	ds.addInN(pkts, bytes)
	ss.addInN(pkts, bytes)
	w.total.addInN(pkts, bytes)
}

func (w *Worker) countOut(d *Dest, bytes uint32) { w.countOutN(d, 1, uint64(bytes)) }

func (w *Worker) countOutN(d *Dest, pkts, bytes uint64) {
	if d == nil || !d.Available() {
		return
	}
	ds, ss := w.slots(d)
	ds.addOutN(pkts, bytes)
	ss.addOutN(pkts, bytes)
	w.total.addOutN(pkts, bytes)
}

func (w *Worker) countConn(d *Dest) {
	ds, ss := w.slots(d)
	ds.addConn()
	ss.addConn()
	w.total.addConn()
}

// isNewConnPacket reports whether a packet may start a connection (TCP SYN,
// SCTP INIT), which is when conn_reuse_mode matters.
func isNewConnPacket(proto Protocol, pi *PacketInfo) bool {
	switch proto {
	case ProtoTCP:
		return pi.TCPFlags&TCPSyn != 0
	case ProtoSCTP:
		return pi.SCTPChunk == SCTPChunkInit
	}
	return false
}

// newConnExpected reports whether a new connection may replace c on a
// reused client port (is_new_conn_expected).
func newConnExpected(c *connEntry, mode int) bool {
	if c.control != 0 {
		return false
	}
	switch c.proto {
	case ProtoTCP:
		return c.state == TCPTimeWait ||
			(mode&2 != 0 && c.state == TCPFinWait && c.flags&ConnNoOutput != 0)
	case ProtoSCTP:
		return c.state == SCTPClosed
	}
	return false
}

// Knows reports whether the engine has a connection for f, a client's
// packet (as In finds it), without touching it.
func (w *Worker) Knows(f *Flow) bool {
	h := w.e.table.hashKey(f.Protocol, f.Family, &f.Src, f.SrcPort, false)
	sh, _ := w.e.table.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.findIn(uint32(h), f) != 0
}

// In handles a packet from a client towards a virtual service (IPVS's
// ip_vs_in): it follows an existing connection or schedules a new one.
// now is the engine clock (Engine.Now), read once per batch by the caller.
func (w *Worker) In(f *Flow, pi *PacketInfo, now int64) Verdict {
	return w.in(f, pi, now, w.e.table.hashKey(f.Protocol, f.Family, &f.Src, f.SrcPort, false))
}

func (w *Worker) in(f *Flow, pi *PacketInfo, now int64, h uint64) Verdict {
	e := w.e
	sh, _ := e.table.shardOf(h)
	tag := uint32(h)
	opts := e.opts.Load()

	sh.mu.Lock()
	idx := sh.findIn(tag, f)
	if idx != 0 && pi.KernelDest != 0 && sh.entry(idx).destID != pi.KernelDest && isNewConnPacket(f.Protocol, pi) {
		// the kernel scheduled a new connection on an old one's ports: its
		// choice is where the packet went, so the old entry gives way
		ctl := e.unlinkConn(sh, idx, true)
		sh.mu.Unlock()
		e.dropControl(ctl)
		return w.schedule(f, pi, now, opts, h)
	}
	if idx != 0 && opts.ConnReuseMode != 0 && isNewConnPacket(f.Protocol, pi) {
		c := sh.entry(idx)
		d := e.dest(c.destID)
		// A SYN on a reused port: start over rather than stall (IPVS drops
		// the SYN when conntrack is in use, and the client waits a second).
		if (opts.ExpireNodestConn && d != nil && (d.Weight() == 0 || !d.Available())) ||
			newConnExpected(c, opts.ConnReuseMode) {
			ctl := e.unlinkConn(sh, idx, true)
			sh.mu.Unlock()
			e.dropControl(ctl)
			return w.schedule(f, pi, now, opts, h)
		}
	}
	if idx == 0 {
		sh.mu.Unlock()
		return w.schedule(f, pi, now, opts, h)
	}
	c := sh.entry(idx)
	d := e.dest(c.destID)
	if d != nil && !d.Available() {
		var ctl ConnRef
		if opts.ExpireNodestConn {
			ctl = e.unlinkConn(sh, idx, true)
		}
		sh.mu.Unlock()
		e.dropControl(ctl)
		return w.drop(DropNoDest)
	}
	w.countIn(d, pi.Bytes)
	assured := e.transition(c, dirInput, pi, d)
	sh.wheelRefresh(idx, c, expiryTick(now, c.timeout))
	c.inPkts++
	v := verdictOf(c, d)
	v.Offload, v.Timeout = offloadable(c, d), c.timeout
	ctl := c.control
	sh.mu.Unlock()
	if assured {
		e.assureTemplate(ctl)
	}
	return v
}

// Out handles a packet from a real server towards a client: a NAT reply
// is translated back to the virtual service (ip_vs_out).
func (w *Worker) Out(f *Flow, pi *PacketInfo, now int64) Verdict {
	return w.out(f, pi, now, w.e.table.hashKey(f.Protocol, f.Family, &f.Dst, f.DstPort, false))
}

func (w *Worker) out(f *Flow, pi *PacketInfo, now int64, h uint64) Verdict {
	e := w.e
	sh, _ := e.table.shardOf(h)
	sh.mu.Lock()
	idx := sh.findOut(uint32(h), f)
	if idx == 0 {
		sh.mu.Unlock()
		return Verdict{Action: ActionPass}
	}
	c := sh.entry(idx)
	if c.flags.Method() != Masq {
		sh.mu.Unlock()
		return Verdict{Action: ActionPass}
	}
	d := e.dest(c.destID)
	w.countOut(d, pi.Bytes)
	assured := e.transition(c, dirOutput, pi, d)
	sh.wheelRefresh(idx, c, expiryTick(now, c.timeout))
	v := verdictOf(c, d)
	v.Offload, v.Timeout = offloadable(c, d), c.timeout
	ctl := c.control
	sh.mu.Unlock()
	if assured {
		e.assureTemplate(ctl)
	}
	return v
}

// Touch accounts for packets a fast path forwarded on its own for a
// connection it was allowed to (Verdict.Offload): pkts and bytes go to
// the statistics (while the connection exists, whatever its state now),
// and the timer restarts from last, the engine-clock time of the latest
// of them (negative: no time), unless it already runs later. reply says
// which direction they took (a NAT reply, found as Out finds it). It
// reports false when the connection is gone or may no longer be
// offloaded (its state changed, its real server was deleted or found
// down): the fast path must then hand its packets back.
func (w *Worker) Touch(f *Flow, reply bool, last int64, pkts, bytes uint64) bool {
	keep, _ := w.touch(f, reply, last, pkts, bytes, false)
	return keep
}

// TouchKernel is Touch for the entries of a connection a kernel
// scheduler opened (PacketInfo.KernelDest), whose SYN is all the engine
// saw of it. Client packets the kernel forwarded after that SYN (pkts >
// 0 in the forward direction) carried an ACK, since a SYN, FIN or RST
// always comes to the engine: like that ACK, they take the connection
// from SYN_RECV to ESTABLISHED. Its entries then stay without the
// OffloadAfter client packets a connection the engine scheduled must
// show first (they are written already; taking them back costs more). A
// half-open connection, with no packet after its SYN, is not kept;
// opening says that this alone keeps it (the caller may give it until its
// ACK can have come), so a SYN flood's entries leave the fast path. A NAT
// reply entry is kept only once the connection is established: touch the
// forward direction first.
func (w *Worker) TouchKernel(f *Flow, reply bool, last int64, pkts, bytes uint64) (keep, opening bool) {
	return w.touch(f, reply, last, pkts, bytes, true)
}

func (w *Worker) touch(f *Flow, reply bool, last int64, pkts, bytes uint64, kernel bool) (keep, opening bool) {
	e := w.e
	var h uint64
	if reply {
		h = e.table.hashKey(f.Protocol, f.Family, &f.Dst, f.DstPort, false)
	} else {
		h = e.table.hashKey(f.Protocol, f.Family, &f.Src, f.SrcPort, false)
	}
	sh, _ := e.table.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var idx uint32
	if reply {
		idx = sh.findOut(uint32(h), f)
	} else {
		idx = sh.findIn(uint32(h), f)
	}
	if idx == 0 {
		return false, false
	}
	c := sh.entry(idx)
	d := e.dest(c.destID)
	if reply && c.flags.Method() != Masq {
		return false, false
	}
	// the packets were forwarded for this connection: counted even when
	// it has just left the fast path (a FIN retired its entry)
	if reply {
		w.countOutN(d, pkts, bytes)
	} else {
		w.countInN(d, pkts, bytes)
		c.inPkts = uint32(min(uint64(c.inPkts)+pkts, 1<<32-1))
	}
	if kernel {
		if !reply && pkts > 0 && c.proto == ProtoTCP && c.state == TCPSynRecv {
			// no template to assure: a kernel scheduler never takes a
			// persistent service (KernelPlans)
			e.transition(c, dirInput, &PacketInfo{TCPFlags: TCPAck}, d)
		}
		if !forwardable(c, d) {
			return false, c.proto == ProtoTCP && c.state == TCPSynRecv && servable(c, d)
		}
	} else if !offloadable(c, d) {
		return false, false
	}
	if exp := expiryTick(last, c.timeout); last >= 0 && int32(exp-c.expires) > 0 {
		sh.wheelRefresh(idx, c, exp)
	}
	return true, false
}

// Related finds the connection an ICMP error refers to, without changing
// its state or timer. inner is the embedded packet's flow as it was sent:
// for an error from the client side (fromClient) it is a packet the
// director forwarded to the client, i.e. a reply (server to client); for an
// error from a real server it is a packet the client sent.
func (w *Worker) Related(inner *Flow, fromClient bool, bytes uint32) Verdict {
	e := w.e
	var f Flow
	if fromClient {
		// the embedded packet went VIP(or RIP) -> client; look up as the client's flow
		f = Flow{Family: inner.Family, Protocol: inner.Protocol, Src: inner.Dst, Dst: inner.Src, SrcPort: inner.DstPort, DstPort: inner.SrcPort, Mark: inner.Mark}
	} else {
		f = *inner
	}
	h := e.table.hashKey(f.Protocol, f.Family, &f.Src, f.SrcPort, false)
	sh, _ := e.table.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if fromClient {
		if idx := sh.findIn(uint32(h), &f); idx != 0 {
			c := sh.entry(idx)
			d := e.dest(c.destID)
			w.countIn(d, bytes)
			return verdictOf(c, d)
		}
		return Verdict{Action: ActionPass}
	}
	// From a real server: the embedded packet is client -> RIP (NAT) as the
	// server received it; find it by the out direction.
	out := Flow{Family: f.Family, Protocol: f.Protocol, Src: f.Dst, Dst: f.Src, SrcPort: f.DstPort, DstPort: f.SrcPort}
	if idx := sh.findOut(uint32(h), &out); idx != 0 {
		c := sh.entry(idx)
		if c.flags.Method() != Masq {
			return Verdict{Action: ActionPass}
		}
		d := e.dest(c.destID)
		w.countOut(d, bytes)
		return verdictOf(c, d)
	}
	return Verdict{Action: ActionPass}
}

func verdictOf(c *connEntry, d *Dest) Verdict {
	v := Verdict{
		Action: ActionForward, DestFamily: c.daf, DestPort: c.dport,
		VAddr: c.vaddr, VPort: c.vport, DestID: c.destID,
	}
	if d != nil {
		// the destination's address equals c.daddr; reading it from the
		// (cached) Dest keeps client packets on the entry's first cache line
		v.Dest = d.addr
		v.Forwarding = *d.fwd.Load()
	} else {
		v.Dest = c.daddr
	}
	v.Method = c.flags.Method()
	return v
}

// transition runs the protocol state machine for one packet and keeps the
// destination's ActiveConn/InActConn in step (set_tcp_state and friends).
// It reports whether the connection just proved itself (TCP or SCTP
// established, or a UDP reply seen), which marks its persistence template
// ASSURED (ip_vs_control_assure_ct).
func (e *Engine) transition(c *connEntry, dir direction, pi *PacketInfo, d *Dest) (assured bool) {
	if dir == dirOutput && c.proto == ProtoUDP {
		assured = true
	}
	if c.flags&ConnNoOutput != 0 {
		if dir == dirOutput {
			c.flags &^= ConnNoOutput
		} else {
			dir = dirInputOnly
		}
	}
	var next uint8
	switch c.proto {
	case ProtoTCP:
		tbl := &tcpStatesNormal
		if e.defense.secureTCP.Load() {
			tbl = &tcpStatesSecure
		}
		next = nextTCPState(tbl, dir, c.state, pi.TCPFlags)
	case ProtoSCTP:
		next = nextSCTPState(dir, c.state, pi.SCTPChunk)
	default:
		next = c.state
	}
	if next != c.state && (next == TCPEstablished && c.proto == ProtoTCP || next == SCTPEstablished && c.proto == ProtoSCTP) {
		assured = true
	}
	if next != c.state && d != nil {
		active := stateActive(c.proto, next)
		if c.flags&ConnInactive == 0 && !active {
			d.setActive(false)
			c.flags |= ConnInactive
		} else if c.flags&ConnInactive != 0 && active {
			d.setActive(true)
			c.flags &^= ConnInactive
		}
	}
	c.state = next
	c.timeout = e.timeouts.Load().forState(c.proto, next)
	return assured && c.control != 0
}

// templateAssured is the template state bit IPVS shows as ASSURED.
const templateAssured = 1

// assureTemplate marks a template ASSURED (called without other shard locks).
func (e *Engine) assureTemplate(ref ConnRef) {
	sh := &e.table.shards[ref.shard()]
	sh.mu.Lock()
	if c := sh.entry(ref.index()); c.flags&ConnTemplate != 0 {
		c.state |= templateAssured
	}
	sh.mu.Unlock()
}

// unlinkConn removes entry idx from its shard (locked by the caller) and
// releases what it holds. It returns the template the entry was
// controlled by, whose count the caller drops after unlocking (one shard
// lock at a time, so shards never deadlock).
func (e *Engine) unlinkConn(sh *shard, idx uint32, inWheel bool) ConnRef {
	c := sh.entry(idx)
	if c.flags&connUnhashed == 0 {
		sh.indexDelete(c.hash, idx)
	}
	if inWheel {
		sh.wheelRemove(idx, c)
	}
	if d := e.dest(c.destID); d != nil {
		d.unbindConn(c.flags&ConnTemplate != 0, c.flags&ConnInactive != 0)
	}
	if c.flags&connSrcCounted != 0 {
		e.sources.release(c.af, c.caddr)
	}
	ctl := c.control
	sh.release(idx)
	e.table.count.Add(-1)
	return ctl
}

// dropControl releases one controlled connection's hold on its template.
func (e *Engine) dropControl(ref ConnRef) {
	if ref == 0 {
		return
	}
	sh := &e.table.shards[ref.shard()]
	sh.mu.Lock()
	if c := sh.entry(ref.index()); c.nControl > 0 {
		c.nControl--
	}
	sh.mu.Unlock()
}
