package dataplane

import (
	"encoding/binary"

	"github.com/govs/gvs/ipvs"
)

// Frame parsing for the data path: just what forwarding needs, over the
// frame's bytes without copying. (Package packet owns the full codecs; this
// is the data path's thin view until it moves there.)

const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeARP  = 0x0806
	etherTypeVLAN = 0x8100
	etherTypeQinQ = 0x88a8

	protoICMP   = 1
	protoIPIP   = 4
	protoTCP    = 6
	protoUDP    = 17
	protoIPv6   = 41
	protoGRE    = 47
	protoICMPv6 = 58
	protoSCTP   = 132
)

type frameKind uint8

const (
	kindOther   frameKind = iota
	kindIP                // IPv4/IPv6 with a transport the engine knows
	kindICMPErr           // ICMP error about another packet
	kindARP
	kindNS // IPv6 neighbour solicitation
	kindNA // IPv6 neighbour advertisement
)

// frameMeta is a parsed frame: offsets into it and the fields forwarding uses.
type frameMeta struct {
	pkt    int // index in the engine batch, -1 when not sent to the engine
	kind   frameKind
	l3     int // offset of the IP (or ARP) header
	l4     int // offset of the transport header (0: none, e.g. a non-first fragment)
	end    int // end of the IP packet (frames may carry padding)
	family ipvs.Family
	proto  uint8
	frag   bool // a fragment (first or not)
	reply  bool // sent to the engine as a possible NAT reply
	// ICMP errors: the embedded packet
	icmpType, icmpCode uint8
	inner              frameMetaInner
}

type frameMetaInner struct {
	l3, l4 int
	proto  uint8
	flow   ipvs.Flow
}

// ethPayload returns the offset after the Ethernet header (and up to two
// VLAN tags) and the EtherType.
func ethPayload(b []byte) (int, uint16, bool) {
	if len(b) < 14 {
		return 0, 0, false
	}
	off, et := 14, binary.BigEndian.Uint16(b[12:])
	for i := 0; i < 2 && (et == etherTypeVLAN || et == etherTypeQinQ); i++ {
		if len(b) < off+4 {
			return 0, 0, false
		}
		et = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	return off, et, true
}

// parseIP fills m and the flow from the IP packet at off; it reports false
// for anything malformed.
func parseIP(b []byte, off int, et uint16, m *frameMeta, f *ipvs.Flow, pi *ipvs.PacketInfo) bool {
	m.l3 = off
	switch et {
	case etherTypeIPv4:
		if len(b) < off+20 || b[off]>>4 != 4 {
			return false
		}
		ihl := int(b[off]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[off+2:]))
		if ihl < 20 || total < ihl {
			return false
		}
		if off+total > len(b) {
			// GSO super-frames can carry total length 0 or the real one;
			// anything else shorter than claimed is truncated
			if total != 0 {
				return false
			}
			total = len(b) - off
		}
		m.end = off + total
		m.family = ipvs.IPv4
		m.proto = b[off+9]
		fo := binary.BigEndian.Uint16(b[off+6:])
		m.frag = fo&0x3fff != 0
		f.Family = ipvs.IPv4
		f.Src = ipvs.AddrFrom4([4]byte(b[off+12 : off+16]))
		f.Dst = ipvs.AddrFrom4([4]byte(b[off+16 : off+20]))
		if fo&0x1fff != 0 {
			m.l4 = 0 // a non-first fragment has no transport header
		} else {
			m.l4 = off + ihl
		}
		pi.Bytes = uint32(total)
	case etherTypeIPv6:
		if len(b) < off+40 || b[off]>>4 != 6 {
			return false
		}
		plen := int(binary.BigEndian.Uint16(b[off+4:]))
		if off+40+plen > len(b) {
			if plen != 0 {
				return false
			}
			plen = len(b) - off - 40 // GSO super-frame
		}
		m.end = off + 40 + plen
		m.family = ipvs.IPv6
		f.Family = ipvs.IPv6
		f.Src = ipvs.Addr(b[off+8 : off+24])
		f.Dst = ipvs.Addr(b[off+24 : off+40])
		nh, p := b[off+6], off+40
		m.l4 = 0
		for i := 0; i < 8; i++ {
			switch nh {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if m.end < p+8 {
					return false
				}
				nh, p = b[p], p+(int(b[p+1])+1)*8
				continue
			case 44: // fragment
				if m.end < p+8 {
					return false
				}
				m.frag = true
				fo := binary.BigEndian.Uint16(b[p+2:]) &^ 7
				nh, p = b[p], p+8
				if fo != 0 {
					m.proto = nh
					pi.Bytes = uint32(m.end - off)
					return true // non-first fragment: no transport header
				}
				continue
			}
			break
		}
		m.proto, m.l4 = nh, p
		pi.Bytes = uint32(m.end - off)
	default:
		return false
	}
	f.Protocol = ipvs.Protocol(m.proto)
	if m.l4 == 0 {
		return true
	}
	l4 := b[m.l4:m.end]
	switch m.proto {
	case protoTCP:
		if len(l4) < 20 {
			return false
		}
		f.SrcPort, f.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		pi.TCPFlags = l4[13]
	case protoUDP:
		if len(l4) < 8 {
			return false
		}
		f.SrcPort, f.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		pi.Payload = l4[8:]
	case protoSCTP:
		if len(l4) < 16 {
			return false
		}
		f.SrcPort, f.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		pi.SCTPChunk = sctpEffectiveChunk(l4[12:])
	case protoICMP, protoICMPv6:
		if len(l4) < 8 {
			return false
		}
		m.icmpType, m.icmpCode = l4[0], l4[1]
	}
	return true
}

// sctpEffectiveChunk is the chunk IPVS's state machine sees: the first one,
// or ABORT when a COOKIE ECHO or COOKIE ACK is followed by an ABORT.
func sctpEffectiveChunk(chunks []byte) uint8 {
	t := chunks[0]
	if (t == ipvs.SCTPChunkCookieEcho || t == ipvs.SCTPChunkCookieAck) && len(chunks) >= 4 {
		clen := int(binary.BigEndian.Uint16(chunks[2:]))
		next := (clen + 3) &^ 3
		if clen >= 4 && len(chunks) > next && chunks[next] == ipvs.SCTPChunkAbort {
			return ipvs.SCTPChunkAbort
		}
	}
	return t
}

// isICMPError reports whether an ICMP message carries an offending packet.
func isICMPError(fam ipvs.Family, typ uint8) bool {
	if fam == ipvs.IPv4 {
		return typ == 3 || typ == 4 || typ == 11 || typ == 12
	}
	return typ < 128 // ICMPv6 errors: 1 unreachable, 2 too big, 3 time exceeded, 4 parameter problem
}

// parseInner parses the packet embedded in an ICMP error (its IP header and
// the first 8 bytes of its transport header).
func parseInner(b []byte, m *frameMeta) bool {
	start := m.l4 + 8
	in := &m.inner
	in.flow = ipvs.Flow{}
	var pi ipvs.PacketInfo
	var im frameMeta
	et := uint16(etherTypeIPv4)
	if m.family == ipvs.IPv6 {
		et = etherTypeIPv6
	}
	// the embedded packet is truncated: parse it over a view that claims its full length
	if len(b) < start+20 {
		return false
	}
	view := b[:m.end]
	if !parseEmbedded(view, start, et, &im, &in.flow, &pi) {
		return false
	}
	in.l3, in.l4, in.proto = im.l3, im.l4, im.proto
	return in.l4 != 0 && (in.proto == protoTCP || in.proto == protoUDP || in.proto == protoSCTP)
}

// parseEmbedded is parseIP for a truncated embedded header: lengths are not checked against the buffer.
func parseEmbedded(b []byte, off int, et uint16, m *frameMeta, f *ipvs.Flow, pi *ipvs.PacketInfo) bool {
	switch et {
	case etherTypeIPv4:
		if b[off]>>4 != 4 {
			return false
		}
		ihl := int(b[off]&0x0f) * 4
		if ihl < 20 || len(b) < off+ihl+8 {
			return false
		}
		f.Family = ipvs.IPv4
		f.Src = ipvs.AddrFrom4([4]byte(b[off+12 : off+16]))
		f.Dst = ipvs.AddrFrom4([4]byte(b[off+16 : off+20]))
		m.l3, m.proto, m.l4 = off, b[off+9], off+ihl
	case etherTypeIPv6:
		if len(b) < off+48 || b[off]>>4 != 6 {
			return false
		}
		f.Family = ipvs.IPv6
		f.Src = ipvs.Addr(b[off+8 : off+24])
		f.Dst = ipvs.Addr(b[off+24 : off+40])
		m.l3, m.proto, m.l4 = off, b[off+6], off+40
	default:
		return false
	}
	f.Protocol = ipvs.Protocol(m.proto)
	f.SrcPort = binary.BigEndian.Uint16(b[m.l4:])
	f.DstPort = binary.BigEndian.Uint16(b[m.l4+2:])
	return true
}
