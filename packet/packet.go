package packet

// IP protocol numbers the package knows.
const (
	ProtoHopByHop = 0
	ProtoICMP     = 1
	ProtoIPIP     = 4
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoIPv6     = 41
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoGRE      = 47
	ProtoESP      = 50
	ProtoAH       = 51
	ProtoICMPv6   = 58
	ProtoNoNext   = 59
	ProtoDstOpts  = 60
	ProtoSCTP     = 132
)

// Packet is what Parse learns about a frame: offsets into the frame (no
// copy of its bytes) and the fields the engine classifies on. It is meant
// to be reused: Parse overwrites all of it.
type Packet struct {
	Key FlowKey // the flow as this packet goes (ports only for TCP, UDP, SCTP)

	EtherType uint16    // of the L3 payload, after any VLAN tags
	VLAN      [2]uint16 // VLAN tags' TCI, outermost first
	NumVLAN   uint8

	L3Off      int // start of the IP (or ARP) header
	L4Off      int // start of the upper-layer header; 0 when absent (non-first fragment)
	PayloadOff int // start of the L4 payload for TCP, UDP, SCTP and ICMP; 0 otherwise
	End        int // end of the IP packet; bytes after it are link-layer padding

	TCPFlags  uint8 // TCP only
	ICMPType  uint8 // ICMP and ICMPv6 only
	ICMPCode  uint8
	SCTPChunk uint8 // SCTP: the chunk IPVS's state machine sees (ABORT after COOKIE ECHO/ACK wins)

	payloadLen int

	Frag  FragInfo // IPv4 header or IPv6 fragment header
	Inner Quote    // the packet an ICMP error quotes, when IsICMPError

	flags uint8

	// offload state (SetOffload, VnetHeader)
	csumStart, csumOffset int
	csumKind              uint8
	gsoType               uint8
	gsoSize               int
}

const (
	flagICMPError = 1 << iota
	flagPartial   // L4 checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL)
)

// FragInfo describes IP fragmentation.
type FragInfo struct {
	ID     uint32 // IPv4 identification, or the IPv6 fragment header's
	Offset int    // fragment offset in bytes
	More   bool   // MF / M flag
}

// IsFragment reports whether the packet is a fragment (IPv6 atomic
// fragments, offset 0 without M, are whole packets and are not).
func (f FragInfo) IsFragment() bool { return f.More || f.Offset != 0 }

// IsFirst reports whether the packet is the first fragment of a datagram:
// it carries the transport header.
func (f FragInfo) IsFirst() bool { return f.More && f.Offset == 0 }

// IsLater reports whether the packet is a non-first fragment: no
// transport header, no ports (see FragCache).
func (f FragInfo) IsLater() bool { return f.Offset != 0 }

// Quote is the packet quoted in an ICMP error, as that packet went (so its
// Key is usually the reverse of the connection's direction that the error
// travels in). Offsets are into the same frame.
type Quote struct {
	Key   FlowKey
	L3Off int // start of the quoted IP header
	L4Off int // start of the quoted transport header; 0 when not quoted (non-first fragment)
}

// IsIP reports whether the frame holds an IPv4 or IPv6 packet.
func (p *Packet) IsIP() bool { return p.Key.Family != 0 }

// fits reports whether p (parsed as IP) can describe frame: transforms
// check it so that a Packet used with the wrong frame is refused, not a
// panic.
func (p *Packet) fits(frame []byte) bool { return p.Key.Family != 0 && p.End <= len(frame) }

// IsARP reports whether the frame holds an ARP packet (see ARPHeader).
func (p *Packet) IsARP() bool { return p.EtherType == EtherTypeARP && p.Key.Family == 0 }

// IsICMPError reports whether the packet is an ICMP or ICMPv6 error whose
// quoted packet is in Inner.
func (p *Packet) IsICMPError() bool { return p.flags&flagICMPError != 0 }

// PayloadLen is the transport payload's length in this packet (UDP: from
// its length field, so link or IP padding after the datagram is not
// counted); 0 without a transport header.
func (p *Packet) PayloadLen() int { return p.payloadLen }

// IPLen is the IP packet's length (header included).
func (p *Packet) IPLen() int { return p.End - p.L3Off }

// Parse parses frame into p. It never allocates and never keeps frame. A
// frame that is not IPv4, IPv6 or ARP parses successfully with only the
// link-layer fields set (IsIP and IsARP false). Any malformed header
// returns its DropReason and leaves p empty, so no transform acts on it.
func Parse(frame []byte, p *Packet) DropReason {
	*p = Packet{}
	r := parseEther(frame, p)
	if r == DropNone {
		switch p.EtherType {
		case EtherTypeIPv4:
			r = parseIPv4(frame, p)
		case EtherTypeIPv6:
			r = parseIPv6(frame, p)
		case EtherTypeARP:
			r = parseARP(frame, p)
		}
	}
	if r != DropNone {
		*p = Packet{} // nothing may act on a refused frame
	}
	return r
}

// parseL4 parses the upper-layer header at off (a whole packet or a first
// fragment).
func parseL4(frame []byte, p *Packet, off int) DropReason {
	p.L4Off = off
	var r DropReason
	switch p.Key.Proto {
	case ProtoTCP:
		r = parseTCP(frame, p)
	case ProtoUDP:
		r = parseUDP(frame, p)
	case ProtoSCTP:
		r = parseSCTP(frame, p)
	case ProtoICMP:
		if p.Key.Family == IPv4 {
			r = parseICMP(frame, p)
		}
	case ProtoICMPv6:
		if p.Key.Family == IPv6 {
			r = parseICMP(frame, p)
		}
	}
	if p.PayloadOff != 0 && p.Key.Proto != ProtoUDP {
		p.payloadLen = p.End - p.PayloadOff
	}
	if r != DropNone && r != DropBadICMPQuote && p.Frag.IsFragment() {
		// RFC 1858, RFC 8200: the first fragment carries the whole header
		return DropBadFragment
	}
	return r
}

// parseQuote parses the packet quoted by an ICMP error, from off to p.End.
// Quotes are truncated: lengths in the quoted headers are not checked
// against the frame, only what is read.
func parseQuote(frame []byte, p *Packet, off int) DropReason {
	q := &p.Inner
	end := p.End
	q.L3Off = off
	var l4 int
	if p.Key.Family == IPv4 {
		if end-off < IPv4HeaderLen || frame[off]>>4 != 4 {
			return DropBadICMPQuote
		}
		h := frame[off:end]
		ihl := int(h[0]&0x0f) * 4
		if ihl < IPv4HeaderLen || ihl > len(h) {
			return DropBadICMPQuote
		}
		q.Key.Family, q.Key.Proto = IPv4, h[9]
		q.Key.Src, q.Key.Dst = AddrFrom4([4]byte(h[12:16])), AddrFrom4([4]byte(h[16:20]))
		if h[6]&0x1f|h[7] != 0 {
			return DropNone // a quoted non-first fragment: no ports
		}
		l4 = off + ihl
	} else {
		if end-off < IPv6HeaderLen || frame[off]>>4 != 6 {
			return DropBadICMPQuote
		}
		h := frame[off:end]
		q.Key.Family = IPv6
		q.Key.Src, q.Key.Dst = Addr(h[8:24]), Addr(h[24:40])
		nh, pos, frag, r := walkIPv6Ext(frame, off+IPv6HeaderLen, end, h[6])
		if r != DropNone {
			return DropBadICMPQuote
		}
		q.Key.Proto = nh
		if frag.IsLater() {
			return DropNone
		}
		l4 = pos
	}
	switch q.Key.Proto {
	case ProtoTCP, ProtoUDP, ProtoSCTP:
		if end-l4 < 4 { // the ports: all that IPVS needs of a quote
			return DropBadICMPQuote
		}
		q.Key.SrcPort = be16(frame[l4:])
		q.Key.DstPort = be16(frame[l4+2:])
	}
	q.L4Off = l4
	return DropNone
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func put16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
