package dataplane

import "encoding/binary"

// The virtio-net header (struct virtio_net_hdr, little-endian on x86) that
// precedes every frame on GVS's packet sockets and TUN device.
const (
	vnetLen       = 10
	vnetNeedsCsum = 1
	vnetDataValid = 2
	gsoNone       = 0
	gsoTCPv4      = 1
	gsoUDP        = 3
	gsoTCPv6      = 4
	gsoUDPL4      = 5
	gsoECN        = 0x80
)

type vnetHdr []byte // 10 bytes

func (v vnetHdr) flags() uint8       { return v[0] }
func (v vnetHdr) gsoType() uint8     { return v[1] &^ gsoECN }
func (v vnetHdr) gsoSize() int       { return int(binary.LittleEndian.Uint16(v[4:])) }
func (v vnetHdr) csumStart() int     { return int(binary.LittleEndian.Uint16(v[6:])) }
func (v vnetHdr) csumOffset() int    { return int(binary.LittleEndian.Uint16(v[8:])) }
func (v vnetHdr) partial() bool      { return v[0]&vnetNeedsCsum != 0 }
func (v vnetHdr) setCsumStart(n int) { binary.LittleEndian.PutUint16(v[6:], uint16(n)) }
func (v vnetHdr) setHdrLen(n int)    { binary.LittleEndian.PutUint16(v[2:], uint16(n)) }
func (v vnetHdr) clear()             { clear(v[:vnetLen]) }

// completeChecksum finishes a CHECKSUM_PARTIAL frame in software: the
// transport checksum field holds the pseudo-header sum; sum the rest.
func completeChecksum(frame []byte, v vnetHdr) bool {
	start, off := v.csumStart(), v.csumOffset()
	if start+off+2 > len(frame) {
		return false
	}
	field := frame[start+off:]
	s := csumAdd(0, frame[start:])
	c := ^csumFold(s)
	if c == 0 && off == 6 { // UDP: 0 means "no checksum"
		c = 0xffff
	}
	binary.BigEndian.PutUint16(field, c)
	v[0] &^= vnetNeedsCsum
	v[0] |= vnetDataValid
	return true
}

// segmentTCP splits a TCP GSO super-frame into MTU-sized segments with
// correct headers and full checksums. alloc provides the buffer each
// segment is written to (nil stops the split); emit receives it.
func segmentTCP(frame []byte, l3, l4 int, fam4 bool, gsoSize int, alloc func() []byte, emit func(seg []byte)) bool {
	thl := int(frame[l4+12]>>4) * 4
	hdr := l4 + thl
	if thl < 20 || hdr > len(frame) || gsoSize <= 0 {
		return false
	}
	payload := frame[hdr:]
	seq := binary.BigEndian.Uint32(frame[l4+4:])
	flags := frame[l4+13]
	var id uint16
	if fam4 {
		id = binary.BigEndian.Uint16(frame[l3+4:])
	}
	for off, n := 0, 0; off < len(payload); n++ {
		size := min(gsoSize, len(payload)-off)
		last := off+size >= len(payload)
		buf := alloc()
		if buf == nil || hdr+size > len(buf) {
			return false
		}
		seg := buf[:hdr+size]
		copy(seg, frame[:hdr])
		copy(seg[hdr:], payload[off:off+size])
		binary.BigEndian.PutUint32(seg[l4+4:], seq+uint32(off))
		f := flags
		if !last {
			f &^= 0x01 | 0x08 // FIN, PSH only on the last segment
		}
		if n > 0 {
			f &^= 0x80 // CWR only on the first
		}
		seg[l4+13] = f
		iplen := len(seg) - l3
		if fam4 {
			binary.BigEndian.PutUint16(seg[l3+2:], uint16(iplen))
			binary.BigEndian.PutUint16(seg[l3+4:], id+uint16(n))
			seg[l3+10], seg[l3+11] = 0, 0
			binary.BigEndian.PutUint16(seg[l3+10:], checksum(seg[l3:l4]))
		} else {
			binary.BigEndian.PutUint16(seg[l3+4:], uint16(iplen-40))
		}
		seg[l4+16], seg[l4+17] = 0, 0
		var ps uint32
		if fam4 {
			ps = pseudoSum(seg[l3+12:l3+16], seg[l3+16:l3+20], protoTCP, len(seg)-l4)
		} else {
			ps = pseudoSum(seg[l3+8:l3+24], seg[l3+24:l3+40], protoTCP, len(seg)-l4)
		}
		binary.BigEndian.PutUint16(seg[l4+16:], ^csumFold(csumAdd(ps, seg[l4:])))
		emit(seg)
		off += size
	}
	return true
}
