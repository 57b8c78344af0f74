package packet

// Path MTU: the ICMP errors that tell a sender to send smaller packets,
// and IP fragmentation for packets that may be fragmented.

// BuildFragNeeded builds the ICMP "fragmentation needed" (IPv4, with the
// next-hop MTU) or ICMPv6 "packet too big" answering the frame orig
// (parsed into p) that cannot be sent whole over a path of the given
// MTU; for a tunnel, pass Tunnel.InnerMTU. See BuildICMPError.
func BuildFragNeeded(dst, orig []byte, p *Packet, src Addr, srcMAC MAC, mtu int) (int, DropReason) {
	if p.Key.Family == IPv6 {
		return BuildICMPError(dst, orig, p, ICMPv6PacketTooBig, 0, uint32(mtu), src, srcMAC)
	}
	return BuildICMPError(dst, orig, p, ICMPv4DestUnreach, ICMPv4FragNeeded, uint32(mtu)&0xffff, src, srcMAC)
}

// Fragment splits the IP packet of frame into fragments of at most mtu
// bytes (IP header included), each written with frame's link header into
// out[i] at its current start; it returns how many. IPv4: the packet must
// not have DF set (DropDontFragment); later fragments keep only the
// options marked "copied" (the others become no-ops, as the kernel's
// ip_options_fragment does). IPv6: a fragment header with identification
// id goes after the per-fragment headers (hop-by-hop, routing); a packet
// that already has one is DropBadFragment. A packet that fits is copied
// whole into out[0].
func Fragment(out []Frame, frame []byte, mtu int, id uint32) (int, DropReason) {
	var p Packet
	if r := parseEther(frame, &p); r != DropNone {
		return 0, r
	}
	switch p.EtherType {
	case EtherTypeIPv4:
		return fragment4(out, frame, p.L3Off, mtu, uint16(id))
	case EtherTypeIPv6:
		return fragment6(out, frame, p.L3Off, mtu, id)
	}
	return 0, DropNotIP
}

func fragment4(out []Frame, frame []byte, l3, mtu int, id uint16) (int, DropReason) {
	if len(frame) < l3+IPv4HeaderLen {
		return 0, DropTruncated
	}
	h := IPv4Header(frame[l3:])
	ihl, tot := h.IHL(), h.TotalLen()
	if ihl < IPv4HeaderLen || tot < ihl || tot > len(h) {
		return 0, DropBadTotalLen
	}
	if tot <= mtu {
		return copyWhole(out, frame[:l3+tot])
	}
	if h.DF() {
		return 0, DropDontFragment
	}
	chunk := (mtu - ihl) &^ 7
	if chunk < 8 {
		return 0, DropMTUTooSmall
	}
	data := h[ihl:tot]
	n := (len(data) + chunk - 1) / chunk
	if n > len(out) {
		return 0, DropBufferTooSmall
	}
	base, more := h.FragOffset(), h.MF()
	for i := range n {
		piece := data[i*chunk : min(len(data), (i+1)*chunk)]
		sp := out[i].Space()
		size := l3 + ihl + len(piece)
		if len(sp) < size {
			return i, DropBufferTooSmall
		}
		copy(sp, frame[:l3+ihl])
		fh := IPv4Header(sp[l3 : l3+ihl])
		if i > 0 {
			nopUncopiedOptions(fh[IPv4HeaderLen:])
		}
		copy(sp[l3+ihl:], piece)
		fh.setTotalLen(ihl + len(piece))
		put16(fh[4:], id)
		fo := uint16((base + i*chunk) / 8)
		if i < n-1 || more {
			fo |= 0x2000
		}
		put16(fh[6:], fo)
		fh.SetChecksum()
		out[i].SetLen(size)
	}
	return n, DropNone
}

// nopUncopiedOptions replaces the options without the "copied" flag.
func nopUncopiedOptions(o []byte) {
	for i := 0; i < len(o); {
		switch t := o[i]; {
		case t == 0:
			return
		case t == 1:
			i++
		default:
			if i+1 >= len(o) {
				return
			}
			l := max(2, int(o[i+1]))
			if t&0x80 == 0 {
				for j := i; j < min(i+l, len(o)); j++ {
					o[j] = 1
				}
			}
			i += l
		}
	}
}

func fragment6(out []Frame, frame []byte, l3, mtu int, id uint32) (int, DropReason) {
	if len(frame) < l3+IPv6HeaderLen {
		return 0, DropTruncated
	}
	end := l3 + IPv6HeaderLen + IPv6Header(frame[l3:]).PayloadLen()
	if end > len(frame) {
		return 0, DropBadPayloadLen
	}
	if end-l3 <= mtu {
		return copyWhole(out, frame[:end])
	}
	// the per-fragment part: the IPv6 header, hop-by-hop and routing
	// headers (with destination options before a routing header); the
	// fragment header goes right after it
	unfrag, nhField := l3+IPv6HeaderLen, l3+6
	pos, nh := unfrag, frame[nhField]
	for i := 0; nh == ProtoHopByHop || nh == ProtoRouting || nh == ProtoDstOpts; i++ {
		if i == maxExtHeaders || pos+8 > end {
			return 0, DropBadExtHeader
		}
		l := (int(frame[pos+1]) + 1) * 8
		if pos+l > end {
			return 0, DropBadExtHeader
		}
		if nh != ProtoDstOpts {
			unfrag, nhField = pos+l, pos
		}
		nh, pos = frame[pos], pos+l
	}
	if nh == ProtoFragment {
		return 0, DropBadFragment
	}
	innerNH := frame[nhField]
	chunk := (mtu - (unfrag - l3) - 8) &^ 7
	if chunk < 8 {
		return 0, DropMTUTooSmall
	}
	data := frame[unfrag:end]
	n := (len(data) + chunk - 1) / chunk
	if n > len(out) {
		return 0, DropBufferTooSmall
	}
	for i := range n {
		piece := data[i*chunk : min(len(data), (i+1)*chunk)]
		sp := out[i].Space()
		size := unfrag + 8 + len(piece)
		if len(sp) < size {
			return i, DropBufferTooSmall
		}
		copy(sp, frame[:unfrag])
		sp[nhField] = ProtoFragment
		fh := sp[unfrag : unfrag+8]
		fh[0], fh[1] = innerNH, 0
		fo := uint16(i * chunk)
		if i < n-1 {
			fo |= 1
		}
		put16(fh[2:], fo)
		put32(fh[4:], id)
		copy(sp[unfrag+8:], piece)
		put16(sp[l3+4:], uint16(size-l3-IPv6HeaderLen))
		out[i].SetLen(size)
	}
	return n, DropNone
}

// copyWhole copies a packet that needs no fragmentation into out[0].
func copyWhole(out []Frame, frame []byte) (int, DropReason) {
	if len(out) == 0 || len(out[0].Space()) < len(frame) {
		return 0, DropBufferTooSmall
	}
	copy(out[0].Space(), frame)
	out[0].SetLen(len(frame))
	return 1, DropNone
}
