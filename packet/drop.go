package packet

// DropReason says why a frame was refused: malformed on input, or not
// transformable as asked. The zero value, DropNone, means success. The data
// path counts drops per reason, so the set is small, stable and indexable.
type DropReason uint8

const (
	DropNone                DropReason = iota
	DropTruncated                      // a header runs past the end of the frame
	DropTooManyVLANs                   // more than two 802.1Q/802.1ad tags
	DropBadARP                         // ARP other than Ethernet/IPv4 request or reply
	DropBadIPVersion                   // IP version nibble disagrees with the EtherType
	DropBadIHL                         // IPv4 header length below 20 bytes
	DropBadTotalLen                    // IPv4 total length shorter than the header or longer than the frame
	DropBadIPChecksum                  // IPv4 header checksum does not verify
	DropBadIPOptions                   // malformed IPv4 option list
	DropBadPayloadLen                  // IPv6 payload length longer than the frame (or a jumbogram)
	DropBadAddress                     // IPv6 packet with an IPv4-mapped or multicast source address
	DropBadExtHeader                   // truncated, misplaced or too many IPv6 extension headers
	DropBadFragment                    // fragment that cannot be valid (too long, tiny first fragment, TCP offset 8)
	DropBadTCPHeader                   // TCP data offset below 5 or past the packet
	DropBadUDPLength                   // UDP length below 8 or past the packet
	DropBadSCTPHeader                  // SCTP packet without a common header and one chunk header
	DropBadICMP                        // ICMP message shorter than its 8-byte header
	DropBadICMPQuote                   // ICMP error whose quoted packet cannot be parsed
	DropBadNDP                         // neighbour discovery message that RFC 4861 says to ignore
	DropBadVnetHeader                  // virtio-net header inconsistent with the frame
	DropTTLExceeded                    // TTL or hop limit would reach 0: send ICMP time exceeded
	DropTooBig                         // larger than the path MTU and may not be fragmented: send frag-needed / packet-too-big
	DropMTUTooSmall                    // path MTU minus the tunnel overhead is below the family minimum
	DropNoHeadroom                     // not enough headroom in front of the frame to encapsulate
	DropBufferTooSmall                 // an output buffer cannot hold the frame to build
	DropFamilyMismatch                 // address of the other family (mixed-family NAT is not supported)
	DropNotIP                          // the transform needs an IPv4 or IPv6 packet
	DropUnsupportedProtocol            // the transform needs TCP, UDP or SCTP (or an ICMP error)
	DropFragmented                     // the transform needs the whole datagram (SCTP CRC, segmentation)
	DropGSO                            // a GSO super-frame must be segmented first (see Segment)
	DropICMPSuppressed                 // RFC 1122/4443 forbid an ICMP error about this packet
	DropDontFragment                   // Fragment on a packet with DF set
	NumDropReasons                     // number of reasons, for counter arrays
)

var dropNames = [NumDropReasons]string{
	"none", "truncated", "too_many_vlans", "bad_arp", "bad_ip_version", "bad_ihl",
	"bad_total_len", "bad_ip_checksum", "bad_ip_options", "bad_payload_len", "bad_address",
	"bad_ext_header", "bad_fragment", "bad_tcp_header", "bad_udp_length", "bad_sctp_header",
	"bad_icmp", "bad_icmp_quote", "bad_ndp", "bad_vnet_header", "ttl_exceeded", "too_big",
	"mtu_too_small", "no_headroom", "buffer_too_small", "family_mismatch", "not_ip",
	"unsupported_protocol", "fragmented", "gso", "icmp_suppressed", "dont_fragment",
}

// String returns the reason's metric label (snake_case).
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropNames[r]
	}
	return "unknown"
}
