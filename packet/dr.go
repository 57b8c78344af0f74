package packet

// DirectRoute forwards a packet to a real server by direct routing: the
// IP packet is unchanged but for the TTL, and the frame is re-addressed
// to the real server's MAC (dst) from the director's interface (src).
//
// TTL: modern kernels decrement it for DR too (decrement_ttl is called
// from __ip_vs_get_out_rt for every non-local route, whatever the
// forwarding method), so GVS does, and refuses with DropTTLExceeded at 1.
func DirectRoute(frame []byte, p *Packet, dst, src MAC) DropReason {
	if r := DecrementTTL(frame, p); r != DropNone {
		return r
	}
	RewriteMAC(frame, dst, src)
	return DropNone
}
