package packet

import "encoding/binary"

// The virtio-net header (struct virtio_net_hdr) that precedes every frame
// on a packet socket with PACKET_VNET_HDR (and a TUN device with
// IFF_VNET_HDR): 10 bytes, little-endian as the kernel writes it on x86.
// Offsets in it count from the start of the Ethernet header.
const VnetHeaderLen = 10

// VnetHeader flags.
const (
	VnetNeedsCsum = 1 // CHECKSUM_PARTIAL: the L4 checksum field holds the pseudo-header sum
	VnetDataValid = 2 // checksums already verified (receive only)
)

// VnetHeader GSO types.
const (
	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3 // UFO: one UDP datagram, segmented by IP fragmentation
	GSOTCPv6 = 4
	GSOUDPL4 = 5 // UDP GSO: one datagram per gso_size bytes of payload
	GSOECN   = 0x80
)

// VnetHeader is struct virtio_net_hdr.
type VnetHeader struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // length of the headers (a hint)
	GSOSize    uint16 // payload bytes per segment
	CsumStart  uint16 // where checksumming starts (the L4 header)
	CsumOffset uint16 // the checksum field, from CsumStart
}

// Decode reads the header from the first VnetHeaderLen bytes of b.
func (h *VnetHeader) Decode(b []byte) DropReason {
	if len(b) < VnetHeaderLen {
		return DropTruncated
	}
	*h = VnetHeader{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.LittleEndian.Uint16(b[2:]),
		GSOSize:    binary.LittleEndian.Uint16(b[4:]),
		CsumStart:  binary.LittleEndian.Uint16(b[6:]),
		CsumOffset: binary.LittleEndian.Uint16(b[8:]),
	}
	return DropNone
}

// Encode writes the header into the first VnetHeaderLen bytes of b.
func (h *VnetHeader) Encode(b []byte) DropReason {
	if len(b) < VnetHeaderLen {
		return DropBufferTooSmall
	}
	b[0], b[1] = h.Flags, h.GSOType
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
	return DropNone
}

// SetOffload records the frame's virtio-net header in p after Parse, so
// the transforms keep its invariants: with NEEDS_CSUM the checksum field
// holds a partial sum (NAT folds in only the pseudo-header change), and a
// GSO super-frame is left to the kernel to segment (or to Segment). A
// header that does not describe the parsed packet is DropBadVnetHeader.
func (p *Packet) SetOffload(h *VnetHeader) DropReason {
	p.flags &^= flagPartial
	p.csumStart, p.csumOffset, p.gsoType, p.gsoSize = 0, 0, 0, 0
	if h.Flags&VnetNeedsCsum != 0 {
		if !p.IsIP() || p.L4Off == 0 || p.Frag.IsFragment() || int(h.CsumStart) != p.L4Off {
			return DropBadVnetHeader
		}
		want, kind := -1, uint8(csumInet)
		switch p.Key.Proto {
		case ProtoTCP:
			want = tcpCsumOff
		case ProtoUDP:
			want, kind = udpCsumOff, csumUDP
		case ProtoSCTP:
			want, kind = 8, csumSCTP
		}
		if int(h.CsumOffset) != want {
			return DropBadVnetHeader
		}
		p.setPartial(int(h.CsumStart), int(h.CsumOffset), kind)
	}
	typ := h.GSOType &^ GSOECN
	if typ == GSONone {
		return DropNone
	}
	ok := false
	switch typ {
	case GSOTCPv4:
		ok = p.Key.Family == IPv4 && p.Key.Proto == ProtoTCP
	case GSOTCPv6:
		ok = p.Key.Family == IPv6 && p.Key.Proto == ProtoTCP
	case GSOUDP, GSOUDPL4:
		ok = p.Key.Proto == ProtoUDP && h.GSOType&GSOECN == 0
	}
	if !ok || h.GSOSize == 0 || p.Frag.IsFragment() {
		return DropBadVnetHeader
	}
	p.gsoType, p.gsoSize = h.GSOType, int(h.GSOSize)
	return DropNone
}

// Kinds of partial checksum.
const (
	csumInet = iota // Internet checksum (TCP)
	csumUDP         // Internet checksum where 0 is sent as 0xffff
	csumSCTP        // CRC32c
)

func (p *Packet) setPartial(start, off int, kind uint8) {
	p.flags |= flagPartial
	p.csumStart, p.csumOffset, p.csumKind = start, off, kind
}

// ChecksumPartial reports whether a checksum in the frame is left to the
// kernel or NIC (CHECKSUM_PARTIAL).
func (p *Packet) ChecksumPartial() bool { return p.flags&flagPartial != 0 }

// GSO returns the GSO type and segment size (GSONone, 0 for a plain frame).
func (p *Packet) GSO() (typ uint8, size int) { return p.gsoType, p.gsoSize }

// VnetHeader returns the virtio-net header to send the (transformed) frame
// with: NEEDS_CSUM and where, and the GSO type and size.
func (p *Packet) VnetHeader() VnetHeader {
	var h VnetHeader
	if p.flags&flagPartial != 0 {
		h.Flags = VnetNeedsCsum
		h.CsumStart, h.CsumOffset = uint16(p.csumStart), uint16(p.csumOffset)
	}
	if p.gsoType != GSONone {
		h.GSOType, h.GSOSize = p.gsoType, uint16(p.gsoSize)
		h.HdrLen = uint16(p.PayloadOff)
	}
	return h
}

// CompleteChecksum finishes a CHECKSUM_PARTIAL checksum in software (for
// a destination that cannot, or before sending without a virtio-net
// header): the Internet checksum from the checksum start to the end of
// the packet, over the partial sum already in the field, or SCTP's CRC32c.
// A frame without a partial checksum is left alone.
func CompleteChecksum(frame []byte, p *Packet) DropReason {
	if p.flags&flagPartial == 0 {
		return DropNone
	}
	start, off := p.csumStart, p.csumOffset
	if start < 0 || start+off+2 > p.End || p.End > len(frame) {
		return DropBadVnetHeader
	}
	region := frame[start:p.End]
	if p.csumKind == csumSCTP {
		sctpChecksum(region)
	} else {
		c := ^fold(sum(region, 0))
		if c == 0 && p.csumKind == csumUDP {
			c = 0xffff // 0 would mean "no checksum"
		}
		put16(region[off:], c)
	}
	p.flags &^= flagPartial
	return DropNone
}
