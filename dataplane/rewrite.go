package dataplane

import (
	"encoding/binary"

	"github.com/govs/gvs/ipvs"
)

// In-place rewrites of a parsed frame. Checksums are updated
// incrementally (RFC 1624); for a CHECKSUM_PARTIAL frame the transport
// field holds the pseudo-header sum, so only the addresses are folded in.

func addrBytes(a *ipvs.Addr, fam ipvs.Family) []byte {
	if fam == ipvs.IPv4 {
		return a[12:16]
	}
	return a[:]
}

// l4CsumField returns the transport checksum field, or nil when there is
// none to update (UDP over IPv4 without checksum, unknown transports).
func l4CsumField(b []byte, m *frameMeta) []byte {
	if m.l4 == 0 {
		return nil
	}
	switch m.proto {
	case protoTCP:
		return b[m.l4+16 : m.l4+18]
	case protoUDP:
		f := b[m.l4+6 : m.l4+8]
		if m.family == ipvs.IPv4 && f[0] == 0 && f[1] == 0 {
			return nil
		}
		return f
	}
	return nil
}

// rewriteAddr replaces the source (src=true) or destination address and
// port of the packet.
func rewriteAddr(b []byte, m *frameMeta, v vnetHdr, src bool, addr *ipvs.Addr, port uint16) {
	full := !v.partial()
	cf := l4CsumField(b, m) // nil: no transport checksum to maintain
	na := addrBytes(addr, m.family)
	var oa []byte
	if m.family == ipvs.IPv4 {
		if src {
			oa = b[m.l3+12 : m.l3+16]
		} else {
			oa = b[m.l3+16 : m.l3+20]
		}
		csumReplace(b[m.l3+10:m.l3+12], oa, na, true)
	} else if src {
		oa = b[m.l3+8 : m.l3+24]
	} else {
		oa = b[m.l3+24 : m.l3+40]
	}
	if cf != nil {
		csumReplace(cf, oa, na, full)
	}
	copy(oa, na)
	if m.l4 == 0 || (m.proto != protoTCP && m.proto != protoUDP && m.proto != protoSCTP) {
		return
	}
	pf := b[m.l4+2 : m.l4+4]
	if src {
		pf = b[m.l4 : m.l4+2]
	}
	var np [2]byte
	binary.BigEndian.PutUint16(np[:], port)
	if cf != nil && full { // ports are not in the pseudo-header
		csumReplace(cf, pf, np[:], true)
	}
	copy(pf, np[:])
	if m.proto == protoUDP && cf != nil && full && cf[0] == 0 && cf[1] == 0 {
		cf[0], cf[1] = 0xff, 0xff // a computed 0 is sent as 0xffff (0 means "no checksum")
	}
	if m.proto == protoSCTP {
		sctpRecompute(b[m.l4:m.end], v)
	}
}

// sctpRecompute recomputes SCTP's CRC32c unless the NIC/peer finishes it.
func sctpRecompute(pkt []byte, v vnetHdr) {
	if v.partial() {
		return // CHECKSUM_PARTIAL with SCTP CRC offload: left for the next hop
	}
	binary.LittleEndian.PutUint32(pkt[8:], 0)
	binary.LittleEndian.PutUint32(pkt[8:], crc32c(pkt))
}

// decTTL decrements the IPv4 TTL / IPv6 hop limit; false when it expires.
func decTTL(b []byte, m *frameMeta) bool {
	if m.family == ipvs.IPv4 {
		ttl := b[m.l3+8]
		if ttl <= 1 {
			return false
		}
		old := [2]byte{ttl, b[m.l3+9]}
		b[m.l3+8] = ttl - 1
		csumReplace(b[m.l3+10:m.l3+12], old[:], b[m.l3+8:m.l3+10], true)
		return true
	}
	if b[m.l3+7] <= 1 {
		return false
	}
	b[m.l3+7]--
	return true
}

// setMACs writes the Ethernet addresses.
func setMACs(b []byte, dst, src *[6]byte) {
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
}
