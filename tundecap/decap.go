package tundecap

import (
	"encoding/binary"
	"errors"
)

// Errors returned by the parsers; the daemon counts them.
var (
	ErrShort      = errors.New("packet too short")
	ErrVersion    = errors.New("not an IP packet")
	ErrProtocol   = errors.New("not a tunnel protocol")
	ErrGRE        = errors.New("unsupported GRE header")
	ErrGUE        = errors.New("unsupported GUE header")
	ErrInner      = errors.New("inner packet malformed")
	ErrNotAllowed = errors.New("tunnel source not allowed")
)

const (
	protoIPIP = 4
	protoIPv6 = 41
	protoGRE  = 47
	protoUDP  = 17
)

// InnerOfIPv4 returns the inner packet of an IPv4 packet carrying IPIP,
// IPv6-in-IPv4 or GRE (as a raw IPv4 socket delivers it, header included).
func InnerOfIPv4(pkt []byte) ([]byte, error) {
	if len(pkt) < 20 {
		return nil, ErrShort
	}
	if pkt[0]>>4 != 4 {
		return nil, ErrVersion
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:]))
	if ihl < 20 || total < ihl || total > len(pkt) {
		return nil, ErrShort
	}
	payload := pkt[ihl:total]
	switch pkt[9] {
	case protoIPIP, protoIPv6:
		return checkInner(payload, pkt[9])
	case protoGRE:
		return InnerOfGRE(payload)
	}
	return nil, ErrProtocol
}

// InnerOfGRE parses a GRE header (RFC 2784/2890: checksum, key and
// sequence present bits; version 0) carrying IPv4 or IPv6.
func InnerOfGRE(p []byte) ([]byte, error) {
	if len(p) < 4 {
		return nil, ErrShort
	}
	flags := binary.BigEndian.Uint16(p)
	if flags&0x0007 != 0 || flags&0x4000 != 0 { // version 0, no routing
		return nil, ErrGRE
	}
	off := 4
	if flags&0x8000 != 0 { // checksum + reserved
		off += 4
	}
	if flags&0x2000 != 0 { // key
		off += 4
	}
	if flags&0x1000 != 0 { // sequence number
		off += 4
	}
	if len(p) < off {
		return nil, ErrShort
	}
	if flags&0x8000 != 0 && checksum(p) != 0 {
		return nil, ErrGRE
	}
	switch binary.BigEndian.Uint16(p[2:]) {
	case 0x0800:
		return checkInner(p[off:], protoIPIP)
	case 0x86dd:
		return checkInner(p[off:], protoIPv6)
	}
	return nil, ErrGRE
}

// InnerOfGUE parses a GUE header (variant 0 with optional fields, or
// variant 1 "direct IP") from a UDP payload.
func InnerOfGUE(p []byte) ([]byte, error) {
	if len(p) < 1 {
		return nil, ErrShort
	}
	switch p[0] >> 6 {
	case 1: // variant 1: the IP packet itself
		v := p[0] >> 4
		if v == 4 {
			return checkInner(p, protoIPIP)
		}
		if v == 6 {
			return checkInner(p, protoIPv6)
		}
		return nil, ErrGUE
	case 0:
	default:
		return nil, ErrGUE
	}
	if len(p) < 4 {
		return nil, ErrShort
	}
	if p[0]&0x20 != 0 { // control message
		return nil, ErrGUE
	}
	hlen := int(p[0]&0x1f) * 4
	if len(p) < 4+hlen {
		return nil, ErrShort
	}
	return checkInner(p[4+hlen:], p[1])
}

// InnerOfIPv6Payload checks the payload of an IPv6 raw socket (which
// delivers it without the outer header): IPv4 or IPv6 inside.
func InnerOfIPv6Payload(p []byte, nextHeader byte) ([]byte, error) {
	switch nextHeader {
	case protoIPIP, protoIPv6:
		return checkInner(p, nextHeader)
	case protoGRE:
		return InnerOfGRE(p)
	}
	return nil, ErrProtocol
}

// checkInner validates the inner packet's version and length and trims it.
func checkInner(p []byte, proto byte) ([]byte, error) {
	switch proto {
	case protoIPIP:
		if len(p) < 20 || p[0]>>4 != 4 || int(p[0]&0x0f) < 5 {
			return nil, ErrInner
		}
		total := int(binary.BigEndian.Uint16(p[2:]))
		if total < 20 || total > len(p) {
			return nil, ErrInner
		}
		return p[:total], nil
	case protoIPv6:
		if len(p) < 40 || p[0]>>4 != 6 {
			return nil, ErrInner
		}
		total := 40 + int(binary.BigEndian.Uint16(p[4:]))
		if total > len(p) {
			return nil, ErrInner
		}
		return p[:total], nil
	}
	return nil, ErrProtocol
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
