package packet

// IPv6HeaderLen is the fixed IPv6 header.
const IPv6HeaderLen = 40

// maxExtHeaders bounds the extension header walk (no legitimate packet
// comes close; a long chain is a resource attack).
const maxExtHeaders = 8

// IPv6Header is a view of an IPv6 header.
type IPv6Header []byte

func (h IPv6Header) TrafficClass() uint8 { return h[0]<<4 | h[1]>>4 }
func (h IPv6Header) FlowLabel() uint32   { return be32(h[0:]) & 0xfffff }
func (h IPv6Header) PayloadLen() int     { return int(be16(h[4:])) }
func (h IPv6Header) NextHeader() uint8   { return h[6] }
func (h IPv6Header) HopLimit() uint8     { return h[7] }
func (h IPv6Header) Src() Addr           { return Addr(h[8:24]) }
func (h IPv6Header) Dst() Addr           { return Addr(h[24:40]) }

func parseIPv6(frame []byte, p *Packet) DropReason {
	off := p.L3Off
	if len(frame) < off+IPv6HeaderLen {
		return DropTruncated
	}
	h := IPv6Header(frame[off:])
	if h[0]>>4 != 6 {
		return DropBadIPVersion
	}
	end := off + IPv6HeaderLen + h.PayloadLen()
	if end > len(frame) {
		return DropBadPayloadLen
	}
	p.End = end
	p.Key.Family = IPv6
	p.Key.Src, p.Key.Dst = h.Src(), h.Dst()
	if p.Key.Src.Is4() || p.Key.Dst.Is4() || p.Key.Src[0] == 0xff {
		return DropBadAddress // mapped addresses would alias IPv4 keys
	}
	nh, pos, frag, r := walkIPv6Ext(frame, off+IPv6HeaderLen, end, h[6])
	p.Key.Proto, p.Frag = nh, frag
	if r != DropNone {
		return r
	}
	if frag.IsFragment() {
		if frag.Offset+end-pos > 0xffff {
			return DropBadFragment
		}
		if frag.Offset != 0 {
			if nh == ProtoTCP && frag.Offset == 8 {
				return DropBadFragment
			}
			return DropNone
		}
	}
	return parseL4(frame, p, pos)
}

// walkIPv6Ext skips hop-by-hop, routing, destination options and fragment
// headers from pos, stopping at anything else (an upper-layer protocol,
// ESP, AH, no-next-header). After a non-first fragment header it stops at
// once: the rest is fragment data.
func walkIPv6Ext(frame []byte, pos, end int, nh uint8) (uint8, int, FragInfo, DropReason) {
	var frag FragInfo
	seenFrag := false
	for i := 0; ; i++ {
		switch nh {
		case ProtoHopByHop, ProtoRouting, ProtoDstOpts, ProtoFragment:
		default:
			return nh, pos, frag, DropNone
		}
		if i == maxExtHeaders || (nh == ProtoHopByHop && i != 0) || pos+8 > end {
			return nh, pos, frag, DropBadExtHeader
		}
		if nh == ProtoFragment {
			if seenFrag {
				return nh, pos, frag, DropBadExtHeader
			}
			seenFrag = true
			fo := be16(frame[pos+2:])
			frag = FragInfo{ID: be32(frame[pos+4:]), Offset: int(fo &^ 7), More: fo&1 != 0}
			nh, pos = frame[pos], pos+8
			if frag.Offset != 0 {
				return nh, pos, frag, DropNone
			}
			continue
		}
		l := (int(frame[pos+1]) + 1) * 8
		if pos+l > end {
			return nh, pos, frag, DropBadExtHeader
		}
		nh, pos = frame[pos], pos+l
	}
}

// putIPv6 writes an IPv6 header (flow label 0).
func putIPv6(b []byte, tclass uint8, payload int, nh, hop uint8, src, dst []byte) {
	b[0], b[1], b[2], b[3] = 0x60|tclass>>4, tclass<<4, 0, 0
	put16(b[4:], uint16(payload))
	b[6], b[7] = nh, hop
	copy(b[8:24], src)
	copy(b[24:40], dst)
}
