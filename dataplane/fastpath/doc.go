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
// Two programs share that map, built with cilium/ebpf's asm package (no C
// compiler needed):
//
//   - A socket filter on every ring socket of gvsd (SO_ATTACH_BPF). Packet
//     sockets see a frame before the interface's TC ingress hook, so the
//     decision is made here: an untagged TCP or UDP packet, IPv4 without
//     options or fragmentation or IPv6 without extension headers, TTL or
//     hop limit above 1, whose 5-tuple is in its family's map,
//     not past its deadline, that fits the entry's path MTU and (TCP) has
//     none of SYN, FIN, RST is not copied to the ring. Its counters and
//     deadline are updated in the entry, and what the TC program needs is
//     left in a per-CPU slot. A TCP SYN, FIN or RST, or a packet past the
//     deadline, retires the entry (deadline 0: every later packet goes to
//     gvsd, whose sweep reads the last counts and deletes it) and goes to
//     gvsd as before, so the engine's state machine sees every transition.
//     (Kernel scheduling, SetSchedule, adds the one exception: the reply
//     entry it writes for a NAT connection forwards the server's first
//     SYN+ACK and its FIN; the engine follows that connection from the
//     client's packets. A SYN the filter schedules is not copied to the
//     ring either: it is recorded, with the destination it took, in a BPF
//     ring buffer that gvsd reads without a system call, SYNRing.)
//   - A TCX ingress program on every data-path interface, which runs right
//     after the packet sockets for the same packet on the same CPU: when
//     the slot holds this packet (same interface and length), it
//     decrements the TTL or hop limit, rewrites addresses and ports with
//     the kernel's checksum helpers (NAT, either direction; IPv6 addresses
//     by the difference bpf_csum_diff computes; a partial checksum stays
//     partial), writes the next hop's MACs, sets the tunnel's skb mark for
//     a TUN real server (package tcencap's egress program encapsulates it)
//     and redirects it to the egress interface. GSO super-frames stay whole.
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
