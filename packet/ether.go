package packet

import "encoding/binary"

// EtherTypes the package knows.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100 // 802.1Q
	EtherTypeQinQ = 0x88a8 // 802.1ad service tag
	EtherTypeIPv6 = 0x86dd
)

// EtherHeaderLen is an untagged Ethernet header; each VLAN tag adds 4.
const EtherHeaderLen = 14

// EtherHeader is a view of an Ethernet header.
type EtherHeader []byte

func (e EtherHeader) Dst() MAC          { return MAC(e[0:6]) }
func (e EtherHeader) Src() MAC          { return MAC(e[6:12]) }
func (e EtherHeader) EtherType() uint16 { return binary.BigEndian.Uint16(e[12:14]) }

// parseEther walks the Ethernet header and up to two VLAN tags.
func parseEther(frame []byte, p *Packet) DropReason {
	if len(frame) < EtherHeaderLen {
		return DropTruncated
	}
	off, et := EtherHeaderLen, binary.BigEndian.Uint16(frame[12:14])
	for et == EtherTypeVLAN || et == EtherTypeQinQ {
		if p.NumVLAN == uint8(len(p.VLAN)) {
			return DropTooManyVLANs
		}
		if len(frame) < off+4 {
			return DropTruncated
		}
		p.VLAN[p.NumVLAN] = binary.BigEndian.Uint16(frame[off:])
		p.NumVLAN++
		et = binary.BigEndian.Uint16(frame[off+2:])
		off += 4
	}
	p.EtherType, p.L3Off = et, off
	return DropNone
}

// RewriteMAC sets the frame's destination and source MAC addresses.
func RewriteMAC(frame []byte, dst, src MAC) {
	if len(frame) >= 12 {
		copy(frame[0:6], dst[:])
		copy(frame[6:12], src[:])
	}
}

// putEther writes an Ethernet header with an optional VLAN tag (vlan != 0)
// and returns its length.
func putEther(b []byte, dst, src MAC, vlan uint16, et uint16) int {
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	if vlan != 0 {
		binary.BigEndian.PutUint16(b[12:], EtherTypeVLAN)
		binary.BigEndian.PutUint16(b[14:], vlan)
		binary.BigEndian.PutUint16(b[16:], et)
		return EtherHeaderLen + 4
	}
	binary.BigEndian.PutUint16(b[12:], et)
	return EtherHeaderLen
}

// replyL2 writes the link header of a reply to the frame orig (parsed into
// p): the original source becomes the destination, src the source, and the
// original VLAN tags are kept so the reply leaves on the same VLAN. It
// returns the header length.
func replyL2(b []byte, orig []byte, p *Packet, src MAC, et uint16) int {
	copy(b[0:6], orig[6:12])
	copy(b[6:12], src[:])
	n := copy(b[12:p.L3Off-2], orig[12:p.L3Off-2]) + 12
	binary.BigEndian.PutUint16(b[n:], et)
	return n + 2
}
