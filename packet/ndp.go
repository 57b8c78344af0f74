package packet

// IPv6 neighbour discovery for the VIPs (RFC 4861): parse a neighbour
// solicitation, answer it with a neighbour advertisement, and announce a
// VIP with an unsolicited advertisement.

const (
	ndpOptSrcLLA = 1
	ndpOptTgtLLA = 2
	ndpNSLen     = 24 // type..target
	ndpNALen     = 32 // with a target link-layer address option
	naRouter     = 0x80
	naSolicited  = 0x40
	naOverride   = 0x20
)

var (
	allNodes    = Addr{0: 0xff, 1: 0x02, 15: 1}
	allNodesMAC = MAC{0x33, 0x33, 0, 0, 0, 1}
)

// NeighborSolicitation is a parsed neighbour solicitation.
type NeighborSolicitation struct {
	Target    Addr
	SrcLLA    MAC  // source link-layer address option
	HasSrcLLA bool // false for duplicate address detection probes
}

// ParseNeighborSolicitation validates the ICMPv6 message of p (type 135)
// as RFC 4861 7.1.1 asks and fills ns; DropBadNDP for a solicitation to
// ignore.
func ParseNeighborSolicitation(frame []byte, p *Packet, ns *NeighborSolicitation) DropReason {
	if !p.fits(frame) || p.Key.Family != IPv6 || p.Key.Proto != ProtoICMPv6 || p.L4Off == 0 || p.ICMPType != ICMPv6NeighborSolic {
		return DropBadNDP
	}
	l4, end := p.L4Off, p.End
	msg := frame[l4:end]
	if frame[p.L3Off+7] != 255 || p.ICMPCode != 0 || len(msg) < ndpNSLen {
		return DropBadNDP
	}
	if fold(sum(msg, pseudoSum(p.Key.Src[:], p.Key.Dst[:], ProtoICMPv6, len(msg)))) != 0xffff {
		return DropBadNDP
	}
	*ns = NeighborSolicitation{Target: Addr(msg[8:24])}
	if ns.Target[0] == 0xff {
		return DropBadNDP
	}
	for o := msg[ndpNSLen:]; len(o) > 0; {
		if len(o) < 2 || o[1] == 0 || int(o[1])*8 > len(o) {
			return DropBadNDP
		}
		l := int(o[1]) * 8
		if o[0] == ndpOptSrcLLA && l >= 8 {
			ns.SrcLLA, ns.HasSrcLLA = MAC(o[2:8]), true
		}
		o = o[l:]
	}
	if p.Key.Src == (Addr{}) { // DAD: to the solicited-node group, no source address option
		d := p.Key.Dst
		if ns.HasSrcLLA || d[0] != 0xff || d[1] != 0x02 || d[11] != 1 || d[12] != 0xff {
			return DropBadNDP
		}
	}
	return DropNone
}

// BuildNeighborAdvert writes into dst the advertisement answering the
// solicitation req (parsed into p and ns): the target is at mac. It is
// solicited and overriding, sent to the solicitor (to all nodes for a DAD
// probe, unsolicited then) on the request's VLAN, and returns the length.
func BuildNeighborAdvert(dst, req []byte, p *Packet, ns *NeighborSolicitation, mac MAC) (int, DropReason) {
	if !p.fits(req) || p.Key.Family != IPv6 {
		return 0, DropBadNDP
	}
	total := p.L3Off + IPv6HeaderLen + ndpNALen
	if len(dst) < total {
		return 0, DropBufferTooSmall
	}
	l2 := replyL2(dst, req, p, mac, EtherTypeIPv6)
	to, flags := p.Key.Src, uint8(naSolicited|naOverride)
	if to == (Addr{}) {
		to, flags = allNodes, naOverride
		copy(dst[0:6], allNodesMAC[:])
	} else if ns.HasSrcLLA {
		copy(dst[0:6], ns.SrcLLA[:])
	}
	putNA(dst[l2:], mac, ns.Target, to, flags)
	return total, DropNone
}

// BuildUnsolicitedNA writes an unsolicited, overriding advertisement of
// target at mac to all nodes (RFC 4861 7.2.6), as sent when a VIP is
// brought up or moves, and returns its length.
func BuildUnsolicitedNA(dst []byte, mac MAC, target Addr) (int, DropReason) {
	if target.Is4() {
		return 0, DropFamilyMismatch
	}
	total := EtherHeaderLen + IPv6HeaderLen + ndpNALen
	if len(dst) < total {
		return 0, DropBufferTooSmall
	}
	l2 := putEther(dst, allNodesMAC, mac, 0, EtherTypeIPv6)
	putNA(dst[l2:], mac, target, allNodes, naOverride)
	return total, DropNone
}

// putNA writes the IPv6 header and advertisement from target to to.
func putNA(b []byte, mac MAC, target, to Addr, flags uint8) {
	putIPv6(b, 0, ndpNALen, ProtoICMPv6, 255, target[:], to[:])
	msg := b[IPv6HeaderLen : IPv6HeaderLen+ndpNALen]
	clear(msg)
	msg[0] = ICMPv6NeighborAdv
	msg[4] = flags
	copy(msg[8:24], target[:])
	msg[24], msg[25] = ndpOptTgtLLA, 1
	copy(msg[26:32], mac[:])
	put16(msg[2:], ^fold(sum(msg, pseudoSum(target[:], to[:], ProtoICMPv6, ndpNALen))))
}

// NeighborAdvert is a parsed neighbour advertisement.
type NeighborAdvert struct {
	Target    Addr
	Flags     uint8 // router 0x80, solicited 0x40, override 0x20
	TgtLLA    MAC   // target link-layer address option
	HasTgtLLA bool
}

// ParseNeighborAdvert validates the ICMPv6 message of p (type 136) as
// RFC 4861 7.1.2 asks and fills na; DropBadNDP for an advertisement to
// ignore.
func ParseNeighborAdvert(frame []byte, p *Packet, na *NeighborAdvert) DropReason {
	if !p.fits(frame) || p.Key.Family != IPv6 || p.Key.Proto != ProtoICMPv6 || p.L4Off == 0 || p.ICMPType != ICMPv6NeighborAdv {
		return DropBadNDP
	}
	msg := frame[p.L4Off:p.End]
	if frame[p.L3Off+7] != 255 || p.ICMPCode != 0 || len(msg) < ndpNSLen {
		return DropBadNDP
	}
	if fold(sum(msg, pseudoSum(p.Key.Src[:], p.Key.Dst[:], ProtoICMPv6, len(msg)))) != 0xffff {
		return DropBadNDP
	}
	*na = NeighborAdvert{Target: Addr(msg[8:24]), Flags: msg[4]}
	if na.Target[0] == 0xff {
		return DropBadNDP
	}
	if na.Flags&naSolicited != 0 && p.Key.Dst[0] == 0xff {
		return DropBadNDP // solicited advertisements are unicast
	}
	for o := msg[ndpNSLen:]; len(o) > 0; {
		if len(o) < 2 || o[1] == 0 || int(o[1])*8 > len(o) {
			return DropBadNDP
		}
		l := int(o[1]) * 8
		if o[0] == ndpOptTgtLLA && l >= 8 {
			na.TgtLLA, na.HasTgtLLA = MAC(o[2:8]), true
		}
		o = o[l:]
	}
	return DropNone
}

// BuildNeighborSolicit writes a solicitation for target from src at mac
// to target's solicited-node multicast group (next-hop resolution), with
// a source link-layer address option, and returns its length.
func BuildNeighborSolicit(dst []byte, mac MAC, src, target Addr) (int, DropReason) {
	if src.Is4() || target.Is4() {
		return 0, DropFamilyMismatch
	}
	total := EtherHeaderLen + IPv6HeaderLen + ndpNALen
	if len(dst) < total {
		return 0, DropBufferTooSmall
	}
	group := Addr{0: 0xff, 1: 0x02, 11: 1, 12: 0xff, 13: target[13], 14: target[14], 15: target[15]}
	l2 := putEther(dst, MAC{0x33, 0x33, 0xff, target[13], target[14], target[15]}, mac, 0, EtherTypeIPv6)
	b := dst[l2:]
	putIPv6(b, 0, ndpNALen, ProtoICMPv6, 255, src[:], group[:])
	msg := b[IPv6HeaderLen : IPv6HeaderLen+ndpNALen]
	clear(msg)
	msg[0] = ICMPv6NeighborSolic
	copy(msg[8:24], target[:])
	msg[24], msg[25] = ndpOptSrcLLA, 1
	copy(msg[26:32], mac[:])
	put16(msg[2:], ^fold(sum(msg, pseudoSum(src[:], group[:], ProtoICMPv6, ndpNALen))))
	return total, DropNone
}
