package packet

// ICMP types and codes the package uses.
const (
	ICMPv4EchoReply     = 0
	ICMPv4DestUnreach   = 3
	ICMPv4SourceQuench  = 4
	ICMPv4Redirect      = 5
	ICMPv4Echo          = 8
	ICMPv4TimeExceeded  = 11
	ICMPv4ParamProblem  = 12
	ICMPv4PortUnreach   = 3 // code of DestUnreach
	ICMPv4FragNeeded    = 4 // code of DestUnreach
	ICMPv6DestUnreach   = 1
	ICMPv6PacketTooBig  = 2
	ICMPv6TimeExceeded  = 3
	ICMPv6ParamProblem  = 4
	ICMPv6EchoRequest   = 128
	ICMPv6EchoReply     = 129
	ICMPv6NeighborSolic = 135
	ICMPv6NeighborAdv   = 136
	ICMPv6PortUnreach   = 4 // code of DestUnreach
)

const icmpHeaderLen = 8

// Largest ICMP errors built: RFC 1812 4.3.2.3 (576 bytes) and RFC 4443
// 2.4(c) (the IPv6 minimum MTU).
const (
	icmpv4ErrorMax = 576
	icmpv6ErrorMax = 1280
)

// ICMPHeader is a view of an ICMP or ICMPv6 header.
type ICMPHeader []byte

func (h ICMPHeader) Type() uint8      { return h[0] }
func (h ICMPHeader) Code() uint8      { return h[1] }
func (h ICMPHeader) Checksum() uint16 { return be16(h[2:]) }
func (h ICMPHeader) Rest() uint32     { return be32(h[4:]) } // MTU, pointer, id/seq...

// isICMPError reports whether an ICMP type carries a quoted packet that
// IPVS relates to a connection: v4 unreachable, source quench, time
// exceeded, parameter problem; every ICMPv6 error (unreachable, packet
// too big, time exceeded, parameter problem).
func isICMPError(f Family, typ uint8) bool {
	if f == IPv4 {
		return typ == ICMPv4DestUnreach || typ == ICMPv4SourceQuench ||
			typ == ICMPv4TimeExceeded || typ == ICMPv4ParamProblem
	}
	return typ >= ICMPv6DestUnreach && typ <= ICMPv6ParamProblem
}

// isICMPErrorClass is RFC 1122/4443's wider class of error messages, which
// no ICMP error may answer (redirects and unknown ICMPv6 errors included).
func isICMPErrorClass(f Family, typ uint8) bool {
	if f == IPv4 {
		return isICMPError(f, typ) || typ == ICMPv4Redirect
	}
	return typ < 128
}

func parseICMP(frame []byte, p *Packet) DropReason {
	off := p.L4Off
	if p.End-off < icmpHeaderLen {
		return DropBadICMP
	}
	p.ICMPType, p.ICMPCode = frame[off], frame[off+1]
	p.PayloadOff = off + icmpHeaderLen
	if !isICMPError(p.Key.Family, p.ICMPType) {
		return DropNone
	}
	if r := parseQuote(frame, p, off+icmpHeaderLen); r != DropNone {
		return r
	}
	p.flags |= flagICMPError
	return DropNone
}

// BuildICMPError writes into dst a complete frame carrying an ICMP (or
// ICMPv6, by the packet's family) error of the given type and code about
// the frame orig (parsed into p), from address src and MAC srcMAC back to
// orig's sender, on orig's VLAN. rest is the header's second word (MTU,
// pointer). It quotes as much of orig's IP packet as fits in 576 bytes
// (IPv4) or 1280 bytes (IPv6) and returns the frame's length. It refuses
// (DropICMPSuppressed) where RFC 1122 and RFC 4443 forbid an error: about
// an ICMP error, a non-first fragment, a multicast or broadcast
// destination, or a source that cannot be answered. dst must not overlap
// orig.
func BuildICMPError(dst, orig []byte, p *Packet, typ, code uint8, rest uint32, src Addr, srcMAC MAC) (int, DropReason) {
	if !p.fits(orig) {
		return 0, DropNotIP
	}
	fam := p.Key.Family
	if src.Family() != fam {
		return 0, DropFamilyMismatch
	}
	if suppressICMPError(orig, p, typ, code) {
		return 0, DropICMPSuppressed
	}
	l2 := p.L3Off
	ipHdr, limit, et, proto := IPv4HeaderLen, icmpv4ErrorMax, uint16(EtherTypeIPv4), uint8(ProtoICMP)
	if fam == IPv6 {
		ipHdr, limit, et, proto = IPv6HeaderLen, icmpv6ErrorMax, EtherTypeIPv6, ProtoICMPv6
	}
	quote := min(p.IPLen(), limit-ipHdr-icmpHeaderLen)
	msgLen := icmpHeaderLen + quote
	total := l2 + ipHdr + msgLen
	if len(dst) < total {
		return 0, DropBufferTooSmall
	}
	replyL2(dst, orig, p, srcMAC, et)
	ip := dst[l2 : l2+ipHdr]
	msg := dst[l2+ipHdr : total]
	msg[0], msg[1], msg[2], msg[3] = typ, code, 0, 0
	put32(msg[4:], rest)
	copy(msg[icmpHeaderLen:], orig[p.L3Off:p.L3Off+quote])
	to := p.Key.Src
	if fam == IPv4 {
		// precedence "internetwork control", as the kernel's icmp_send
		putIPv4(ip, 0xc0, ipHdr+msgLen, 0, false, 64, proto, src.bytes(IPv4), to.bytes(IPv4))
		put16(msg[2:], Checksum(msg))
	} else {
		putIPv6(ip, 0, msgLen, proto, 64, src[:], to[:])
		put16(msg[2:], ^fold(sum(msg, pseudoSum(src[:], to[:], proto, msgLen))))
	}
	return total, DropNone
}

func suppressICMPError(orig []byte, p *Packet, typ, code uint8) bool {
	fam := p.Key.Family
	if p.Frag.IsLater() {
		return true
	}
	if p.Key.Proto == protoICMPOf(fam) && p.L4Off != 0 && isICMPErrorClass(fam, orig[p.L4Off]) {
		return true
	}
	s, d := p.Key.Src, p.Key.Dst
	if fam == IPv4 {
		if orig[0]&1 != 0 || d[12] >= 224 || s[12] >= 224 || s[12] == 127 || s.As4() == [4]byte{} {
			return true // link or IP multicast/broadcast, class E, loopback, unspecified
		}
		return false
	}
	if s[0] == 0xff || s == (Addr{}) {
		return true
	}
	// RFC 4443 2.4(e): multicast destinations only get packet too big and
	// the unrecognized-option parameter problem
	if d[0] == 0xff || orig[0]&1 != 0 {
		return !(typ == ICMPv6PacketTooBig || (typ == ICMPv6ParamProblem && code == 2))
	}
	return false
}

func protoICMPOf(f Family) uint8 {
	if f == IPv6 {
		return ProtoICMPv6
	}
	return ProtoICMP
}

// BuildTimeExceeded builds the ICMP time exceeded (TTL / hop limit
// exceeded in transit) for a packet refused with DropTTLExceeded; see
// BuildICMPError.
func BuildTimeExceeded(dst, orig []byte, p *Packet, src Addr, srcMAC MAC) (int, DropReason) {
	typ := uint8(ICMPv4TimeExceeded)
	if p.Key.Family == IPv6 {
		typ = ICMPv6TimeExceeded
	}
	return BuildICMPError(dst, orig, p, typ, 0, 0, src, srcMAC)
}
