package dataplane

import (
	"encoding/binary"
	"net/netip"

	"github.com/govs/gvs/ipvs"
)

// genBuf holds the frames a worker builds itself (ARP and neighbour
// answers, ICMP errors, TCP segments of super-frames it must split). Each
// buffer is [headroom | virtio-net header | frame]; all are reusable once
// the batch has been sent.
type genBuf struct {
	bufs [][]byte
	n    int
}

const (
	genBufs     = 512
	genSize     = 2048
	genHeadroom = 128 // room to prepend tunnel headers in place
)

func (g *genBuf) init() {
	mem := make([]byte, genBufs*genSize)
	g.bufs = make([][]byte, genBufs)
	for i := range g.bufs {
		g.bufs[i] = mem[i*genSize : (i+1)*genSize : (i+1)*genSize]
	}
}

// get returns a zeroed virtio-net header and the frame area after it, or
// nil when every buffer is in use until the next flush.
func (g *genBuf) get() (vnet vnetHdr, frame []byte, buf []byte) {
	if g.n == len(g.bufs) {
		return nil, nil, nil
	}
	b := g.bufs[g.n]
	g.n++
	v := vnetHdr(b[genHeadroom : genHeadroom+vnetLen])
	v.clear()
	return v, b[genHeadroom+vnetLen:], b
}

func (g *genBuf) reset() { g.n = 0 }

var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func putEth(b []byte, dst, src *[6]byte, et uint16) {
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:], et)
}

// buildARP writes an ARP packet (op 1 request, 2 reply) and returns its length.
func buildARP(b []byte, ethDst, sha *[6]byte, op uint16, spa, tpa [4]byte, tha [6]byte) int {
	putEth(b, ethDst, sha, etherTypeARP)
	a := b[14:42]
	binary.BigEndian.PutUint16(a[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], op)
	copy(a[8:14], sha[:])
	copy(a[14:18], spa[:])
	copy(a[18:24], tha[:])
	copy(a[24:28], tpa[:])
	return 42
}

func putIPv4(b []byte, src, dst []byte, proto, ttl uint8, payloadLen int, id uint16, df bool) {
	b[0], b[1] = 0x45, 0
	binary.BigEndian.PutUint16(b[2:], uint16(20+payloadLen))
	binary.BigEndian.PutUint16(b[4:], id)
	var fo uint16
	if df {
		fo = 0x4000
	}
	binary.BigEndian.PutUint16(b[6:], fo)
	b[8], b[9] = ttl, proto
	b[10], b[11] = 0, 0
	copy(b[12:16], src)
	copy(b[16:20], dst)
	binary.BigEndian.PutUint16(b[10:], checksum(b[:20]))
}

func putIPv6(b []byte, src, dst []byte, nh, hop uint8, payloadLen int) {
	clear(b[:4])
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(payloadLen))
	b[6], b[7] = nh, hop
	copy(b[8:24], src)
	copy(b[24:40], dst)
}

// icmp6Checksum computes an ICMPv6 checksum over the message with the pseudo-header.
func icmp6Checksum(src, dst, msg []byte) uint16 {
	s := csumAdd(0, src)
	s = csumAdd(s, dst)
	s += uint32(len(msg)) + protoICMPv6
	return ^csumFold(csumAdd(s, msg))
}

// buildNA writes a neighbour advertisement for target from mac.
func buildNA(b []byte, ethDst, mac *[6]byte, src, dst, target netip.Addr, solicited bool) int {
	putEth(b, ethDst, mac, etherTypeIPv6)
	msg := b[14+40 : 14+40+32]
	clear(msg)
	msg[0] = 136
	flags := byte(0x20) // override
	if solicited {
		flags |= 0x40
	}
	msg[4] = flags
	t := target.As16()
	copy(msg[8:24], t[:])
	msg[24], msg[25] = 2, 1 // target link-layer address option
	copy(msg[26:32], mac[:])
	s, d := src.As16(), dst.As16()
	putIPv6(b[14:], s[:], d[:], protoICMPv6, 255, 32)
	binary.BigEndian.PutUint16(msg[2:], icmp6Checksum(s[:], d[:], msg))
	return 14 + 40 + 32
}

// solicitedNode returns the solicited-node multicast address and MAC for target.
func solicitedNode(target netip.Addr) (netip.Addr, [6]byte) {
	t := target.As16()
	a := [16]byte{0xff, 0x02, 11: 1, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]}
	return netip.AddrFrom16(a), [6]byte{0x33, 0x33, 0xff, t[13], t[14], t[15]}
}

// buildNS writes a neighbour solicitation for target.
func buildNS(b []byte, mac *[6]byte, src, target netip.Addr) int {
	dst, dmac := solicitedNode(target)
	putEth(b, &dmac, mac, etherTypeIPv6)
	msg := b[14+40 : 14+40+32]
	clear(msg)
	msg[0] = 135
	t := target.As16()
	copy(msg[8:24], t[:])
	msg[24], msg[25] = 1, 1 // source link-layer address option
	copy(msg[26:32], mac[:])
	s, d := src.As16(), dst.As16()
	putIPv6(b[14:], s[:], d[:], protoICMPv6, 255, 32)
	binary.BigEndian.PutUint16(msg[2:], icmp6Checksum(s[:], d[:], msg))
	return 14 + 40 + 32
}

// buildICMPError answers the packet in orig (an Ethernet frame parsed into
// m) with an ICMP error from src back to its sender, out of the interface
// it came in on. kind: unreach (port unreachable) or tooBig (with mtu).
func buildICMPError(b []byte, orig []byte, m *frameMeta, ifMAC *[6]byte, src ipvs.Addr, tooBig bool, mtu int) int {
	var origSrc [6]byte
	copy(origSrc[:], orig[6:12])
	ipPkt := orig[m.l3:m.end]
	if m.family == ipvs.IPv4 {
		quote := min(len(ipPkt), 576-20-8)
		putEth(b, &origSrc, ifMAC, etherTypeIPv4)
		msg := b[14+20 : 14+20+8+quote]
		clear(msg[:8])
		msg[0], msg[1] = 3, 3 // destination unreachable, port unreachable
		if tooBig {
			msg[1] = 4 // fragmentation needed
			binary.BigEndian.PutUint16(msg[6:], uint16(mtu))
		}
		copy(msg[8:], ipPkt[:quote])
		binary.BigEndian.PutUint16(msg[2:], checksum(msg))
		putIPv4(b[14:], src[12:16], ipPkt[12:16], protoICMP, 64, len(msg), 0, false)
		return 14 + 20 + len(msg)
	}
	quote := min(len(ipPkt), 1280-40-8)
	putEth(b, &origSrc, ifMAC, etherTypeIPv6)
	msg := b[14+40 : 14+40+8+quote]
	clear(msg[:8])
	msg[0], msg[1] = 1, 4 // destination unreachable, port unreachable
	if tooBig {
		msg[0], msg[1] = 2, 0
		binary.BigEndian.PutUint32(msg[4:], uint32(mtu))
	}
	copy(msg[8:], ipPkt[:quote])
	putIPv6(b[14:], src[:], ipPkt[8:24], protoICMPv6, 64, len(msg))
	binary.BigEndian.PutUint16(msg[2:], icmp6Checksum(src[:], ipPkt[8:24], msg))
	return 14 + 40 + len(msg)
}
