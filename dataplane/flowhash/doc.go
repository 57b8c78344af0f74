// Package flowhash is the eBPF program that gives each received frame of a
// packet fanout group to a socket by its flow (PACKET_FANOUT_EBPF), in
// place of the kernel's PACKET_FANOUT_HASH.
//
// The kernel's hash fanout runs the flow dissector for every frame (its
// symmetric hash is never cached in the skb): on the bench VM such a tap
// cost a plain nftables forwarder a few per cent of its small-packet
// rate, while a CPU-fanout tap cost nothing measurable
// (bench/results/profile.md). This
// program reads the few header fields a flow is made of and hashes them:
// IPv4 or IPv6 source and destination addresses, the protocol and, for
// TCP, UDP and SCTP, the two ports. The hash is symmetric (addresses and
// ports are XORed, so a flow's two directions meet), and a fragment
// (IPv4 with MF or an offset, IPv6 with a fragment header next) hashes on
// its addresses alone, as the flow dissector does, so every fragment of a
// datagram reaches the same worker. Other frames (ARP, IPv6 with other
// extension headers before the transport) hash on what the program reads
// and stay on one socket per flow as well; a frame too short for its IP
// header hashes to 0, one too short for its ports on its addresses.
//
// It is written with cilium/ebpf's asm package and reads a frame with two
// helper calls at most (bpf_skb_load_bytes_relative from the network
// header: the IP header, then the ports), far fewer than the classic
// absolute loads, which call a helper per field. Open fails where the
// kernel cannot load it (no privileges, no BPF); the data path then keeps
// the kernel's hash fanout. It imports nothing from GVS but
// internal/bpfasm.
package flowhash
