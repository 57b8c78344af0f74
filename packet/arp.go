package packet

// ARP for the VIPs: the data path answers requests for the addresses it
// owns and announces them with gratuitous ARP.

const (
	ARPRequest = 1
	ARPReply   = 2
	arpLen     = 28 // Ethernet/IPv4 ARP
)

// ARPHeader is a view of an Ethernet/IPv4 ARP packet.
type ARPHeader []byte

func (a ARPHeader) Op() uint16 { return be16(a[6:]) }
func (a ARPHeader) SHA() MAC   { return MAC(a[8:14]) }
func (a ARPHeader) SPA() Addr  { return AddrFrom4([4]byte(a[14:18])) }
func (a ARPHeader) THA() MAC   { return MAC(a[18:24]) }
func (a ARPHeader) TPA() Addr  { return AddrFrom4([4]byte(a[24:28])) }

// ARP returns the view of a frame parsed as ARP (IsARP).
func (p *Packet) ARP(frame []byte) ARPHeader { return ARPHeader(frame[p.L3Off : p.L3Off+arpLen]) }

func parseARP(frame []byte, p *Packet) DropReason {
	if len(frame) < p.L3Off+arpLen {
		return DropTruncated
	}
	a := ARPHeader(frame[p.L3Off:])
	if be16(a[0:]) != 1 || be16(a[2:]) != EtherTypeIPv4 || a[4] != 6 || a[5] != 4 {
		return DropBadARP
	}
	if op := a.Op(); op != ARPRequest && op != ARPReply {
		return DropBadARP
	}
	p.End = p.L3Off + arpLen
	return DropNone
}

func putARP(b []byte, op uint16, sha MAC, spa []byte, tha MAC, tpa []byte) {
	put16(b[0:], 1)
	put16(b[2:], EtherTypeIPv4)
	b[4], b[5] = 6, 4
	put16(b[6:], op)
	copy(b[8:14], sha[:])
	copy(b[14:18], spa)
	copy(b[18:24], tha[:])
	copy(b[24:28], tpa)
}

// BuildARPReply writes into dst the reply to the ARP request req (parsed
// into p): the requested address is at mac. The reply goes to the
// requester on the request's VLAN. It returns the frame's length (the
// driver pads it to the Ethernet minimum).
func BuildARPReply(dst, req []byte, p *Packet, mac MAC) (int, DropReason) {
	if !p.IsARP() || p.End > len(req) {
		return 0, DropBadARP
	}
	a := p.ARP(req)
	if a.Op() != ARPRequest {
		return 0, DropBadARP
	}
	if len(dst) < p.L3Off+arpLen {
		return 0, DropBufferTooSmall
	}
	l2 := replyL2(dst, req, p, mac, EtherTypeARP)
	putARP(dst[l2:], ARPReply, mac, a[24:28], a.SHA(), a[14:18])
	return l2 + arpLen, DropNone
}

// BuildGratuitousARP writes an ARP announcement of ip at mac (a broadcast
// request with sender and target address both ip, RFC 5227), as sent when
// a VIP is brought up or moves, and returns its length.
func BuildGratuitousARP(dst []byte, mac MAC, ip Addr) (int, DropReason) {
	if !ip.Is4() {
		return 0, DropFamilyMismatch
	}
	if len(dst) < EtherHeaderLen+arpLen {
		return 0, DropBufferTooSmall
	}
	l2 := putEther(dst, BroadcastMAC, mac, 0, EtherTypeARP)
	putARP(dst[l2:], ARPRequest, mac, ip[12:16], MAC{}, ip[12:16])
	return l2 + arpLen, DropNone
}

// BuildARPRequest writes a broadcast request asking who has target, from
// src at mac (next-hop resolution), and returns its length.
func BuildARPRequest(dst []byte, mac MAC, src, target Addr) (int, DropReason) {
	if !src.Is4() || !target.Is4() {
		return 0, DropFamilyMismatch
	}
	if len(dst) < EtherHeaderLen+arpLen {
		return 0, DropBufferTooSmall
	}
	l2 := putEther(dst, BroadcastMAC, mac, 0, EtherTypeARP)
	putARP(dst[l2:], ARPRequest, mac, src[12:16], MAC{}, target[12:16])
	return l2 + arpLen, DropNone
}
