package packet

// NAT (masquerading) rewrites, in place. Checksums are updated
// incrementally (RFC 1624): the IPv4 header checksum for the address, the
// TCP/UDP checksum for the pseudo-header address and the port. A UDP
// checksum of 0 over IPv4 means "none" and stays 0; a computed 0 is sent
// as 0xffff. When the frame's L4 checksum is CHECKSUM_PARTIAL (SetOffload)
// the field holds the pseudo-header sum, so only the address change is
// folded in and it stays a partial sum. SCTP's CRC32c is recomputed over
// the whole packet.

// Direction tells TranslateICMP which way an ICMP error about a NAT
// connection is going.
type Direction uint8

const (
	// ToRealServer: from the client side, about a packet the director sent
	// as the VIP; the VIP becomes the real server.
	ToRealServer Direction = iota
	// ToClient: from the real server side, about a packet the real server
	// received; the real server becomes the VIP.
	ToClient
)

// NATDest forwards a client's packet to a real server: it decrements the
// TTL and rewrites the destination address and port (the engine's NAT
// "in" direction). On any refusal the frame is unchanged.
func NATDest(frame []byte, p *Packet, addr Addr, port uint16) DropReason {
	if r := checkRewrite(frame, p, addr); r != DropNone {
		return r
	}
	if r := DecrementTTL(frame, p); r != DropNone {
		return r
	}
	rewrite(frame, p, false, addr, port)
	return DropNone
}

// NATSource forwards a real server's reply to the client: it decrements
// the TTL and rewrites the source address and port back to the VIP and
// virtual port (the engine's NAT "out" direction).
func NATSource(frame []byte, p *Packet, addr Addr, port uint16) DropReason {
	if r := checkRewrite(frame, p, addr); r != DropNone {
		return r
	}
	if r := DecrementTTL(frame, p); r != DropNone {
		return r
	}
	rewrite(frame, p, true, addr, port)
	return DropNone
}

// RewriteDest is NATDest without the TTL decrement, for delivery to the
// director's own stack (the kernel does not decrement for local routes).
func RewriteDest(frame []byte, p *Packet, addr Addr, port uint16) DropReason {
	if r := checkRewrite(frame, p, addr); r != DropNone {
		return r
	}
	rewrite(frame, p, false, addr, port)
	return DropNone
}

// RewriteSource is NATSource without the TTL decrement.
func RewriteSource(frame []byte, p *Packet, addr Addr, port uint16) DropReason {
	if r := checkRewrite(frame, p, addr); r != DropNone {
		return r
	}
	rewrite(frame, p, true, addr, port)
	return DropNone
}

// DecrementTTL decrements the IPv4 TTL (updating the header checksum) or
// the IPv6 hop limit, as the kernel does for every packet IPVS sends to
// another host (decrement_ttl in ip_vs_xmit.c). At 1 or 0 it refuses with
// DropTTLExceeded and leaves the frame unchanged for BuildTimeExceeded.
func DecrementTTL(frame []byte, p *Packet) DropReason {
	if !p.fits(frame) {
		return DropNotIP
	}
	l3 := p.L3Off
	switch p.Key.Family {
	case IPv4:
		ttl := frame[l3+8]
		if ttl <= 1 {
			return DropTTLExceeded
		}
		frame[l3+8] = ttl - 1
		// the checksum gains 0x0100 (RFC 1141), without producing -0,
		// as the kernel's ip_decrease_ttl
		c := uint32(be16(frame[l3+10:])) + 0x0100
		if c >= 0xffff {
			c++
		}
		put16(frame[l3+10:], uint16(c))
	case IPv6:
		if frame[l3+7] <= 1 {
			return DropTTLExceeded
		}
		frame[l3+7]--
	default:
		return DropNotIP
	}
	return DropNone
}

func checkRewrite(frame []byte, p *Packet, addr Addr) DropReason {
	if !p.fits(frame) {
		return DropNotIP
	}
	if familyOf(&addr) != p.Key.Family {
		return DropFamilyMismatch
	}
	switch p.Key.Proto {
	case ProtoTCP, ProtoUDP:
	case ProtoSCTP:
		if p.Frag.IsFirst() {
			return DropFragmented // the CRC covers the whole datagram
		}
	default:
		return DropUnsupportedProtocol
	}
	return DropNone
}

// addrField returns the source or destination address in the IP header
// at l3.
func addrField(frame []byte, l3 int, f Family, src bool) []byte {
	if f == IPv4 {
		if src {
			return frame[l3+12 : l3+16]
		}
		return frame[l3+16 : l3+20]
	}
	if src {
		return frame[l3+8 : l3+24]
	}
	return frame[l3+24 : l3+40]
}

// rewrite replaces the source or destination address and port of a
// checked packet.
func rewrite(frame []byte, p *Packet, src bool, addr Addr, port uint16) {
	fam, l3, l4 := p.Key.Family, p.L3Off, p.L4Off
	a := addrField(frame, l3, fam, src)
	na := addr.bytes(fam)
	dA := delta(a, na)
	if fam == IPv4 {
		applyDelta(frame[l3+10:l3+12], dA, false)
	}
	copy(a, na)
	if src {
		p.Key.Src = addr
	} else {
		p.Key.Dst = addr
	}
	if l4 == 0 {
		return // a later fragment: the first one carries ports and checksum
	}
	pf := frame[l4+2 : l4+4]
	if src {
		pf = frame[l4 : l4+2]
	}
	partial := p.flags&flagPartial != 0
	d := dA
	if !partial {
		d += delta16(be16(pf), port)
	}
	put16(pf, port)
	if src {
		p.Key.SrcPort = port
	} else {
		p.Key.DstPort = port
	}
	switch p.Key.Proto {
	case ProtoTCP:
		applyDelta(frame[l4+tcpCsumOff:l4+tcpCsumOff+2], d, partial)
	case ProtoUDP:
		updateUDPChecksum(frame[l4+udpCsumOff:l4+udpCsumOff+2], d, partial)
	case ProtoSCTP:
		sctpChecksum(frame[l4:p.End])
		p.flags &^= flagPartial
	}
}

// updateUDPChecksum applies d to a UDP checksum field: 0 ("no checksum")
// stays 0, and a computed 0 is sent as 0xffff.
func updateUDPChecksum(f []byte, d uint64, partial bool) {
	if !partial && f[0]|f[1] == 0 {
		return
	}
	applyDelta(f, d, partial)
	if !partial && f[0]|f[1] == 0 {
		f[0], f[1] = 0xff, 0xff
	}
}

// TranslateICMP rewrites an ICMP error about a NAT connection (port
// unreachable, fragmentation needed, time exceeded...), as IPVS's
// ip_vs_nat_icmp does, and decrements the TTL. ToRealServer: the outer
// destination and the quoted packet's source address and port become
// addr and port (the real server). ToClient: the outer source and the
// quoted destination become addr and port (the VIP). It updates the outer
// IPv4 header checksum, the quoted IPv4 header's checksum, the quoted
// TCP/UDP checksum when the quote reaches it, and the ICMP checksum (the
// ICMPv6 one includes the pseudo-header).
func TranslateICMP(frame []byte, p *Packet, dir Direction, addr Addr, port uint16) DropReason {
	if !p.fits(frame) {
		return DropNotIP
	}
	if !p.IsICMPError() {
		return DropUnsupportedProtocol
	}
	fam := p.Key.Family
	if familyOf(&addr) != fam {
		return DropFamilyMismatch
	}
	if p.Frag.IsFragment() {
		return DropFragmented // the ICMP checksum covers the whole message
	}
	if r := DecrementTTL(frame, p); r != DropNone {
		return r
	}
	toClient := dir == ToClient
	l3, l4, q := p.L3Off, p.L4Off, &p.Inner
	na := addr.bytes(fam)

	// outer header: the destination going in, the source going out
	oa := addrField(frame, l3, fam, toClient)
	dO := delta(oa, na)
	if fam == IPv4 {
		applyDelta(frame[l3+10:l3+12], dO, false)
	}
	copy(oa, na)
	var dI uint64 // ICMP checksum delta
	if fam == IPv6 {
		dI = dO
	}
	if toClient {
		p.Key.Src = addr
	} else {
		p.Key.Dst = addr
	}

	// quoted header: the reverse side
	ia := addrField(frame, q.L3Off, fam, !toClient)
	dA := delta(ia, na)
	dI += dA
	if fam == IPv4 {
		dI += updateWord(frame[q.L3Off+10:q.L3Off+12], dA, false)
	}
	copy(ia, na)
	if toClient {
		q.Key.Dst = addr
	} else {
		q.Key.Src = addr
	}
	proto := q.Key.Proto
	if q.L4Off != 0 && (proto == ProtoTCP || proto == ProtoUDP || proto == ProtoSCTP) {
		ql4 := q.L4Off
		pf := frame[ql4 : ql4+2]
		if toClient {
			pf = frame[ql4+2 : ql4+4]
			q.Key.DstPort = port
		} else {
			q.Key.SrcPort = port
		}
		dP := delta16(be16(pf), port)
		dI += dP
		put16(pf, port)
		// the quoted transport checksum, when quoted, so the quote is the
		// packet as its sender sent it (SCTP's CRC cannot be updated from
		// a truncated quote)
		switch {
		case proto == ProtoTCP && ql4+tcpCsumOff+2 <= p.End:
			dI += updateWord(frame[ql4+tcpCsumOff:ql4+tcpCsumOff+2], dA+dP, false)
		case proto == ProtoUDP && ql4+udpHeaderLen <= p.End:
			f := frame[ql4+udpCsumOff : ql4+udpCsumOff+2]
			old := be16(f)
			updateUDPChecksum(f, dA+dP, false)
			dI += delta16(old, be16(f))
		}
	}
	applyDelta(frame[l4+2:l4+4], dI, false)
	return DropNone
}

// updateWord applies d to a checksum field and returns the delta of the
// field itself (for an enclosing checksum).
func updateWord(f []byte, d uint64, partial bool) uint64 {
	old := be16(f)
	applyDelta(f, d, partial)
	return delta16(old, be16(f))
}
