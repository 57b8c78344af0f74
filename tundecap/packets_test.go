package tundecap

import (
	"encoding/binary"
	"net/netip"
)

// Hand-built packets for the tests: headers written field by field, the
// way a director puts them on the wire.

var (
	client4 = netip.MustParseAddr("10.0.1.2")
	vip4    = netip.MustParseAddr("10.0.2.100")
	dir4    = netip.MustParseAddr("10.0.2.1")
	client6 = netip.MustParseAddr("fd00:1::2")
	vip6    = netip.MustParseAddr("fd00:2::100")
	dir6    = netip.MustParseAddr("fd00:2::1")
)

func ipv4Packet(src, dst netip.Addr, proto byte, payload []byte) []byte {
	p := make([]byte, 20+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], 0x1234)
	p[6] = 0x40 // DF
	p[8] = 64
	p[9] = proto
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], Checksum(p[:20]))
	copy(p[20:], payload)
	return p
}

func ipv6Packet(src, dst netip.Addr, next byte, payload []byte) []byte {
	p := make([]byte, 40+len(payload))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(payload)))
	p[6] = next
	p[7] = 64
	s, d := src.As16(), dst.As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	copy(p[40:], payload)
	return p
}

// pseudoSum is the folded pseudo-header sum for a transport segment.
func pseudoSum(src, dst netip.Addr, proto byte, length int) uint32 {
	var s uint32
	s = sum16(src.AsSlice(), s)
	s = sum16(dst.AsSlice(), s)
	return s + uint32(proto) + uint32(length)
}

// transport builds a TCP or UDP segment; partial leaves only the
// pseudo-header sum in the checksum field, as a CHECKSUM_PARTIAL segment
// carries it.
func transport(proto byte, src, dst netip.Addr, sport, dport uint16, payload []byte, partial bool) []byte {
	hl, field := 8, 6
	if proto == protoTCP {
		hl, field = 20, 16
	}
	seg := make([]byte, hl+len(payload))
	binary.BigEndian.PutUint16(seg[0:], sport)
	binary.BigEndian.PutUint16(seg[2:], dport)
	if proto == protoUDP {
		binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)))
	} else {
		binary.BigEndian.PutUint32(seg[4:], 1000) // seq
		seg[12] = 5 << 4                          // data offset
		seg[13] = 0x18                            // PSH ACK
		binary.BigEndian.PutUint16(seg[14:], 65535)
	}
	copy(seg[hl:], payload)
	ps := pseudoSum(src, dst, proto, len(seg))
	if partial {
		binary.BigEndian.PutUint16(seg[field:], fold(ps))
	} else {
		c := ^fold(sum16(seg, ps))
		if c == 0 && proto == protoUDP {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(seg[field:], c)
	}
	return seg
}

// innerUDP is a client's UDP datagram to the VIP: what the director tunnels.
func innerUDP(v6 bool, payload string, partial bool) []byte {
	if v6 {
		return ipv6Packet(client6, vip6, protoUDP, transport(protoUDP, client6, vip6, 40000, 9000, []byte(payload), partial))
	}
	return ipv4Packet(client4, vip4, protoUDP, transport(protoUDP, client4, vip4, 40000, 9000, []byte(payload), partial))
}

func innerTCP(v6 bool, payload string, partial bool) []byte {
	if v6 {
		return ipv6Packet(client6, vip6, protoTCP, transport(protoTCP, client6, vip6, 40000, 80, []byte(payload), partial))
	}
	return ipv4Packet(client4, vip4, protoTCP, transport(protoTCP, client4, vip4, 40000, 80, []byte(payload), partial))
}

func ipProto(inner []byte) byte {
	if inner[0]>>4 == 6 {
		return ProtoIPv6
	}
	return ProtoIPIP
}

// greOptions are the optional GRE fields.
type greOptions struct {
	csum, key, seq bool
	etherType      uint16 // default from the inner packet
}

func grePacket(inner []byte, o greOptions) []byte {
	et := o.etherType
	if et == 0 {
		et = etherTypeIPv4
		if inner[0]>>4 == 6 {
			et = etherTypeIPv6
		}
	}
	var flags uint16
	h := 4
	if o.csum {
		flags |= greChecksum
		h += 4
	}
	if o.key {
		flags |= greKey
		h += 4
	}
	if o.seq {
		flags |= greSequence
		h += 4
	}
	p := make([]byte, h+len(inner))
	binary.BigEndian.PutUint16(p, flags)
	binary.BigEndian.PutUint16(p[2:], et)
	off := 4
	if o.csum {
		off += 4
	}
	if o.key {
		binary.BigEndian.PutUint32(p[off:], 0xdeadbeef)
		off += 4
	}
	if o.seq {
		binary.BigEndian.PutUint32(p[off:], 7)
	}
	copy(p[h:], inner)
	if o.csum {
		binary.BigEndian.PutUint16(p[4:], Checksum(p))
	}
	return p
}

// guePacket is a variant 0 GUE header and the inner packet, as IPVS's
// ipvs_gue_encap writes it; remcsum adds the private flags word and the
// remote checksum offload option (start, and the checksum field's
// position, both from the inner packet's start).
func guePacket(inner []byte, remcsum bool, csumStart, csumField uint16) []byte {
	hlen := 0
	if remcsum {
		hlen = 8
	}
	p := make([]byte, 4+hlen+len(inner))
	p[0] = byte(hlen / 4)
	p[1] = ipProto(inner)
	if remcsum {
		binary.BigEndian.PutUint16(p[2:], gueFlagPriv)
		binary.BigEndian.PutUint32(p[4:], guePrivRemCsum)
		binary.BigEndian.PutUint16(p[8:], csumStart)
		binary.BigEndian.PutUint16(p[10:], csumField)
	}
	copy(p[4+hlen:], inner)
	return p
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func with(b []byte, at int, v ...byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[at:], v)
	return c
}
