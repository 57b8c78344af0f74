//go:build linux

package dataplane

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"github.com/govs/gvs/dataplane/afpacket"
	"github.com/govs/gvs/ipvs"
)

// dpState is what workers consult per packet, published by Sync.
type dpState struct {
	vips   map[ipvs.Addr]bool // addresses of virtual services: packets to them go to the engine
	natSrc map[ipvs.Addr]bool // NAT real servers: their packets may be replies
	owned  map[ipvs.Addr]bool // VIPs the director answers ARP/NDP for
	// localSrc: NAT real servers that are addresses of the director; their
	// replies come through lo
	localSrc map[ipvs.Addr]bool
	marks    []MarkRule
}

// classify parses a frame and prepares its engine packet; false means the
// frame is not for the engine (it is handled here or left to the kernel).
func (w *worker) classify(in *iface, f *afpacket.Frame, m *frameMeta, p *ipvs.Packet) bool {
	if f.Len == 0 {
		return false
	}
	b := f.Data()
	off, et, ok := ethPayload(b)
	if !ok {
		return false
	}
	if et == etherTypeARP {
		if !in.loop {
			w.handleARP(in, b, off)
		}
		return false
	}
	if et != etherTypeIPv4 && et != etherTypeIPv6 {
		return false
	}
	*m = frameMeta{pkt: -1}
	p.Flow = ipvs.Flow{}
	p.Info = ipvs.PacketInfo{}
	if !parseIP(b, off, et, m, &p.Flow, &p.Info) {
		w.count(dropMalformed) // the kernel drops it too; counted so floods show
		return false
	}
	if f.Len < f.Orig {
		w.count(dropTruncated)
		return false
	}
	st := w.d.state.Load()
	if in.loop {
		return w.classifyLocal(m, p, st)
	}
	if m.proto == protoICMPv6 && m.l4 != 0 {
		switch m.icmpType {
		case 135:
			w.handleNS(in, b, m, st)
			return false
		case 136:
			w.handleNA(in, b, m)
			return false
		}
	}
	if (m.proto == protoICMP || m.proto == protoICMPv6) && m.l4 != 0 && isICMPError(m.family, m.icmpType) {
		w.handleICMPError(in, f, m, p, st)
		return false
	}
	if m.proto != protoTCP && m.proto != protoUDP && m.proto != protoSCTP {
		return false
	}
	if m.l4 == 0 {
		return false // non-first fragment: see docs/dataplane.md (fragments)
	}
	if len(st.marks) > 0 {
		p.Flow.Mark = markOf(st.marks, &p.Flow)
	}
	switch {
	case st.natSrc[p.Flow.Src] && st.vips[p.Flow.Dst] && p.Flow.Mark == 0:
		// a VIP that is also a client address (the director's own
		// client of a local VIP): a reply unless it opens a service
		p.Reply = !w.d.eng.MatchesService(&p.Flow)
	case p.Flow.Mark != 0 || st.vips[p.Flow.Dst]:
		p.Reply = false
	case st.natSrc[p.Flow.Src]:
		p.Reply = true
	default:
		return false
	}
	m.reply = p.Reply
	return true
}

// classifyLocal takes, from lo, what the steering routed there: local
// processes' packets to virtual services and local NAT real servers'
// replies. Everything else on lo is the kernel's own traffic.
func (w *worker) classifyLocal(m *frameMeta, p *ipvs.Packet, st *dpState) bool {
	if m.proto != protoTCP && m.proto != protoUDP && m.proto != protoSCTP || m.l4 == 0 {
		return false
	}
	if len(st.marks) > 0 {
		p.Flow.Mark = markOf(st.marks, &p.Flow)
	}
	switch {
	case p.Flow.Mark != 0 || st.vips[p.Flow.Dst]:
		p.Reply = false
	case st.natSrc[p.Flow.Src] && st.localSrc[p.Flow.Src]:
		p.Reply = true
	default:
		return false
	}
	m.reply = p.Reply
	return true
}

// apply carries out the engine's verdict for one frame.
func (w *worker) apply(in *iface, f *afpacket.Frame, m *frameMeta, p *ipvs.Packet) {
	v := &p.Verdict
	b := f.Buf[f.Off : f.Off+m.end]
	vn := vnetHdr(f.Vnet())
	switch v.Action {
	case ipvs.ActionPass:
		if p.Reply {
			w.passLocal(b, m, vn, p.Flow.Dst, p.Flow.Family)
		}
		return // the kernel's copy was dropped by the steering rules
	case ipvs.ActionDrop:
		return // counted by the engine
	case ipvs.ActionReject:
		w.sendICMPError(in, b, m, p.Flow.Dst, false, 0)
		return
	}
	if p.Reply { // a NAT real server's reply: back to the client, from the VIP
		if !decTTL(b, m) {
			w.count(dropTTL)
			return
		}
		rewriteAddr(b, m, vn, true, &v.VAddr, v.VPort)
		hop := w.hops.lookup(p.Flow.Dst, p.Flow.Family)
		w.forward(in, f, m, hop, b, vn)
		return
	}
	switch v.Method {
	case ipvs.Masq:
		if !decTTL(b, m) {
			w.count(dropTTL)
			return
		}
		rewriteAddr(b, m, vn, false, &v.Dest, v.DestPort)
		hop := w.hops.lookup(v.Dest, v.DestFamily)
		w.forward(in, f, m, hop, b, vn)
		if v.NewConn {
			w.hops.lookup(p.Flow.Src, p.Flow.Family) // resolve the client's next hop before its reply comes
		}
	case ipvs.Route:
		hop := w.hops.lookup(v.Dest, v.DestFamily)
		w.forward(in, f, m, hop, b, vn)
	case ipvs.Tunnel:
		w.tunnel(in, f, m, p, vn)
	case ipvs.Local:
		w.deliverLocal(b, m, vn)
	default:
		w.count(dropLocalUnsupported)
	}
}

// forward puts a rewritten frame on the wire towards hop.
func (w *worker) forward(in *iface, f *afpacket.Frame, m *frameMeta, hop *nextHop, b []byte, vn vnetHdr) {
	if hop == nil {
		w.count(dropNoNextHop)
		return
	}
	if hop.local {
		w.deliverLocal(b, m, vn)
		return
	}
	if vn.gsoType() == gsoNone && m.end-m.l3 > hop.mtu {
		w.tooBig(in, b, m, hop.mtu)
		return
	}
	setMACs(b, &hop.dst, &hop.src)
	w.queue(hop.ifindex, f.Buf[f.Off-vnetLen:f.Off+m.end])
}

// tooBig answers a packet that does not fit the path: ICMP "fragmentation
// needed" / "packet too big" when the sender forbids fragmentation (IPv4
// DF, or IPv6), else it is dropped and counted.
func (w *worker) tooBig(in *iface, b []byte, m *frameMeta, mtu int) {
	if m.family == ipvs.IPv6 || b[m.l3+6]&0x40 != 0 {
		var src ipvs.Addr
		if m.family == ipvs.IPv4 {
			src = ipvs.AddrFrom4([4]byte(b[m.l3+16 : m.l3+20]))
		} else {
			src = ipvs.Addr(b[m.l3+24 : m.l3+40])
		}
		w.sendICMPError(in, b, m, src, true, mtu)
		return
	}
	w.count(dropTooBig)
}

// tunnel encapsulates for a TUN real server. Super-frames are split first:
// a virtio-net header cannot describe GSO inside an IPIP/GUE/GRE tunnel.
func (w *worker) tunnel(in *iface, f *afpacket.Frame, m *frameMeta, p *ipvs.Packet, vn vnetHdr) {
	v := &p.Verdict
	hop := w.hops.lookup(v.Dest, v.DestFamily)
	if hop == nil {
		w.count(dropNoNextHop)
		return
	}
	if hop.local { // a tunnel to ourselves: the inner packet is for local sockets
		w.deliverLocal(f.Buf[f.Off:f.Off+m.end], m, vn)
		return
	}
	overhead := encapLen(&v.Forwarding, v.DestFamily)
	b := f.Buf[f.Off : f.Off+m.end]
	if vn.gsoType() != gsoNone {
		if m.proto != protoTCP || m.l4 == 0 {
			w.count(dropMalformed)
			return
		}
		// the segments must fit the tunnel: cut at the path MTU minus the overhead
		thl := int(b[m.l4+12]>>4) * 4
		size := min(vn.gsoSize(), hop.mtu-overhead-(m.l4-m.l3)-thl)
		if size <= 0 {
			w.count(dropTooBig)
			return
		}
		segmentTCP(b, m.l3, m.l4, m.family == ipvs.IPv4, size, func() []byte {
			_, frame, _ := w.genGet()
			return frame
		}, func(seg []byte) {
			// seg lives in the current gen buffer: encapsulate it in place
			buf := w.gen.bufs[w.gen.n-1]
			base := genHeadroom + vnetLen
			start := encapsulate(buf, base+m.l3, base+len(seg), m.family, v, hop, w.nextID(), &p.Flow)
			vnetHdr(buf[start-vnetLen : start]).clear()
			w.queue(hop.ifindex, buf[start-vnetLen:base+len(seg)])
		})
		return
	}
	if vn.partial() && !completeChecksum(b, vn) {
		w.count(dropMalformed)
		return
	}
	if m.end-m.l3+overhead > hop.mtu {
		w.tooBig(in, b, m, hop.mtu-overhead)
		return
	}
	start := encapsulate(f.Buf, f.Off+m.l3, f.Off+m.end, m.family, v, hop, w.nextID(), &p.Flow)
	vnetHdr(f.Buf[start-vnetLen : start]).clear()
	w.queue(hop.ifindex, f.Buf[start-vnetLen:f.Off+m.end])
}

func (w *worker) nextID() uint16 {
	w.ipid++
	return w.ipid
}

// genGet takes a buffer for a built frame, flushing the batch first when
// all are in use (they are free again once sent).
func (w *worker) genGet() (vnetHdr, []byte, []byte) {
	v, frame, buf := w.gen.get()
	if v == nil {
		w.flush()
		w.gen.reset()
		v, frame, buf = w.gen.get()
	}
	return v, frame, buf
}

// passLocal gives the director's own stack a packet from a NAT real
// server that belongs to no connection but is addressed to the director
// itself: a health check's or an administrator's own connection to the
// real server. The steering took it from the kernel; it goes back as it
// was. Packets for anyone else stay dropped (no leaked replies).
func (w *worker) passLocal(b []byte, m *frameMeta, vn vnetHdr, dst ipvs.Addr, af ipvs.Family) {
	if hop := w.hops.lookup(dst, af); hop != nil && hop.local {
		w.deliverLocal(b, m, vn)
	}
}

// deliverLocal hands the IP packet to the director's own stack through the
// TUN device (the Local method, and NAT replies to local clients).
func (w *worker) deliverLocal(b []byte, m *frameMeta, vn vnetHdr) {
	tun := w.d.tun
	if tun == nil || m.l3 < vnetLen {
		w.count(dropLocalUnsupported)
		return
	}
	hdr := vnetHdr(b[m.l3-vnetLen : m.l3])
	copy(hdr, vn)
	if hdr.partial() {
		hdr.setCsumStart(vn.csumStart() - m.l3)
	}
	if hdr.gsoType() != gsoNone {
		hdr.setHdrLen(0)
	}
	if err := tun.write(b[m.l3-vnetLen : m.end]); err != nil {
		w.count(dropSend)
	}
}

// sendICMPError answers the frame's sender with an ICMP error from src.
func (w *worker) sendICMPError(in *iface, b []byte, m *frameMeta, src ipvs.Addr, tooBig bool, mtu int) {
	_, frame, buf := w.genGet()
	if frame == nil {
		return
	}
	n := buildICMPError(frame, b, m, &in.mac, src, tooBig, mtu)
	w.queue(in.index, buf[genHeadroom:genHeadroom+vnetLen+n])
}

// handleICMPError forwards an ICMP error about a connection to where the
// connection goes, translated for NAT, as IPVS does for destination
// unreachable, source quench, time exceeded and parameter problem.
func (w *worker) handleICMPError(in *iface, f *afpacket.Frame, m *frameMeta, p *ipvs.Packet, st *dpState) {
	b := f.Buf[f.Off : f.Off+m.end]
	if !parseInner(b, m) {
		return
	}
	inner := &m.inner.flow
	var fromClient bool
	switch {
	case st.vips[inner.Src]: // the embedded packet went VIP -> client: the client complains
		fromClient = true
	case st.natSrc[inner.Dst]: // embedded client -> RIP: a real server complains
		fromClient = false
	default:
		return
	}
	v := w.ew.Related(inner, fromClient, uint32(m.end-m.l3))
	if v.Action != ipvs.ActionForward {
		if !fromClient {
			w.passLocal(b, m, vnetHdr(f.Vnet()), p.Flow.Dst, p.Flow.Family)
		}
		return
	}
	vn := vnetHdr(f.Vnet())
	if vn.partial() && !completeChecksum(b, vn) {
		return
	}
	if fromClient {
		if v.Method != ipvs.Masq {
			// DR/TUN: the error goes to the real server as it is (MAC only)
			if v.Method == ipvs.Tunnel {
				return // errors for tunnelled connections are not forwarded (IPVS sends them back as ICMP)
			}
			hop := w.hops.lookup(v.Dest, v.DestFamily)
			w.forward(in, f, m, hop, b, vn)
			return
		}
		// outer destination VIP -> RIP; embedded source VIP:vport -> RIP:rport
		w.translateICMP(b, m, false, &v.Dest, v.DestPort)
		hop := w.hops.lookup(v.Dest, v.DestFamily)
		w.forward(in, f, m, hop, b, vn)
		return
	}
	// from a NAT real server: outer source RIP -> VIP; embedded destination RIP:rport -> VIP:vport
	w.translateICMP(b, m, true, &v.VAddr, v.VPort)
	hop := w.hops.lookup(p.Flow.Dst, p.Flow.Family)
	w.forward(in, f, m, hop, b, vn)
}

// translateICMP rewrites an ICMP error for NAT: the outer address (source
// when outbound), the embedded packet's matching address and port, the
// embedded IP checksum, and the ICMP checksum, recomputed whole.
func (w *worker) translateICMP(b []byte, m *frameMeta, outbound bool, addr *ipvs.Addr, port uint16) {
	na := addrBytes(addr, m.family)
	in := &m.inner
	if m.family == ipvs.IPv4 {
		if outbound {
			csumReplace(b[m.l3+10:m.l3+12], b[m.l3+12:m.l3+16], na, true)
			copy(b[m.l3+12:m.l3+16], na)
			copy(b[in.l3+16:in.l3+20], na) // embedded destination
			binary.BigEndian.PutUint16(b[in.l4+2:], port)
		} else {
			csumReplace(b[m.l3+10:m.l3+12], b[m.l3+16:m.l3+20], na, true)
			copy(b[m.l3+16:m.l3+20], na)
			copy(b[in.l3+12:in.l3+16], na) // embedded source
			binary.BigEndian.PutUint16(b[in.l4:], port)
		}
		ihl := int(b[in.l3]&0x0f) * 4
		b[in.l3+10], b[in.l3+11] = 0, 0
		binary.BigEndian.PutUint16(b[in.l3+10:], checksum(b[in.l3:in.l3+ihl]))
		b[m.l4+2], b[m.l4+3] = 0, 0
		binary.BigEndian.PutUint16(b[m.l4+2:], checksum(b[m.l4:m.end]))
		return
	}
	if outbound {
		copy(b[m.l3+8:m.l3+24], na)
		copy(b[in.l3+24:in.l3+40], na)
		binary.BigEndian.PutUint16(b[in.l4+2:], port)
	} else {
		copy(b[m.l3+24:m.l3+40], na)
		copy(b[in.l3+8:in.l3+24], na)
		binary.BigEndian.PutUint16(b[in.l4:], port)
	}
	b[m.l4+2], b[m.l4+3] = 0, 0
	binary.BigEndian.PutUint16(b[m.l4+2:], icmp6Checksum(b[m.l3+8:m.l3+24], b[m.l3+24:m.l3+40], b[m.l4:m.end]))
}

// ---- ARP and neighbour discovery for the VIPs ----

func (w *worker) handleARP(in *iface, b []byte, off int) {
	a := b[off:]
	if len(a) < 28 || binary.BigEndian.Uint16(a[0:]) != 1 || binary.BigEndian.Uint16(a[2:]) != etherTypeIPv4 || a[4] != 6 || a[5] != 4 {
		return
	}
	op := binary.BigEndian.Uint16(a[6:])
	var sha [6]byte
	copy(sha[:], a[8:14])
	spa, tpa := [4]byte(a[14:18]), [4]byte(a[24:28])
	if spa != [4]byte{} {
		w.d.hops.learnMaybe(in.index, netip.AddrFrom4(spa), sha[:])
	}
	if op != 1 || !w.d.state.Load().owned[ipvs.AddrFrom4(tpa)] || spa == tpa {
		return
	}
	_, frame, buf := w.genGet()
	if frame == nil {
		return
	}
	n := buildARP(frame, &sha, &in.mac, 2, tpa, spa, sha)
	w.queue(in.index, buf[genHeadroom:genHeadroom+vnetLen+n])
}

func (w *worker) handleNS(in *iface, b []byte, m *frameMeta, st *dpState) {
	msg := b[m.l4:m.end]
	if len(msg) < 24 || b[m.l3+7] != 255 {
		return
	}
	target := ipvs.Addr(msg[8:24])
	src := netip.AddrFrom16([16]byte(b[m.l3+8 : m.l3+24]))
	var sha [6]byte
	copy(sha[:], b[6:12])
	if !src.IsUnspecified() {
		w.d.hops.learnMaybe(in.index, src, sha[:])
	}
	if !st.owned[target] {
		return
	}
	_, frame, buf := w.genGet()
	if frame == nil {
		return
	}
	dst := src
	if src.IsUnspecified() { // duplicate address detection: answer all nodes
		dst = netip.MustParseAddr("ff02::1")
		sha = [6]byte{0x33, 0x33, 0, 0, 0, 1}
	}
	t := netip.AddrFrom16(target)
	n := buildNA(frame, &sha, &in.mac, t, dst, t, !src.IsUnspecified())
	w.queue(in.index, buf[genHeadroom:genHeadroom+vnetLen+n])
}

func (w *worker) handleNA(in *iface, b []byte, m *frameMeta) {
	msg := b[m.l4:m.end]
	if len(msg) < 32 || b[m.l3+7] != 255 {
		return
	}
	target := netip.AddrFrom16([16]byte(msg[8:24]))
	for opt := msg[24:]; len(opt) >= 8 && opt[1] != 0; opt = opt[int(opt[1])*8:] {
		if opt[0] == 2 && int(opt[1])*8 <= len(opt) {
			w.d.hops.learnMaybe(in.index, target, opt[2:8])
			return
		}
		if int(opt[1])*8 > len(opt) {
			return
		}
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
	ctrlMu.Lock()
	defer ctrlMu.Unlock()
	w := d.ctrl
	_, frame, buf := w.genGet()
	var n int
	if target.Is4() {
		n = buildARP(frame, &broadcastMAC, &x.mac, 1, src.As4(), target.As4(), [6]byte{})
	} else {
		n = buildNS(frame, &x.mac, src, target)
	}
	w.queue(ifindex, buf[genHeadroom:genHeadroom+vnetLen+n])
	w.flush()
	w.gen.reset()
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
		_, frame, buf := w.genGet()
		var n int
		if vip.Is4() {
			a := [4]byte(vip[12:16])
			n = buildARP(frame, &broadcastMAC, &x.mac, 1, a, a, [6]byte{})
		} else {
			t := netip.AddrFrom16(vip)
			allNodes := [6]byte{0x33, 0x33, 0, 0, 0, 1}
			n = buildNA(frame, &allNodes, &x.mac, t, netip.MustParseAddr("ff02::1"), t, false)
		}
		w.queue(x.index, buf[genHeadroom:genHeadroom+vnetLen+n])
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
