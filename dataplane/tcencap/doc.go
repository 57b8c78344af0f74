// Package tcencap encapsulates GSO super-frames in IPIP, GUE or GRE (an
// IPv4 packet in IPv4) in the kernel, after gvsd has sent them, so a
// TUN-mode bulk transfer is not cut into MTU-sized packets in user space.
//
// A packet socket's virtio-net header cannot describe GSO inside a tunnel
// (SKB_GSO_IPXIP4, _UDP_TUNNEL, _GRE), so gvsd would otherwise segment
// every super-frame itself (packet.Segment) and encapsulate each segment.
// Instead, the worker sends the inner super-frame whole, with its
// virtio-net header and the MACs of the real server's next hop, on a
// packet socket that goes through the egress qdisc layer (no
// PACKET_QDISC_BYPASS), with an skb mark that names the tunnel (SO_MARK in
// a per-message control message). A TCX egress program on the interface
// (written with cilium/ebpf's asm package: no C compiler needed) looks the
// mark up in a hash map of tunnels (kind, outer addresses, GUE port),
// inserts the room after the Ethernet header with
// bpf_skb_adjust_room(BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
// BPF_F_ADJ_ROOM_FIXED_GSO, with ENCAP_L4_UDP for GUE and ENCAP_L4_GRE for
// GRE), which marks the skb SKB_GSO_IPXIP4, _UDP_TUNNEL or _GRE with its
// inner headers, writes the outer headers as packet.Encap builds them
// (IPv4: TTL, TOS with CE as ECT(0), ID and DF of the inner header; GUE:
// the source port packet.Encap hashes from the inner flow, the tunnel
// port, no UDP checksum, a variant-0 header with protocol 4; GRE: no
// options, EtherType IPv4) and clears the mark. The kernel, or the NIC,
// segments after encapsulation; gso_size is the worker's (the segment size
// that fits the tunnel's path MTU). Tunnels with a GUE UDP checksum or a
// GRE checksum are not for this program: the kernel's segmentation of such
// an skb would not recompute those checksums per segment. Frames without a
// mark of GVS's range (MarkBase) pass untouched; a marked frame whose
// tunnel is unknown is dropped, never sent unencapsulated.
//
// Open fails where the kernel cannot load or attach the program (no root,
// no BPF, no TCX: Linux 6.6 or later); the data path then keeps segmenting
// in user space.
package tcencap
