package packet

// Tunnel encapsulation as IPVS's ip_vs_tunnel_xmit{,_v6} builds it:
//
//   - outer source: a director address (the caller's), destination: the
//     real server; outer family independent of the inner one (IPIP,
//     IPv6-in-IPv6, and the mixed IPv6-in-IPv4 / IPv4-in-IPv6)
//   - the inner TTL / hop limit is decremented first (decrement_ttl), then
//     copied to the outer header
//   - outer TOS / traffic class: the inner one, with CE turned into ECT(0)
//     (INET_ECN_encapsulate)
//   - outer IPv4 DF: copied from an inner IPv4 packet, clear for an inner
//     IPv6 packet (ip_vs_prepare_tunneled_skb, pmtu_disc on)
//   - IPv6 outer header: flow label 0
//   - --tun-type gue: UDP to the tunnel port from a source port hashed from
//     the inner flow in the kernel's default ephemeral range
//     (udp_flow_src_port), then a GUE variant 0 header with the inner
//     protocol; UDP checksum only with --tun-csum or --tun-remcsum, and
//     with remcsum on a CHECKSUM_PARTIAL frame the private flags and remote
//     checksum offload option of ipvs_gue_encap
//   - --tun-type gre: a GRE header with the inner EtherType, and a
//     checksum with --tun-csum (gre_build_header)

// TunnelType is IPVS's --tun-type.
type TunnelType uint8

const (
	TunnelIPIP TunnelType = iota
	TunnelGUE
	TunnelGRE
)

func (t TunnelType) String() string {
	switch t {
	case TunnelIPIP:
		return "ipip"
	case TunnelGUE:
		return "gue"
	case TunnelGRE:
		return "gre"
	}
	return "unknown"
}

// Tunnel describes the encapsulation towards one real server.
type Tunnel struct {
	Type     TunnelType
	Src, Dst Addr   // outer addresses (same family): a director address and the real server
	Port     uint16 // GUE: the real server's UDP port (--tun-port)
	Csum     bool   // GUE: compute the UDP checksum (--tun-csum); GRE: add a checksum
	RemCsum  bool   // GUE: remote checksum offload for CHECKSUM_PARTIAL frames (--tun-remcsum)
	MTU      int    // the path MTU towards Dst (0: not checked)
	DstMAC   MAC    // next hop towards Dst
	SrcMAC   MAC    // egress interface
	VLAN     uint16 // egress VLAN tag (0: untagged)
}

const (
	gueHeaderLen   = 4
	gueRemcsumLen  = 8 // private flags word and the remote checksum offload option
	gueFlagPriv    = 0x0001
	guePrivRemcsum = 0x80000000
	greHeaderLen   = 4
	greCsumLen     = 4
	greFlagCsum    = 0x8000
	srcPortMin     = 32768 // the kernel's default ip_local_port_range
	srcPortMax     = 60999
)

// remcsum reports whether GUE remote checksum offload applies to p.
func (t *Tunnel) remcsum(p *Packet) bool {
	return t.Type == TunnelGUE && t.RemCsum && p.flags&flagPartial != 0 && p.csumKind != csumSCTP
}

// Overhead is the number of bytes encapsulation puts in front of p's IP
// packet (outer IP header, UDP and GUE or GRE), without the link layer.
func (t *Tunnel) Overhead(p *Packet) int {
	n := IPv4HeaderLen
	if familyOf(&t.Dst) == IPv6 {
		n = IPv6HeaderLen
	}
	switch t.Type {
	case TunnelGUE:
		n += udpHeaderLen + gueHeaderLen
		if t.remcsum(p) {
			n += gueRemcsumLen
		}
	case TunnelGRE:
		n += greHeaderLen
		if t.Csum {
			n += greCsumLen
		}
	}
	return n
}

// InnerMTU is the largest inner packet that fits the path MTU once
// encapsulated: the MTU to report in fragmentation needed / packet too
// big (0 when MTU is not set).
func (t *Tunnel) InnerMTU(p *Packet) int {
	if t.MTU <= 0 {
		return 0
	}
	return t.MTU - t.Overhead(p)
}

// NeedsFragment reports whether the encapsulated frame f (from Encap) is
// longer than the path MTU and must go out as fragments (see Fragment).
// Only an inner IPv4 packet without DF gets there.
func (t *Tunnel) NeedsFragment(f *Frame) bool {
	l2 := EtherHeaderLen
	if t.VLAN != 0 {
		l2 += 4
	}
	return t.MTU > 0 && f.Len()-l2 > t.MTU
}

// Encap encapsulates the IP packet of the parsed frame f for t, in place:
// the payload does not move, the outer headers and a new Ethernet header
// (DstMAC, SrcMAC, VLAN) are written in front of the inner IP header,
// over the old link header and into f's headroom. id is the outer IPv4
// identification (the caller's per-worker counter).
//
// Refusals leave the frame unchanged: DropTooBig when the encapsulated
// packet would exceed MTU and the inner packet may not be fragmented (IPv4
// with DF, or IPv6): answer with BuildFragNeeded and InnerMTU, as IPVS
// does; DropTTLExceeded; DropGSO for a GSO super-frame (a virtio-net header
// cannot describe tunnel GSO: Segment it first); DropNoHeadroom.
//
// Afterwards p still describes the inner packet, at its new offsets, and
// p.VnetHeader gives the header to send f with: a partial inner checksum
// stays partial (csum_start moved), or with remcsum the outer UDP checksum
// becomes the partial one.
func Encap(f *Frame, p *Packet, t *Tunnel, id uint16) DropReason {
	if !p.fits(f.Bytes()) {
		return DropNotIP
	}
	outer := familyOf(&t.Dst)
	if familyOf(&t.Src) != outer {
		return DropFamilyMismatch
	}
	if p.gsoType != GSONone {
		return DropGSO
	}
	frame := f.Bytes()
	inLen := p.IPLen()
	in := frame[p.L3Off:p.End]
	ovh := t.Overhead(p)
	if t.MTU > 0 {
		mtu := t.MTU - ovh
		if (outer == IPv4 && mtu < 68) || (outer == IPv6 && mtu < 1280) {
			return DropMTUTooSmall
		}
		if inLen > mtu && (p.Key.Family == IPv6 || IPv4Header(in).DF()) {
			return DropTooBig
		}
	}
	l2 := EtherHeaderLen
	if t.VLAN != 0 {
		l2 += 4
	}
	hdr := l2 + ovh
	shift := hdr - p.L3Off
	if shift > f.Headroom() {
		return DropNoHeadroom
	}
	if r := DecrementTTL(frame, p); r != DropNone {
		return r
	}
	remcsum := t.remcsum(p)
	f.off -= shift
	f.n = hdr + inLen // link padding after the inner packet goes
	p.shift(shift)
	b := f.Bytes()

	var ttl, tos uint8
	df, innerProto, innerET := false, uint8(ProtoIPIP), uint16(EtherTypeIPv4)
	if p.Key.Family == IPv4 {
		h := IPv4Header(in)
		ttl, tos, df = h.TTL(), h.TOS(), h.DF()
	} else {
		h := IPv6Header(in)
		ttl, tos = h.HopLimit(), h.TrafficClass()
		innerProto, innerET = ProtoIPv6, EtherTypeIPv6
	}
	if tos&3 == 3 {
		tos = tos&^3 | 2 // CE becomes ECT(0) outside
	}
	proto, outerET, ipHdr := innerProto, uint16(EtherTypeIPv4), IPv4HeaderLen
	switch t.Type {
	case TunnelGUE:
		proto = ProtoUDP
	case TunnelGRE:
		proto = ProtoGRE
	}
	if outer == IPv6 {
		outerET, ipHdr = EtherTypeIPv6, IPv6HeaderLen
	}
	putEther(b, t.DstMAC, t.SrcMAC, t.VLAN, outerET)
	src, dst := t.Src.bytes(outer), t.Dst.bytes(outer)
	if outer == IPv4 {
		putIPv4(b[l2:], tos, ovh+inLen, id, df, ttl, proto, src, dst)
	} else {
		putIPv6(b[l2:], tos, ovh-ipHdr+inLen, proto, ttl, src, dst)
	}
	l4 := l2 + ipHdr
	switch t.Type {
	case TunnelGUE:
		u := b[l4:]
		put16(u[0:], gueSourcePort(&p.Key))
		put16(u[2:], t.Port)
		put16(u[4:], uint16(len(b)-l4))
		u[6], u[7] = 0, 0
		g := b[l4+udpHeaderLen : hdr]
		g[0], g[1], g[2], g[3] = 0, innerProto, 0, 0 // variant 0, no control, no flags
		if remcsum {
			g[0] = gueRemcsumLen / 4 // hlen
			put16(g[2:], gueFlagPriv)
			put32(g[4:], guePrivRemcsum)
			start := p.csumStart - hdr // from the inner packet's start
			put16(g[8:], uint16(start))
			put16(g[10:], uint16(start+p.csumOffset))
			// the inner checksum stays the pseudo-header sum for the
			// receiver to complete; the outer UDP checksum is now the
			// partial one, for the kernel or NIC
			p.setPartial(l4, udpCsumOff, csumUDP)
			put16(u[6:], fold(pseudoSum(src, dst, ProtoUDP, len(b)-l4)))
		} else if t.Csum || t.RemCsum {
			c := outerChecksum(b, l4, p, pseudoSum(src, dst, ProtoUDP, len(b)-l4))
			if c == 0 {
				c = 0xffff
			}
			put16(u[6:], c)
		}
	case TunnelGRE:
		g := b[l4:hdr]
		put16(g[0:], 0)
		put16(g[2:], innerET)
		if t.Csum {
			g[0] = greFlagCsum >> 8
			g[4], g[5], g[6], g[7] = 0, 0, 0, 0
			put16(g[4:], outerChecksum(b, l4, p, 0))
		}
	}
	return DropNone
}

// outerChecksum is the checksum of b[from:] plus the pseudo-header sum
// ps. When the inner packet's checksum is still partial it uses local
// checksum offload: once completed, the inner region from the checksum
// start sums to the complement of the partial sum in its field, so only
// the bytes before it are read.
func outerChecksum(b []byte, from int, p *Packet, ps uint64) uint16 {
	if p.flags&flagPartial != 0 && p.csumKind != csumSCTP {
		partial := be16(b[p.csumStart+p.csumOffset:])
		return ^fold(sum(b[from:p.csumStart], ps+uint64(^partial)))
	}
	if p.flags&flagPartial != 0 { // SCTP's CRC is not additive: finish it first
		CompleteChecksum(b, p)
	}
	return ^fold(sum(b[from:], ps))
}

// gueSourcePort spreads flows over the ephemeral range, as
// udp_flow_src_port does with the inner flow's hash, so receivers can
// steer them apart.
func gueSourcePort(k *FlowKey) uint16 {
	h := uint64(uint32(k.hash(0x9e3779b97f4a7c15)))
	return uint16(h*(srcPortMax-srcPortMin)>>32 + srcPortMin)
}

// shift moves p's offsets by d bytes (the frame's start moved back by d).
func (p *Packet) shift(d int) {
	p.L3Off += d
	p.End += d
	if p.L4Off != 0 {
		p.L4Off += d
	}
	if p.PayloadOff != 0 {
		p.PayloadOff += d
	}
	if p.flags&flagICMPError != 0 {
		p.Inner.L3Off += d
		if p.Inner.L4Off != 0 {
			p.Inner.L4Off += d
		}
	}
	if p.flags&flagPartial != 0 {
		p.csumStart += d
	}
}
