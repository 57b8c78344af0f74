package dataplane

import "encoding/binary"

// Internet checksums. (Kept local to the data path until package packet,
// which owns the codecs, takes them over.)

// csumAdd adds data to a running one's-complement sum.
func csumAdd(sum uint32, b []byte) uint32 {
	n := len(b)
	i := 0
	for ; i+1 < n; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if i < n {
		sum += uint32(b[i]) << 8
	}
	return sum
}

func csumFold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// checksum is the complemented fold of data.
func checksum(b []byte) uint16 { return ^csumFold(csumAdd(0, b)) }

// csumReplace updates a stored checksum (RFC 1624 eqn 3) for old -> new
// 16-bit words. full: the field holds a complemented checksum; otherwise
// (CHECKSUM_PARTIAL) it holds the uncomplemented pseudo-header sum.
func csumReplace(field []byte, old, new []byte, full bool) {
	c := uint32(binary.BigEndian.Uint16(field))
	if full {
		c = uint32(^uint16(c))
	}
	for i := 0; i+1 < len(old); i += 2 {
		c += uint32(^binary.BigEndian.Uint16(old[i:]))
		c += uint32(binary.BigEndian.Uint16(new[i:]))
	}
	r := csumFold(c)
	if full {
		r = ^r
	}
	binary.BigEndian.PutUint16(field, r)
}

// pseudoSum is the sum of the TCP/UDP pseudo-header.
func pseudoSum(src, dst []byte, proto uint8, length int) uint32 {
	s := csumAdd(0, src)
	s = csumAdd(s, dst)
	s += uint32(proto) + uint32(length)
	return s
}
