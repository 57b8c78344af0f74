// Package fastpath forwards the packets of established connections in the
// kernel, so gvsd's workers see only what needs a decision: a
// connection's first packets, its TCP SYN, FIN and RST, and whatever the
// kernel programs cannot rewrite.
//
// Why: on a packet socket every forwarded packet costs a copy into a ring,
// a pass through a worker and a sendmmsg; in this lab most of a director's
// CPU goes there (bench/results/profile.md), which capped GVS below the
// in-kernel peers on small packets and on bulk transfers (issue 7). The
// connection's decision does not change after its first packets, so gvsd
// writes it into a BPF hash map and lets the kernel apply it.
//
// One TCX ingress program on every data-path interface, built with
// cilium/ebpf's asm package (no C compiler needed), reads that map: an
// untagged TCP or UDP packet, IPv4 without options or fragmentation or
// IPv6 without extension headers, TTL or hop limit above 1, whose
// 5-tuple is in its family's map, not past its deadline, that fits the
// entry's path MTU and (TCP) has none of SYN, FIN, RST is taken: its
// counters and deadline are updated in the entry, the TTL or hop limit
// decremented, addresses and ports rewritten with the kernel's checksum
// helpers (NAT, either direction; IPv6 addresses by the difference
// bpf_csum_diff computes; a partial checksum stays partial), the next
// hop's MACs written, the tunnel's skb mark set for a TUN real server
// (package tcencap's egress program encapsulates it), and the packet is
// redirected to the egress interface. GSO super-frames stay whole. A TCP
// SYN, FIN or RST, or a packet past the deadline, retires the entry
// (deadline 0: every later packet goes to gvsd, whose sweep reads the
// last counts and deletes it), so the engine's state machine sees every
// transition. (Kernel scheduling, SetSchedule, adds the one exception:
// the reply entry it writes for a NAT connection forwards the server's
// first SYN+ACK and its FIN; the engine follows that connection from the
// client's packets.) Any other frame goes on to the stack (TCX_NEXT).
//
// gvsd's packet sockets are bound to IPv4, IPv6 and ARP, so they receive
// after TC ingress: a taken frame never reaches them. A SYN the program
// schedules is recorded instead, with the destination it took, in a BPF
// ring buffer that gvsd reads without a system call (SYNRing).
//
// gvsd adds an entry when a worker has forwarded a packet of a connection
// the engine reports as established (UDP: any), with the next hop and
// rewrite it just applied, and sweeps the map periodically: packet and
// byte counts go to the engine's statistics, the last packet's time
// refreshes the connection's timer, and entries whose connection is gone
// or no longer established are deleted. Any configuration change flushes
// the map.
//
// Not handled here (the packets keep the user-space path): IPv4 options,
// IPv6 extension headers, VLAN tags, fragments, local delivery, SCTP,
// NAT between families, and tunnels the TC encapsulation cannot write.
//
// Open fails where the kernel cannot load or attach the programs (no
// root, no BPF, no TCX: Linux 6.6 or later); gvsd then forwards every
// packet in user space.
package fastpath
