package tundecap

import "encoding/binary"

// Inner locates the packet carried inside a tunnelled one: buf[Start:End]
// of the buffer given to the Decap* function that returned it.
type Inner struct {
	Start, End int
	IPv6       bool // an IPv6 packet inside (else IPv4)

	// Partial reports a transport checksum left for the receiver to
	// complete: IPVS's GUE remote checksum offload says so explicitly, and
	// a tunnel packet read from a veth may still carry a CHECKSUM_PARTIAL
	// segment's pseudo-header sum. CsumStart (from Start) is where the
	// checksum begins, CsumOffset where in that header the field sits.
	Partial    bool
	CsumStart  uint16
	CsumOffset uint16

	// TCPPayload (from Start) is where the payload of a TCP segment with
	// a partial checksum begins (0 otherwise). A segment longer than the
	// TUN device's MTU is a GSO/GRO super-frame (a director that
	// encapsulates in the kernel sends TCP super-frames whole, and the
	// real server's raw socket reads them whole): it goes to the stack in
	// one piece with a GSO header whose segment size is the MTU less these
	// headers.
	TCPPayload uint16
}

// DropReason says why a packet was not decapsulated. It is an error so the
// parsers can return it; converting it to error does not allocate.
type DropReason uint8

// The drop reasons, each counted by the decapsulator.
const (
	_              DropReason = iota
	DropShort                 // the outer packet ends early
	DropOuter                 // outer IP header malformed
	DropProtocol              // not a tunnel protocol this decapsulator knows
	DropGRE                   // GRE version, routing, payload type or checksum
	DropGUE                   // GUE version, control message, flags or options
	DropInner                 // inner packet malformed or of the wrong family
	DropNotAllowed            // tunnel source outside --allow-from
	DropTruncated             // larger than the receive buffer
	DropWrite                 // the TUN device refused the inner packet
	numDropReasons
)

var dropNames = [numDropReasons]string{"", "short", "bad_outer", "not_tunnel", "bad_gre", "bad_gue", "bad_inner", "not_allowed", "truncated", "write_error"}

func (r DropReason) Error() string {
	if r == 0 || r >= numDropReasons {
		return "tundecap: unknown drop reason"
	}
	return "tundecap: " + dropNames[r]
}

// String is the counter name ("bad_gre").
func (r DropReason) String() string {
	if r >= numDropReasons {
		return "unknown"
	}
	return dropNames[r]
}

// IP protocol numbers (also IPv6 next-header values) of the tunnels.
const (
	ProtoIPIP = 4  // IPv4 inside
	ProtoIPv6 = 41 // IPv6 inside
	ProtoGRE  = 47
	protoTCP  = 6
	protoUDP  = 17
)

// DecapIPv4 decapsulates an IPv4 packet carrying IPv4 (protocol 4), IPv6
// (41) or GRE (47), outer header included, as an AF_INET raw socket
// delivers it.
func DecapIPv4(pkt []byte) (Inner, error) {
	if len(pkt) < 20 {
		return Inner{}, DropShort
	}
	if pkt[0]>>4 != 4 {
		return Inner{}, DropOuter
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if ihl < 20 || total < ihl {
		return Inner{}, DropOuter
	}
	if total > len(pkt) {
		return Inner{}, DropShort
	}
	return decapPayload(pkt, ihl, total, pkt[9])
}

// DecapIPv6Payload decapsulates the payload of an IPv6 packet whose (last)
// next header is 4, 41 or 47, as an AF_INET6 raw socket delivers it: the
// outer header and its extension headers already removed.
func DecapIPv6Payload(nextHeader byte, payload []byte) (Inner, error) {
	return decapPayload(payload, 0, len(payload), nextHeader)
}

func decapPayload(b []byte, start, end int, proto byte) (Inner, error) {
	switch proto {
	case ProtoIPIP:
		return innerIP(b, start, end, false)
	case ProtoIPv6:
		return innerIP(b, start, end, true)
	case ProtoGRE:
		in, err := DecapGRE(b[start:end])
		return in.shift(start), err
	}
	return Inner{}, DropProtocol
}

// GRE header bits (RFC 2784, RFC 2890).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSequence = 0x1000
	greVersion  = 0x0007

	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
)

// DecapGRE decapsulates a GRE packet (the outer IP header removed): version
// 0, optional checksum (verified), key and sequence number, carrying IPv4
// or IPv6, as IPVS's --tun-type gre sends. Like Linux it refuses the
// routing bit and other versions, and ignores the reserved bits.
func DecapGRE(p []byte) (Inner, error) {
	if len(p) < 4 {
		return Inner{}, DropShort
	}
	flags := binary.BigEndian.Uint16(p)
	if flags&(greVersion|greRouting) != 0 {
		return Inner{}, DropGRE
	}
	off := 4
	if flags&greChecksum != 0 {
		off += 4 // checksum and reserved1
	}
	if flags&greKey != 0 {
		off += 4
	}
	if flags&greSequence != 0 {
		off += 4
	}
	if len(p) < off {
		return Inner{}, DropShort
	}
	if flags&greChecksum != 0 && Checksum(p) != 0 {
		return Inner{}, DropGRE
	}
	switch binary.BigEndian.Uint16(p[2:4]) {
	case etherTypeIPv4:
		return innerIP(p, off, len(p), false)
	case etherTypeIPv6:
		return innerIP(p, off, len(p), true)
	}
	return Inner{}, DropGRE
}

// GUE header fields (draft-ietf-intarea-gue, as Linux's fou implements it).
const (
	gueFlagPriv       = 0x0001 // a private flags word follows the header
	gueFlagsKnown     = gueFlagPriv
	guePrivRemCsum    = 0x80000000 // remote checksum offload option present
	guePrivFlagsKnown = guePrivRemCsum
)

// DecapGUE decapsulates a GUE packet (the UDP payload): variant 0 with the
// inner protocol (4 or 41) in proto/ctype and optionally IPVS's remote
// checksum offload option, or variant 1, the inner IP packet directly.
// Control messages and flags Linux does not know are refused, as Linux does.
func DecapGUE(p []byte) (Inner, error) {
	if len(p) < 1 {
		return Inner{}, DropShort
	}
	switch p[0] >> 6 {
	case 0:
	case 1: // variant 1: the first bits of an IPv4 (0100) or IPv6 (0110) header
		switch p[0] >> 4 {
		case 4:
			return innerIP(p, 0, len(p), false)
		case 6:
			return innerIP(p, 0, len(p), true)
		}
		return Inner{}, DropGUE
	default:
		return Inner{}, DropGUE
	}
	if len(p) < 4 {
		return Inner{}, DropShort
	}
	if p[0]&0x20 != 0 { // control message: nothing to deliver
		return Inner{}, DropGUE
	}
	optLen := int(p[0]&0x1f) * 4
	hdrLen := 4 + optLen
	if len(p) < hdrLen {
		return Inner{}, DropShort
	}
	flags := binary.BigEndian.Uint16(p[2:4])
	if flags&^gueFlagsKnown != 0 {
		return Inner{}, DropGUE
	}
	var remcsum []byte
	if flags&gueFlagPriv != 0 {
		if optLen < 4 {
			return Inner{}, DropGUE
		}
		priv := binary.BigEndian.Uint32(p[4:8])
		if priv&^guePrivFlagsKnown != 0 {
			return Inner{}, DropGUE
		}
		if priv&guePrivRemCsum != 0 {
			if optLen < 8 {
				return Inner{}, DropGUE
			}
			remcsum = p[8:12]
		}
	}
	var in Inner
	var err error
	switch p[1] {
	case ProtoIPIP:
		in, err = innerIP(p, hdrLen, len(p), false)
	case ProtoIPv6:
		in, err = innerIP(p, hdrLen, len(p), true)
	default:
		return Inner{}, DropGUE
	}
	if err != nil || remcsum == nil {
		return in, err
	}
	// IPVS writes where the checksum starts and where its field is, both
	// from the inner packet's start; the field holds the pseudo-header sum.
	start := binary.BigEndian.Uint16(remcsum[0:2])
	field := binary.BigEndian.Uint16(remcsum[2:4])
	if field < start || int(field)+2 > in.End-in.Start {
		return Inner{}, DropGUE
	}
	in.Partial, in.CsumStart, in.CsumOffset = true, start, field-start
	return in, nil
}

// innerIP validates the IP packet at b[start:end] (of the expected family)
// and trims it to its own length. An inner TCP or UDP segment whose
// checksum field holds exactly the pseudo-header sum is a CHECKSUM_PARTIAL
// packet still waiting for its checksum; it is marked Partial.
func innerIP(b []byte, start, end int, v6 bool) (Inner, error) {
	p := b[start:end]
	in := Inner{Start: start, IPv6: v6}
	var l4 int
	var proto byte
	if v6 {
		if len(p) < 40 || p[0]>>4 != 6 {
			return Inner{}, DropInner
		}
		total := 40 + int(binary.BigEndian.Uint16(p[4:6]))
		if total > len(p) {
			return Inner{}, DropInner
		}
		in.End = start + total
		l4, proto = 40, p[6]
	} else {
		if len(p) < 20 || p[0]>>4 != 4 {
			return Inner{}, DropInner
		}
		ihl := int(p[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(p[2:4]))
		if ihl < 20 || total < ihl || total > len(p) || Checksum(p[:ihl]) != 0 {
			return Inner{}, DropInner
		}
		in.End = start + total
		if binary.BigEndian.Uint16(p[6:8])&0x3fff != 0 { // a fragment: no whole segment to look at
			return in, nil
		}
		l4, proto = ihl, p[9]
	}
	pkt := p[:in.End-start]
	var field int
	switch proto {
	case protoTCP:
		field = 16
	case protoUDP:
		field = 6
	default:
		return in, nil
	}
	if len(pkt) < l4+field+2 {
		return in, nil // a short transport header is the receiving stack's to refuse
	}
	got := binary.BigEndian.Uint16(pkt[l4+field:])
	if got != 0 && got == pseudoHeaderSum(pkt, v6, l4, proto) {
		in.Partial, in.CsumStart, in.CsumOffset = true, uint16(l4), uint16(field)
		if proto == protoTCP {
			if doff := int(pkt[l4+12]>>4) * 4; doff >= 20 && l4+doff <= len(pkt) {
				in.TCPPayload = uint16(l4 + doff)
			}
		}
	}
	return in, nil
}

// pseudoHeaderSum is the folded (not inverted) ones' complement sum of the
// transport pseudo header: what a CHECKSUM_PARTIAL segment carries in its
// checksum field.
func pseudoHeaderSum(pkt []byte, v6 bool, l4 int, proto byte) uint16 {
	var s uint32
	if v6 {
		s = sum16(pkt[8:40], 0)
	} else {
		s = sum16(pkt[12:20], 0)
	}
	s += uint32(proto) + uint32(len(pkt)-l4)
	return fold(s)
}

func (in Inner) shift(by int) Inner {
	if in.End != 0 {
		in.Start += by
		in.End += by
	}
	return in
}

// Checksum is the Internet checksum (RFC 1071) of b: zero over data that
// includes a correct checksum field.
func Checksum(b []byte) uint16 { return ^fold(sum16(b, 0)) }

func sum16(b []byte, s uint32) uint32 {
	for len(b) >= 8 {
		s += uint32(binary.BigEndian.Uint16(b)) + uint32(binary.BigEndian.Uint16(b[2:])) +
			uint32(binary.BigEndian.Uint16(b[4:])) + uint32(binary.BigEndian.Uint16(b[6:]))
		b = b[8:]
		if s > 0x7fff0000 {
			s = s&0xffff + s>>16
		}
	}
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
