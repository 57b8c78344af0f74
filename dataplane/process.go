//go:build linux

package dataplane

import (
	"net/netip"
	"sync"

	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/netctl"
	"github.com/govs/gvs/packet"
)

// The per-frame work of a worker: package packet parses, classifies and
// rewrites; the engine decides. Nothing here allocates on the forwarding
// path.

// dpState is what workers consult per packet, published by Sync.
type dpState struct {
	vips   map[ipvs.Addr]bool // addresses of virtual services: packets to them go to the engine
	natSrc map[ipvs.Addr]bool // NAT real servers: their packets may be replies
	owned  map[ipvs.Addr]bool // VIPs the director answers ARP/NDP for
	// localSrc: NAT real servers that are addresses of the director; their
	// replies come through lo
	localSrc map[ipvs.Addr]bool
	marks    []MarkRule
	// steered: the endpoints whose packets the steering rules keep from
	// the kernel (services by destination, NAT replies by source; port 0:
	// every port). Later fragments of a VIP or NAT real server are kept
	// from it whatever their ports.
	steered map[steerKey]bool
}

type steerKey struct {
	addr  ipvs.Addr
	proto ipvs.Protocol
	port  uint16
}

// steeredSet indexes the steering's service and NAT-reply endpoints.
func steeredSet(st *netctl.Steering) map[steerKey]bool {
	m := map[steerKey]bool{}
	for _, list := range [][]netctl.Endpoint{st.Services, st.NATReplies} {
		for _, e := range list {
			m[steerKey{ipvs.AddrFrom(e.Addr.Unmap()), ipvs.Protocol(e.Protocol), e.Port}] = true
		}
	}
	return m
}

// portSteered reports whether the steering rules keep a packet with this
// flow's addresses and ports from the kernel (for a later fragment: its
// first fragment, whose ports the fragment cache gave it).
func (st *dpState) portSteered(f *ipvs.Flow) bool {
	dst, src := steerKey{f.Dst, f.Protocol, f.DstPort}, steerKey{f.Src, f.Protocol, f.SrcPort}
	if st.steered[dst] || st.steered[src] {
		return true
	}
	dst.port, src.port = 0, 0
	return st.steered[dst] || st.steered[src]
}

// flowOf converts a packet's flow key to the engine's.
func flowOf(k *packet.FlowKey) ipvs.Flow {
	fam := ipvs.IPv4
	if k.Family == packet.IPv6 {
		fam = ipvs.IPv6
	}
	return ipvs.Flow{Family: fam, Protocol: ipvs.Protocol(k.Proto), Src: ipvs.Addr(k.Src), Dst: ipvs.Addr(k.Dst), SrcPort: k.SrcPort, DstPort: k.DstPort}
}

func isTransport(proto uint8) bool {
	return proto == packet.ProtoTCP || proto == packet.ProtoUDP || proto == packet.ProtoSCTP
}

// classify parses a frame into p and prepares its engine packet ep; false
// means the frame is not for the engine (handled here, or left to the
// kernel, which has its own copy).
func (w *worker) classify(in *iface, f *RxFrame, p *packet.Packet, ep *ipvs.Packet) bool {
	if f.Len == 0 {
		return false
	}
	b := f.Data()
	if r := packet.Parse(b, p); r != packet.DropNone {
		if f.Len < f.Orig {
			w.count(dropTruncated)
		} else {
			w.countParse(r) // the kernel drops it too; counted so floods show
		}
		return false
	}
	if p.IsARP() {
		if !in.loop {
			w.handleARP(in, b, p)
		}
		return false
	}
	if !p.IsIP() {
		return false
	}
	if f.Len < f.Orig {
		w.count(dropTruncated)
		return false
	}
	st := w.d.state.Load()
	if !in.loop {
		if p.Key.Proto == packet.ProtoICMPv6 && p.L4Off != 0 {
			switch p.ICMPType {
			case packet.ICMPv6NeighborSolic:
				w.handleNS(in, b, p, st)
				return false
			case packet.ICMPv6NeighborAdv:
				w.handleNA(in, b, p)
				return false
			}
		}
		if p.IsICMPError() {
			w.handleICMPError(in, f, p, st)
			return false
		}
	}
	if !isTransport(p.Key.Proto) {
		return false
	}
	if p.Frag.IsLater() && !w.d.frags.Lookup(p, w.now) {
		// no first fragment seen: no ports to find the connection by
		if st.vips[ipvs.Addr(p.Key.Dst)] || st.natSrc[ipvs.Addr(p.Key.Src)] {
			w.count(dropFragUnmatched)
		}
		return false
	}
	ep.Flow = flowOf(&p.Key)
	ep.Verdict = ipvs.Verdict{}
	if len(st.marks) > 0 {
		ep.Flow.Mark = markOf(st.marks, &ep.Flow)
	}
	if in.loop {
		// from lo, what the steering routed there: local processes'
		// packets to virtual services and local NAT real servers'
		// replies; everything else on lo is the kernel's own traffic
		switch {
		case ep.Flow.Mark != 0 || st.vips[ep.Flow.Dst]:
			ep.Reply = false
		case st.natSrc[ep.Flow.Src] && st.localSrc[ep.Flow.Src]:
			ep.Reply = true
		default:
			return false
		}
	} else {
		switch {
		case st.natSrc[ep.Flow.Src] && st.vips[ep.Flow.Dst] && ep.Flow.Mark == 0:
			// a VIP that is also a client address (the director's own
			// client of a local VIP): a reply unless it opens a service
			ep.Reply = !w.d.eng.MatchesService(&ep.Flow)
		case ep.Flow.Mark != 0 || st.vips[ep.Flow.Dst]:
			ep.Reply = false
		case st.natSrc[ep.Flow.Src]:
			ep.Reply = true
		default:
			return false
		}
	}
	var vh packet.VnetHeader
	vh.Decode(f.Vnet())
	if r := p.SetOffload(&vh); r != packet.DropNone {
		w.countParse(r)
		return false
	}
	if p.Frag.IsFirst() {
		w.d.frags.Add(p, w.now) // later fragments find the connection by these ports
	}
	ep.Info = ipvs.PacketInfo{TCPFlags: p.TCPFlags, SCTPChunk: p.SCTPChunk, Bytes: uint32(p.IPLen())}
	if f.KernelDest != 0 {
		ep.Info.KernelDest = f.KernelDest // a SYN record: the kernel's choice comes with it
	} else {
		ep.Info.KernelDest = w.kernelScheduled(in, b, p, ep)
	}
	if p.Key.Proto == packet.ProtoUDP && p.PayloadOff != 0 {
		ep.Info.Payload = b[p.PayloadOff : p.PayloadOff+p.PayloadLen()]
	}
	return true
}

// apply carries out the engine's verdict for one frame.
func (w *worker) apply(in *iface, f *RxFrame, p *packet.Packet, ep *ipvs.Packet) {
	v := &ep.Verdict
	b := f.Data()
	if ep.Info.KernelDest != 0 && p.TCPFlags&ipvs.TCPSyn != 0 {
		if w.kernelSent(in, b, p, ep) {
			return // the fast path's program scheduled it and the kernel forwarded it
		}
		if f.KernelDest != 0 {
			// a SYN record the engine overruled, sent after all: a copy
			// made in the kernel has no virtio-net header, and its
			// checksum may have been left to offload
			if r := packet.RecomputeChecksum(b, p); r != packet.DropNone {
				w.countParse(r)
				return
			}
		}
	}
	switch v.Action {
	case ipvs.ActionPass:
		st := w.d.state.Load()
		switch {
		case in.loop:
			if ep.Reply {
				w.passLocal(f, p, ep.Flow.Dst, ep.Flow.Family)
			}
		case !st.portSteered(&ep.Flow):
			if p.Frag.IsLater() && (st.vips[ep.Flow.Dst] || st.natSrc[ep.Flow.Src]) {
				// the kernel took the first fragment; the steering holds
				// every later one of these addresses, so hand it over
				w.deliverLocal(f, p)
			} // otherwise the kernel has its own copy
		case ep.Reply:
			w.passLocal(f, p, ep.Flow.Dst, ep.Flow.Family)
		}
		return
	case ipvs.ActionDrop:
		return // counted by the engine
	case ipvs.ActionReject:
		w.sendICMP(in, b, p, icmpUnreachable, 0, false)
		return
	}
	offload := w.offloadable(in, p, ep) // decided on the packet as it came
	if ep.Reply {                       // a NAT real server's reply: back to the client, from the VIP
		hop := w.hops.lookup(ep.Flow.Dst, ep.Flow.Family)
		switch {
		case hop == nil:
			w.count(dropNoNextHop)
		case hop.local: // a local client
			if w.refused(in, b, p, packet.RewriteSource(b, p, packet.Addr(v.VAddr), v.VPort), true) {
				return
			}
			w.deliverLocal(f, p)
		case w.fits(in, b, p, hop, true):
			if w.refused(in, b, p, packet.NATSource(b, p, packet.Addr(v.VAddr), v.VPort), true) {
				return
			}
			packet.RewriteMAC(b, hop.dst, hop.src)
			w.send(f, p, hop)
			if offload {
				w.offload(ep, hop, 0, 0, hop.mtu)
			}
		}
		return
	}
	switch v.Method {
	case ipvs.Masq:
		hop := w.hops.lookup(v.Dest, v.DestFamily)
		switch {
		case hop == nil:
			w.count(dropNoNextHop)
		case hop.local:
			if !w.refused(in, b, p, packet.RewriteDest(b, p, packet.Addr(v.Dest), v.DestPort), false) {
				w.deliverLocal(f, p)
			}
		case w.fits(in, b, p, hop, false):
			if w.refused(in, b, p, packet.NATDest(b, p, packet.Addr(v.Dest), v.DestPort), false) {
				return
			}
			packet.RewriteMAC(b, hop.dst, hop.src)
			w.send(f, p, hop)
			w.learnHop(ep, hop, 0, 0, hop.mtu)
			if offload {
				w.offload(ep, hop, 0, 0, hop.mtu)
			}
		}
		if v.NewConn {
			w.hops.lookup(ep.Flow.Src, ep.Flow.Family) // resolve the client's next hop before its reply comes
		}
	case ipvs.Route:
		hop := w.hops.lookup(v.Dest, v.DestFamily)
		if w.directRoute(in, f, p, hop) {
			w.learnHop(ep, hop, 0, 0, hop.mtu)
			if offload {
				w.offload(ep, hop, 0, 0, hop.mtu)
			}
		}
	case ipvs.Tunnel:
		w.tunnel(in, f, p, v, offload, ep)
	case ipvs.Local:
		w.deliverLocal(f, p)
	default:
		w.count(dropLocalUnsupported)
	}
}

// directRoute forwards a frame unchanged but for the MACs and the TTL; true
// when it went to a remote next hop.
func (w *worker) directRoute(in *iface, f *RxFrame, p *packet.Packet, hop *nextHop) bool {
	b := f.Data()
	switch {
	case hop == nil:
		w.count(dropNoNextHop)
	case hop.local:
		w.deliverLocal(f, p)
	case w.fits(in, b, p, hop, false):
		if !w.refused(in, b, p, packet.DirectRoute(b, p, hop.dst, hop.src), false) {
			w.send(f, p, hop)
			return true
		}
	}
	return false
}

// refused counts a transform's refusal (false for none); a packet whose
// TTL ran out is answered with ICMP time exceeded, as IPVS does.
func (w *worker) refused(in *iface, b []byte, p *packet.Packet, r packet.DropReason, reply bool) bool {
	if r == packet.DropNone {
		return false
	}
	w.countRefused(r)
	if r == packet.DropTTLExceeded {
		w.sendICMP(in, b, p, icmpTimeExceeded, 0, reply)
	}
	return true
}

// fits checks a packet against the path MTU before it is transformed. A
// packet that may not be fragmented (IPv4 with DF, or IPv6: routers never
// fragment it) is answered with ICMP "fragmentation needed" / "packet too
// big" carrying the path MTU, as IPVS does; an IPv4 packet without DF
// fits (send fragments it). GSO super-frames are segmented downstream.
func (w *worker) fits(in *iface, b []byte, p *packet.Packet, hop *nextHop, reply bool) bool {
	if typ, _ := p.GSO(); typ != packet.GSONone || p.IPLen() <= hop.mtu {
		return true
	}
	if p.Key.Family == packet.IPv4 && !packet.IPv4Header(b[p.L3Off:]).DF() {
		return true
	}
	w.countRefused(packet.DropTooBig)
	w.sendICMP(in, b, p, icmpTooBig, hop.mtu, reply)
	return false
}

// send puts a transformed frame on the wire towards hop, with the
// virtio-net header the transform left (partial checksum, GSO), or as IPv4
// fragments when it is longer than the path MTU.
func (w *worker) send(f *RxFrame, p *packet.Packet, hop *nextHop) {
	typ, _ := p.GSO()
	if typ == packet.GSONone && p.IPLen() > hop.mtu {
		if hop.held != nil { // fragments are not held
			w.count(dropNoNextHop)
			return
		}
		if r := packet.CompleteChecksum(f.Data(), p); r != packet.DropNone {
			w.countRefused(r)
			return
		}
		w.fragment(hop.ifindex, f.Data()[:p.End], hop.mtu, p.Frag.ID)
		return
	}
	h := p.VnetHeader()
	h.Encode(f.Buf[f.Off-vnetLen:])
	if hop.held != nil { // the neighbour is being asked for: wait with it (a refusal is counted there)
		w.d.hops.hold(hop, f.Buf[f.Off-vnetLen:f.Off+p.End])
		return
	}
	w.queue(hop.ifindex, f.Buf[f.Off-vnetLen:f.Off+p.End])
}

// fragment sends frame as IP fragments of at most mtu bytes.
func (w *worker) fragment(ifindex int, frame []byte, mtu int, id uint32) {
	n := w.splitFrames((len(frame) + mtu - 1) / max(mtu-packet.IPv6HeaderLen-8, 8))
	if n == 0 {
		w.countRefused(packet.DropBufferTooSmall)
		return
	}
	k, r := packet.Fragment(w.split[:n], frame, mtu, id)
	if r != packet.DropNone {
		w.countRefused(r)
		return
	}
	for i := 0; i < k; i++ {
		w.queueSplit(ifindex, i, packet.VnetHeader{})
	}
}

// splitFrames prepares up to n (at least 1) frames of generated buffers
// in w.split for a splitter, flushing the batch first when the buffers
// run short; it returns how many it prepared (0: n is too large).
func (w *worker) splitFrames(n int) int {
	n = max(n, 1)
	if n > maxSplit || n > genBufs {
		return 0
	}
	if w.gen.free() < n {
		w.flush()
		w.gen.reset()
	}
	for i := 0; i < n; i++ {
		b := w.gen.get()
		w.splitB[i] = b
		w.split[i] = packet.NewFrame(b, genFrameOff)
	}
	return n
}

// queueSplit sends split frame i (possibly moved into its headroom by
// Encap) with the virtio-net header h.
func (w *worker) queueSplit(ifindex, i int, h packet.VnetHeader) {
	start := w.split[i].Headroom()
	b := w.splitB[i]
	h.Encode(b[start-vnetLen:])
	w.queue(ifindex, b[start-vnetLen:start+w.split[i].Len()])
}

// tunnelFor describes the encapsulation towards a TUN real server.
func tunnelFor(v *ipvs.Verdict, hop *nextHop) packet.Tunnel {
	t := packet.Tunnel{
		Src: packet.AddrFromNetip(hop.srcAddr), Dst: packet.Addr(v.Dest),
		Port: v.TunnelPort, MTU: hop.mtu, DstMAC: hop.dst, SrcMAC: hop.src,
		Csum:    v.TunnelFlags&ipvs.TunnelCsum != 0,
		RemCsum: v.TunnelFlags&ipvs.TunnelRemCsum != 0,
	}
	switch v.TunnelType {
	case ipvs.TunnelGUE:
		t.Type = packet.TunnelGUE
	case ipvs.TunnelGRE:
		t.Type = packet.TunnelGRE
	}
	return t
}

func (w *worker) nextID() uint16 {
	w.ipid++
	return w.ipid
}

// tunnel encapsulates for a TUN real server (IPIP, IPv6-in-IPv6 and the
// mixed forms, GUE, GRE). The inner checksum is completed first: the
// real server's decapsulator may not finish a partial one. Super-frames
// are segmented first: a virtio-net header cannot describe GSO inside a
// tunnel; TCP super-frames carrying IPv4 in IPIP, GUE or GRE over IPv4
// (without tunnel checksums) are encapsulated by the kernel instead when
// it can (kencap.go).
func (w *worker) tunnel(in *iface, f *RxFrame, p *packet.Packet, v *ipvs.Verdict, offload bool, ep *ipvs.Packet) {
	hop := w.hops.lookup(v.Dest, v.DestFamily)
	if hop == nil || hop.held != nil { // tunnelled frames are not held (the resolver asks for real servers ahead)
		w.count(dropNoNextHop)
		return
	}
	if hop.local { // a tunnel to ourselves: the inner packet is for local sockets
		w.deliverLocal(f, p)
		return
	}
	t := tunnelFor(v, hop)
	b := f.Data()
	if offload {
		w.offloadTunnel(ep, p, &t, hop)
	}
	w.learnTunnel(ep, p, &t, hop)
	if typ, _ := p.GSO(); typ != packet.GSONone {
		if !w.tunnelKernel(in, f, p, &t, hop) {
			w.tunnelGSO(in, b, p, &t, hop)
		}
		return
	}
	if r := packet.CompleteChecksum(b, p); r != packet.DropNone {
		w.countRefused(r)
		return
	}
	fr := packet.FrameOver(f.Buf, f.Off, p.End)
	id := w.nextID()
	switch r := packet.Encap(&fr, p, &t, id); r {
	case packet.DropNone:
	case packet.DropTooBig:
		w.countRefused(r)
		w.sendICMP(in, b, p, icmpTooBig, t.InnerMTU(p), false)
		return
	default:
		w.refused(in, b, p, r, false)
		return
	}
	start := fr.Headroom()
	if t.NeedsFragment(&fr) { // an inner IPv4 packet without DF: outer fragments
		w.fragment(hop.ifindex, fr.Bytes(), t.MTU, uint32(id))
		return
	}
	h := p.VnetHeader()
	h.Encode(f.Buf[start-vnetLen:])
	w.queueTunnel(hop.ifindex, p, &t, f.Buf[start-vnetLen:start+fr.Len()])
}

// tunnelGSO segments a super-frame to fit the tunnel's path MTU, then
// encapsulates each segment in its own buffer.
func (w *worker) tunnelGSO(in *iface, b []byte, p *packet.Packet, t *packet.Tunnel, hop *nextHop) {
	typ, size := p.GSO()
	if typ&^packet.GSOECN == packet.GSOUDP { // UFO: one datagram, not segments
		w.countRefused(packet.DropGSO)
		return
	}
	size = min(size, packet.MaxSegment(p, t.InnerMTU(p)))
	if size <= 0 {
		w.countRefused(packet.DropMTUTooSmall)
		return
	}
	payload := p.End - p.PayloadOff
	n := w.splitFrames((payload + size - 1) / size)
	if n == 0 {
		w.countRefused(packet.DropBufferTooSmall)
		return
	}
	k, r := packet.Segment(w.split[:n], b, p, size)
	if r != packet.DropNone {
		w.countRefused(r)
	}
	for i := 0; i < k; i++ {
		sp := &w.seg
		if r := packet.Parse(w.split[i].Bytes(), sp); r != packet.DropNone {
			w.countRefused(r)
			continue
		}
		if r := packet.Encap(&w.split[i], sp, t, w.nextID()); r != packet.DropNone {
			w.refused(in, w.split[i].Bytes(), sp, r, false)
			continue
		}
		// on the marking sender when the tunnel's super-frames go there (kencap.go)
		start := w.split[i].Headroom()
		h := sp.VnetHeader()
		h.Encode(w.splitB[i][start-vnetLen:])
		w.queueTunnel(hop.ifindex, sp, t, w.splitB[i][start-vnetLen:start+w.split[i].Len()])
	}
}

// passLocal gives the director's own stack a packet from a NAT real
// server that belongs to no connection but is addressed to the director
// itself: a health check's or an administrator's own connection to the
// real server. The steering took it from the kernel; it goes back as it
// was. Packets for anyone else stay dropped (no leaked replies).
func (w *worker) passLocal(f *RxFrame, p *packet.Packet, dst ipvs.Addr, af ipvs.Family) {
	if hop := w.hops.lookup(dst, af); hop != nil && hop.local {
		w.deliverLocal(f, p)
	}
}

// deliverLocal hands the IP packet to the director's own stack through the
// TUN device (the Local method, and NAT replies to local clients), with a
// virtio-net header whose offsets count from the IP header.
func (w *worker) deliverLocal(f *RxFrame, p *packet.Packet) {
	tun := w.d.tun
	if tun == nil || p.L3Off < vnetLen {
		w.count(dropLocalUnsupported)
		return
	}
	b := f.Data()
	h := p.VnetHeader()
	if h.Flags&packet.VnetNeedsCsum != 0 {
		h.CsumStart -= uint16(p.L3Off)
	} else if f.Vnet()[0]&packet.VnetDataValid != 0 {
		h.Flags = packet.VnetDataValid // checksums were verified on receive
	}
	if h.GSOType != packet.GSONone {
		h.HdrLen = 0
	}
	h.Encode(b[p.L3Off-vnetLen:])
	if err := tun.write(b[p.L3Off-vnetLen : p.End]); err != nil {
		w.count(dropSend)
	}
}

// ICMP errors the director builds itself.
const (
	icmpUnreachable  = iota // port unreachable: no real server may take the connection
	icmpTooBig              // fragmentation needed / packet too big, with the MTU
	icmpTimeExceeded        // TTL / hop limit ran out
)

// sendICMP answers the packet's sender, out of the interface it came in
// on. The source is the address the packet was sent to (the VIP) when it
// came from a client; for a real server's reply, the director's address
// on the ingress interface (as the kernel's icmp_send picks for a packet
// it forwards).
func (w *worker) sendICMP(in *iface, b []byte, p *packet.Packet, kind, mtu int, reply bool) {
	src := p.Key.Dst
	if reply {
		if a := in.addrOf(p.Key.Family == packet.IPv4); a.IsValid() {
			src = packet.AddrFromNetip(a)
		}
	}
	buf := w.genGet()
	frame := buf[genFrameOff:]
	var n int
	var r packet.DropReason
	mac := packet.MAC(in.mac)
	switch kind {
	case icmpUnreachable:
		if p.Key.Family == packet.IPv4 {
			n, r = packet.BuildICMPError(frame, b, p, packet.ICMPv4DestUnreach, packet.ICMPv4PortUnreach, 0, src, mac)
		} else {
			n, r = packet.BuildICMPError(frame, b, p, packet.ICMPv6DestUnreach, packet.ICMPv6PortUnreach, 0, src, mac)
		}
	case icmpTooBig:
		n, r = packet.BuildFragNeeded(frame, b, p, src, mac, mtu)
	case icmpTimeExceeded:
		n, r = packet.BuildTimeExceeded(frame, b, p, src, mac)
	}
	if r != packet.DropNone {
		return // RFC 1122/4443 forbid an error about this packet
	}
	w.queueGen(in.index, buf, n)
}

// genGet takes a buffer for a built frame, flushing the batch first when
// all are in use (they are free again once sent).
func (w *worker) genGet() []byte {
	b := w.gen.get()
	if b == nil {
		w.flush()
		w.gen.reset()
		b = w.gen.get()
	}
	return b
}

// queueGen sends a frame of n bytes built in buf at genFrameOff, with an
// empty virtio-net header.
func (w *worker) queueGen(ifindex int, buf []byte, n int) {
	clear(buf[genHeadroom:genFrameOff])
	w.queue(ifindex, buf[genHeadroom:genFrameOff+n])
}

// handleICMPError forwards an ICMP error about a connection to where the
// connection goes, translated for NAT, as IPVS does for destination
// unreachable, source quench, time exceeded and parameter problem (and
// every ICMPv6 error, packet too big included).
func (w *worker) handleICMPError(in *iface, f *RxFrame, p *packet.Packet, st *dpState) {
	q := &p.Inner
	if q.L4Off == 0 || !isTransport(q.Key.Proto) {
		return
	}
	inner := flowOf(&q.Key)
	var fromClient bool
	switch {
	case st.vips[inner.Src]: // the quoted packet went VIP -> client: the client complains
		fromClient = true
	case st.natSrc[inner.Dst]: // quoted client -> RIP: a real server complains
		fromClient = false
	default:
		return
	}
	v := w.ew.Related(&inner, fromClient, uint32(p.IPLen()))
	dst, fam := ipvs.Addr(p.Key.Dst), ipvs.IPv4
	if p.Key.Family == packet.IPv6 {
		fam = ipvs.IPv6
	}
	if v.Action != ipvs.ActionForward {
		if !fromClient {
			w.passLocal(f, p, dst, fam)
		}
		return
	}
	var vh packet.VnetHeader
	vh.Decode(f.Vnet())
	if r := p.SetOffload(&vh); r != packet.DropNone {
		w.countParse(r)
		return
	}
	b := f.Data()
	var hop *nextHop
	if fromClient {
		switch v.Method {
		case ipvs.Masq: // outer destination VIP -> RIP; quoted source VIP:vport -> RIP:rport
			if w.refused(in, b, p, packet.TranslateICMP(b, p, packet.ToRealServer, packet.Addr(v.Dest), v.DestPort), false) {
				return
			}
			hop = w.hops.lookup(v.Dest, v.DestFamily)
		case ipvs.Tunnel:
			return // errors about tunnelled connections are not forwarded
		default: // DR: to the real server as it is
			w.directRoute(in, f, p, w.hops.lookup(v.Dest, v.DestFamily))
			return
		}
	} else {
		// from a NAT real server: outer source RIP -> VIP; quoted destination RIP:rport -> VIP:vport
		if w.refused(in, b, p, packet.TranslateICMP(b, p, packet.ToClient, packet.Addr(v.VAddr), v.VPort), true) {
			return
		}
		hop = w.hops.lookup(dst, fam)
	}
	switch {
	case hop == nil:
		w.count(dropNoNextHop)
	case hop.local:
		w.deliverLocal(f, p)
	default:
		packet.RewriteMAC(b, hop.dst, hop.src)
		w.send(f, p, hop)
	}
}

// ---- ARP and neighbour discovery for the VIPs ----

func (w *worker) handleARP(in *iface, b []byte, p *packet.Packet) {
	a := p.ARP(b)
	spa, tpa, sha := a.SPA(), a.TPA(), a.SHA()
	if spa != packet.AddrFrom4([4]byte{}) {
		w.d.hops.learnMaybe(in.index, spa.Netip(), sha[:])
	}
	if a.Op() != packet.ARPRequest || spa == tpa || !w.d.state.Load().owned[ipvs.Addr(tpa)] {
		return
	}
	buf := w.genGet()
	n, r := packet.BuildARPReply(buf[genFrameOff:], b, p, packet.MAC(in.mac))
	if r == packet.DropNone {
		w.queueGen(in.index, buf, n)
	}
}

func (w *worker) handleNS(in *iface, b []byte, p *packet.Packet, st *dpState) {
	var ns packet.NeighborSolicitation
	if packet.ParseNeighborSolicitation(b, p, &ns) != packet.DropNone {
		return // RFC 4861: silently ignored
	}
	if p.Key.Src != (packet.Addr{}) {
		mac := packet.EtherHeader(b).Src()
		if ns.HasSrcLLA {
			mac = ns.SrcLLA
		}
		w.d.hops.learnMaybe(in.index, p.Key.Src.Netip(), mac[:])
	}
	if !st.owned[ipvs.Addr(ns.Target)] {
		return
	}
	buf := w.genGet()
	n, r := packet.BuildNeighborAdvert(buf[genFrameOff:], b, p, &ns, packet.MAC(in.mac))
	if r == packet.DropNone {
		w.queueGen(in.index, buf, n)
	}
}

func (w *worker) handleNA(in *iface, b []byte, p *packet.Packet) {
	var na packet.NeighborAdvert
	if packet.ParseNeighborAdvert(b, p, &na) == packet.DropNone && na.HasTgtLLA {
		w.d.hops.learnMaybe(in.index, na.Target.Netip(), na.TgtLLA[:])
	}
}

// ctrlMu serializes the control worker, used by the resolver and Sync.
var ctrlMu sync.Mutex

// solicit asks for a neighbour's link-layer address (ARP request or
// neighbour solicitation) on behalf of the next-hop resolver.
func (d *Dataplane) solicit(ifindex int, src, target netip.Addr) {
	x := d.byIx[ifindex]
	if x == nil || d.ctrl == nil {
		return
	}
	if !src.IsValid() {
		src = x.addrOf(target.Is4())
	}
	if !src.IsValid() && target.Is4() {
		src = netip.IPv4Unspecified() // an ARP probe still gets an answer
	}
	ctrlMu.Lock()
	defer ctrlMu.Unlock()
	w := d.ctrl
	buf := w.genGet()
	var n int
	var r packet.DropReason
	if target.Is4() {
		n, r = packet.BuildARPRequest(buf[genFrameOff:], packet.MAC(x.mac), packet.AddrFromNetip(src), packet.AddrFromNetip(target))
	} else {
		n, r = packet.BuildNeighborSolicit(buf[genFrameOff:], packet.MAC(x.mac), packet.AddrFromNetip(src), packet.AddrFromNetip(target))
	}
	if r == packet.DropNone {
		w.queueGen(ifindex, buf, n)
	}
	w.flush()
	w.gen.reset()
}

// transmitHeld sends the frames a next hop held while its neighbour was
// asked for (their MACs already written) on behalf of the resolver.
func (d *Dataplane) transmitHeld(ifindex int, frames [][]byte) {
	if d.ctrl == nil {
		return
	}
	ctrlMu.Lock()
	defer ctrlMu.Unlock()
	for _, f := range frames {
		d.ctrl.queue(ifindex, f)
	}
	d.ctrl.flush()
}

// HeldFrames returns how many frames waited for a neighbour's link-layer
// address and were then sent, and how many were dropped instead (also
// counted in Drops as next_hop_unresolved).
func (d *Dataplane) HeldFrames() (sent, dropped uint64) {
	return d.hops.heldSent.Load(), d.hops.heldDropped.Load()
}

// announce tells the LAN a VIP is here: gratuitous ARP, or an unsolicited
// neighbour advertisement, on every interface.
func (d *Dataplane) announce(vip ipvs.Addr) {
	if d.ctrl == nil {
		return
	}
	ctrlMu.Lock()
	defer ctrlMu.Unlock()
	w := d.ctrl
	for _, x := range d.ifs {
		buf := w.genGet()
		var n int
		var r packet.DropReason
		if vip.Is4() {
			n, r = packet.BuildGratuitousARP(buf[genFrameOff:], packet.MAC(x.mac), packet.Addr(vip))
		} else {
			n, r = packet.BuildUnsolicitedNA(buf[genFrameOff:], packet.MAC(x.mac), packet.Addr(vip))
		}
		if r == packet.DropNone {
			w.queueGen(x.index, buf, n)
		}
	}
	w.flush()
	w.gen.reset()
}

// addrOf returns an address of the interface of the family asked for.
func (x *iface) addrOf(v4 bool) netip.Addr {
	for _, p := range x.addrs {
		if p.Addr().Is4() == v4 && !p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	for _, p := range x.addrs {
		if p.Addr().Is4() == v4 {
			return p.Addr()
		}
	}
	return netip.Addr{}
}
