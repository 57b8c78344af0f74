package packet

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// Internet checksum arithmetic (RFC 1071, RFC 1624). A "sum" is an
// unfolded ones' complement accumulator; fold reduces it to 16 bits.
// Summing big-endian 64-bit words is the same ones' complement sum as
// summing 16-bit words, because 2^16 = 1 modulo 0xffff.

// sum adds b to acc and returns at most 32 bits. Pieces chained through acc must have even lengths,
// except the last.
func sum(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b)), c)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), c)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0])<<8, c)
	}
	acc, c = bits.Add64(acc, c, 0)
	acc += c
	// at most 32 bits, so callers can add a few sums without overflow
	acc = acc&0xffffffff + acc>>32
	return acc&0xffffffff + acc>>32
}

// fold reduces a sum to 16 bits with end-around carries.
func fold(acc uint64) uint16 {
	acc = acc&0xffffffff + acc>>32
	acc = acc&0xffffffff + acc>>32
	acc = acc&0xffff + acc>>16
	acc = acc&0xffff + acc>>16
	return uint16(acc)
}

// Checksum returns the Internet checksum of b (the complemented fold).
func Checksum(b []byte) uint16 { return ^fold(sum(b, 0)) }

// pseudoSum is the sum of the TCP/UDP/ICMPv6 pseudo-header; src and dst
// are 4 or 16 bytes.
func pseudoSum(src, dst []byte, proto uint8, length int) uint64 {
	return sum(dst, sum(src, uint64(proto)+uint64(length)))
}

// delta returns the sum that turns a checksum over old into one over new
// (RFC 1624: ~m + m'), at most 32 bits; old and new have the same even
// length. The complement of a 64- or 32-bit word is its ones' complement
// negation, as for 16-bit words (2^64-1 and 2^32-1 are multiples of 0xffff).
func delta(old, new []byte) uint64 {
	var acc, c uint64
	for len(old) >= 8 && len(new) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(new), c)
		acc, c = bits.Add64(acc, ^binary.BigEndian.Uint64(old), c)
		old, new = old[8:], new[8:]
	}
	if len(old) >= 4 && len(new) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint32(new))+uint64(^binary.BigEndian.Uint32(old)), c)
		old, new = old[4:], new[4:]
	}
	if len(old) >= 2 && len(new) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(new))+uint64(^binary.BigEndian.Uint16(old)), c)
	}
	acc, c = bits.Add64(acc, c, 0)
	acc += c
	acc = acc&0xffffffff + acc>>32
	return acc&0xffffffff + acc>>32
}

// delta16 is delta for one 16-bit word.
func delta16(old, new uint16) uint64 { return uint64(^old) + uint64(new) }

// applyDelta updates a stored checksum field by d (RFC 1624 eqn 3). A
// partial field (CHECKSUM_PARTIAL) holds the uncomplemented pseudo-header
// sum instead of a checksum.
func applyDelta(field []byte, d uint64, partial bool) {
	c := binary.BigEndian.Uint16(field)
	if partial {
		binary.BigEndian.PutUint16(field, fold(uint64(c)+d))
		return
	}
	binary.BigEndian.PutUint16(field, ^fold(uint64(^c)+d))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sctpChecksum recomputes the CRC32c of an SCTP packet in place (stored
// little-endian, as the kernel's cpu_to_le32 does).
func sctpChecksum(pkt []byte) {
	clear(pkt[8:12])
	binary.LittleEndian.PutUint32(pkt[8:12], crc32.Checksum(pkt, castagnoli))
}

// RecomputeChecksum writes the full TCP or UDP checksum of a parsed,
// unfragmented IPv4 packet, or IPv6 one without extension headers,
// whatever its field held, and clears any partial state. A frame that a
// BPF program copied out of the kernel comes without its virtio-net
// header: when its sender left the checksum to offload (CHECKSUM_PARTIAL)
// the field holds only the pseudo-header's sum, and nothing says so.
func RecomputeChecksum(frame []byte, p *Packet) DropReason {
	if p.L4Off == 0 || p.Frag.IsFragment() || p.End > len(frame) {
		return DropFragmented
	}
	var src, dst []byte
	switch p.Key.Family {
	case IPv4:
		src, dst = frame[p.L3Off+12:p.L3Off+16], frame[p.L3Off+16:p.L3Off+20]
	case IPv6:
		if p.L4Off != p.L3Off+40 {
			return DropBadExtHeader
		}
		src, dst = frame[p.L3Off+8:p.L3Off+24], frame[p.L3Off+24:p.L3Off+40]
	default:
		return DropNotIP
	}
	seg := frame[p.L4Off:p.End]
	off := tcpCsumOff
	switch p.Key.Proto {
	case ProtoTCP:
	case ProtoUDP:
		off = udpCsumOff
	default:
		return DropUnsupportedProtocol
	}
	if len(seg) < off+2 {
		return DropTruncated
	}
	seg[off], seg[off+1] = 0, 0
	c := ^fold(sum(seg, pseudoSum(src, dst, p.Key.Proto, len(seg))))
	if c == 0 && p.Key.Proto == ProtoUDP {
		c = 0xffff // 0 would mean "no checksum"
	}
	put16(seg[off:], c)
	p.flags &^= flagPartial
	return DropNone
}
