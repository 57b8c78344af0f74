package packet

// Software segmentation of GSO super-frames, for where the kernel cannot
// take them whole: an encapsulated super-frame (virtio_net_hdr has no
// tunnel GSO types), or a destination without GSO. Each segment is a
// complete frame with full checksums, written into a caller's buffer.

// MaxSegment is the largest segment payload that keeps p's packets within
// an IP MTU of mtu (e.g. Tunnel.InnerMTU): mtu minus the IP and
// transport headers.
func MaxSegment(p *Packet, mtu int) int { return mtu - (p.PayloadOff - p.L3Off) }

// Segment splits the TCP or UDP super-frame frame (parsed into p) into
// segments of at most size payload bytes (p's GSO size, or less to fit an
// MTU: see MaxSegment), each written with all of frame's headers into
// out[i] at its current start, and returns how many. TCP segments get
// consecutive sequence numbers and IPv4 identifications, FIN and PSH on
// the last only, CWR on the first only (as the kernel's tcp_gso_segment);
// UDP segments (UDP_L4 GSO) are datagrams of their own. Checksums are
// computed in full (a UDP checksum of 0 over IPv4 stays 0 unless it was a
// partial sum). p is not changed: parse each segment to transform it.
// A GSOUDP (UFO) super-frame is one datagram to send as IP fragments:
// use Fragment for it instead.
func Segment(out []Frame, frame []byte, p *Packet, size int) (int, DropReason) {
	if !p.fits(frame) {
		return 0, DropNotIP
	}
	if p.Key.Proto != ProtoTCP && p.Key.Proto != ProtoUDP {
		return 0, DropUnsupportedProtocol
	}
	if p.Frag.IsFragment() {
		return 0, DropFragmented
	}
	if size <= 0 {
		return 0, DropMTUTooSmall
	}
	l3, l4, hdr, end := p.L3Off, p.L4Off, p.PayloadOff, p.End
	tcp := p.Key.Proto == ProtoTCP
	if !tcp {
		end = l4 + UDPHeader(frame[l4:]).Length()
	}
	payload := frame[hdr:end]
	n := max(1, (len(payload)+size-1)/size)
	if n > len(out) {
		return 0, DropBufferTooSmall
	}
	fam := p.Key.Family
	src, dst := p.Key.Src.bytes(fam), p.Key.Dst.bytes(fam)
	id := be16(frame[l3+4:])
	seq := be32(frame[l4+4:])
	flags := frame[l4+13]
	udpNoCsum := !tcp && fam == IPv4 && p.flags&flagPartial == 0 && be16(frame[l4+udpCsumOff:]) == 0
	for i := range n {
		piece := payload[min(len(payload), i*size):min(len(payload), (i+1)*size)]
		sp := out[i].Space()
		segLen := hdr + len(piece)
		if len(sp) < segLen {
			return i, DropBufferTooSmall
		}
		copy(sp, frame[:hdr])
		copy(sp[hdr:], piece)
		seg := sp[:segLen]
		if fam == IPv4 {
			h := IPv4Header(seg[l3:])
			h.setTotalLen(segLen - l3)
			put16(h[4:], id+uint16(i))
			h.SetChecksum()
		} else {
			put16(seg[l3+4:], uint16(segLen-l3-IPv6HeaderLen))
		}
		l4Len := segLen - l4
		if tcp {
			put32(seg[l4+4:], seq+uint32(i*size))
			f := flags
			if i < n-1 {
				f &^= TCPFin | TCPPsh
			}
			if i > 0 {
				f &^= TCPCwr
			}
			seg[l4+13] = f
			c := seg[l4+tcpCsumOff : l4+tcpCsumOff+2]
			c[0], c[1] = 0, 0
			put16(c, ^fold(sum(seg[l4:], pseudoSum(src, dst, ProtoTCP, l4Len))))
		} else {
			put16(seg[l4+4:], uint16(l4Len))
			c := seg[l4+udpCsumOff : l4+udpCsumOff+2]
			c[0], c[1] = 0, 0
			if !udpNoCsum {
				v := ^fold(sum(seg[l4:], pseudoSum(src, dst, ProtoUDP, l4Len)))
				if v == 0 {
					v = 0xffff
				}
				put16(c, v)
			}
		}
		out[i].SetLen(segLen)
	}
	return n, DropNone
}
