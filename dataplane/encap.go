package dataplane

import (
	"encoding/binary"

	"github.com/govs/gvs/ipvs"
)

// Tunnel encapsulation as IPVS does it (ip_vs_tunnel_xmit): an outer IP
// header from the director's address on the path to the real server, TTL
// and TOS copied from the inner packet, DF copied from an inner IPv4
// packet (set for IPv6, which routers never fragment), and for
// --tun-type gue a UDP header and a GUE header (variant 0, the inner
// protocol in proto/ctype), for gre a GRE header with the inner EtherType
// and an optional checksum.

// encapLen is the outer header size for a tunnel (without Ethernet).
func encapLen(fwd *ipvs.Forwarding, outer ipvs.Family) int {
	n := 20
	if outer == ipvs.IPv6 {
		n = 40
	}
	switch fwd.TunnelType {
	case ipvs.TunnelGUE:
		n += 8 + 4
	case ipvs.TunnelGRE:
		n += 4
		if fwd.TunnelFlags&ipvs.TunnelCsum != 0 {
			n += 4
		}
	}
	return n
}

// encapsulate wraps the IP packet buf[ipStart:ipEnd] in place, writing the
// outer headers and a fresh Ethernet header right before it (the buffer
// must have that much room before ipStart). It returns the new frame's
// start. inner is the inner packet's family; flow feeds GUE's source port.
func encapsulate(buf []byte, ipStart, ipEnd int, inner ipvs.Family, v *ipvs.Verdict, hop *nextHop, id uint16, flow *ipvs.Flow) int {
	fwd := &v.Forwarding
	outerFam := v.DestFamily
	n := encapLen(fwd, outerFam)
	start := ipStart - n - 14
	ip := buf[start+14:]
	innerPkt := buf[ipStart:ipEnd]
	payload := ipEnd - (start + 14) // everything after the outer IP header start
	var ttl, tos uint8
	df := true
	innerProto := uint8(protoIPIP)
	et := uint16(etherTypeIPv4)
	if inner == ipvs.IPv4 {
		ttl, tos = innerPkt[8], innerPkt[1]
		df = innerPkt[6]&0x40 != 0
	} else {
		ttl = innerPkt[7]
		tos = innerPkt[0]<<4 | innerPkt[1]>>4
		innerProto = protoIPv6
		et = etherTypeIPv6
	}
	proto := innerProto
	hdr := 20
	if outerFam == ipvs.IPv6 {
		hdr = 40
	}
	switch fwd.TunnelType {
	case ipvs.TunnelGUE:
		proto = protoUDP
	case ipvs.TunnelGRE:
		proto = protoGRE
	}
	src := addrBytesOf(hop.srcAddr, outerFam)
	dst := addrBytes(&v.Dest, outerFam)
	if outerFam == ipvs.IPv4 {
		putIPv4(ip, src, dst, proto, ttl, payload-20, id, df)
		ip[1] = tos
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], checksum(ip[:20]))
	} else {
		putIPv6(ip, src, dst, proto, ttl, payload-40)
		ip[0] |= tos >> 4
		ip[1] |= tos << 4
	}
	ext := ip[hdr:]
	switch fwd.TunnelType {
	case ipvs.TunnelGUE:
		udp := ext[:8]
		sport := uint16(0xc000) | uint16(flow.SrcPort^flow.DstPort^uint16(flow.Src[15])^uint16(flow.Src[14])<<8)&0x3fff
		binary.BigEndian.PutUint16(udp[0:], sport)
		binary.BigEndian.PutUint16(udp[2:], fwd.TunnelPort)
		binary.BigEndian.PutUint16(udp[4:], uint16(payload-hdr))
		udp[6], udp[7] = 0, 0
		gue := ext[8:12]
		gue[0], gue[1], gue[2], gue[3] = 0, innerProto, 0, 0 // version 0, no options
		if fwd.TunnelFlags&(ipvs.TunnelCsum|ipvs.TunnelRemCsum) != 0 {
			ps := pseudoSum(src, dst, protoUDP, payload-hdr)
			c := ^csumFold(csumAdd(ps, ext[:payload-hdr]))
			if c == 0 {
				c = 0xffff
			}
			binary.BigEndian.PutUint16(udp[6:], c)
		}
	case ipvs.TunnelGRE:
		g := ext[:4]
		binary.BigEndian.PutUint16(g[2:], et)
		g[0], g[1] = 0, 0
		if fwd.TunnelFlags&ipvs.TunnelCsum != 0 {
			g[0] = 0x80 // C bit
			ext[4], ext[5], ext[6], ext[7] = 0, 0, 0, 0
			binary.BigEndian.PutUint16(ext[4:], checksum(ext[:payload-hdr]))
		}
	}
	outerET := uint16(etherTypeIPv4)
	if outerFam == ipvs.IPv6 {
		outerET = etherTypeIPv6
	}
	putEth(buf[start:], &hop.dst, &hop.src, outerET)
	return start
}

func addrBytesOf(a interface{ As16() [16]byte }, fam ipvs.Family) []byte {
	b := a.As16()
	if fam == ipvs.IPv4 {
		return b[12:16]
	}
	return b[:]
}
