package packet

import "encoding/binary"

// IPv4HeaderLen is the IPv4 header without options.
const IPv4HeaderLen = 20

// IPv4Header is a view of an IPv4 header.
type IPv4Header []byte

func (h IPv4Header) IHL() int          { return int(h[0]&0x0f) * 4 }
func (h IPv4Header) TOS() uint8        { return h[1] }
func (h IPv4Header) TotalLen() int     { return int(be16(h[2:])) }
func (h IPv4Header) ID() uint16        { return be16(h[4:]) }
func (h IPv4Header) DF() bool          { return h[6]&0x40 != 0 }
func (h IPv4Header) MF() bool          { return h[6]&0x20 != 0 }
func (h IPv4Header) FragOffset() int   { return int(be16(h[6:])&0x1fff) * 8 }
func (h IPv4Header) TTL() uint8        { return h[8] }
func (h IPv4Header) Protocol() uint8   { return h[9] }
func (h IPv4Header) Checksum() uint16  { return be16(h[10:]) }
func (h IPv4Header) Src() Addr         { return AddrFrom4([4]byte(h[12:16])) }
func (h IPv4Header) Dst() Addr         { return AddrFrom4([4]byte(h[16:20])) }
func (h IPv4Header) ChecksumOK() bool  { return headerSum(h) == 0xffff }
func (h IPv4Header) SetChecksum()      { h[10], h[11] = 0, 0; put16(h[10:], ^headerSum(h)) }
func (h IPv4Header) setTotalLen(n int) { put16(h[2:], uint16(n)) }

func parseIPv4(frame []byte, p *Packet) DropReason {
	off := p.L3Off
	if len(frame) < off+IPv4HeaderLen {
		return DropTruncated
	}
	h := IPv4Header(frame[off:])
	if h[0]>>4 != 4 {
		return DropBadIPVersion
	}
	ihl := h.IHL()
	if ihl < IPv4HeaderLen {
		return DropBadIHL
	}
	if len(h) < ihl {
		return DropTruncated
	}
	tot := h.TotalLen()
	if tot < ihl || tot > len(h) {
		return DropBadTotalLen
	}
	if !h.ChecksumOK() {
		return DropBadIPChecksum
	}
	if ihl > IPv4HeaderLen && !validIPv4Options(h[IPv4HeaderLen:ihl]) {
		return DropBadIPOptions
	}
	p.End = off + tot
	p.Key.Family, p.Key.Proto = IPv4, h[9]
	setMapped(&p.Key.Src, h[12:16])
	setMapped(&p.Key.Dst, h[16:20])
	p.Frag = FragInfo{ID: uint32(h.ID()), Offset: h.FragOffset(), More: h.MF()}
	if p.Frag.IsFragment() {
		if p.Frag.Offset+tot-ihl > 0xffff {
			return DropBadFragment // would reassemble past 64 KiB (ping of death)
		}
		if p.Frag.Offset != 0 {
			if p.Key.Proto == ProtoTCP && p.Frag.Offset == 8 {
				return DropBadFragment // RFC 1858: rewrites TCP flags of the first fragment
			}
			return DropNone
		}
	}
	return parseL4(frame, p, off+ihl)
}

// headerSum is the folded sum of an IPv4 header: 0xffff when its checksum
// is right. The option-less header, by far the commonest, is summed as
// five 32-bit words.
func headerSum(h IPv4Header) uint16 {
	if h.IHL() != IPv4HeaderLen || len(h) < IPv4HeaderLen {
		return fold(sum(h[:h.IHL()], 0))
	}
	_ = h[19]
	s := uint64(binary.BigEndian.Uint32(h[0:])) + uint64(binary.BigEndian.Uint32(h[4:])) +
		uint64(binary.BigEndian.Uint32(h[8:])) + uint64(binary.BigEndian.Uint32(h[12:])) +
		uint64(binary.BigEndian.Uint32(h[16:]))
	return fold(s)
}

// validIPv4Options checks the option list's type-length structure.
func validIPv4Options(o []byte) bool {
	for i := 0; i < len(o); {
		switch o[i] {
		case 0: // end of list
			return true
		case 1: // no-operation
			i++
		default:
			if i+1 >= len(o) {
				return false
			}
			l := int(o[i+1])
			if l < 2 || i+l > len(o) {
				return false
			}
			i += l
		}
	}
	return true
}

// putIPv4 writes a 20-byte IPv4 header with its checksum.
func putIPv4(b []byte, tos uint8, total int, id uint16, df bool, ttl, proto uint8, src, dst []byte) {
	b[0], b[1] = 0x45, tos
	put16(b[2:], uint16(total))
	put16(b[4:], id)
	b[6], b[7] = 0, 0
	if df {
		b[6] = 0x40
	}
	b[8], b[9] = ttl, proto
	b[10], b[11] = 0, 0
	copy(b[12:16], src)
	copy(b[16:20], dst)
	put16(b[10:], ^headerSum(b[:IPv4HeaderLen]))
}
