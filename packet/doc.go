// Package packet is GVS's packet layer: it parses Ethernet frames, gives
// the engine (package ipvs) the flow key and facts it classifies on, and
// rewrites frames for NAT, direct routing and tunnelling, in place, with
// correct checksums and without allocating. The Linux data path
// (package dataplane) calls it for every frame.
//
// # What it may import
//
// Only the standard library's pure packages (encoding/binary, hash/crc32,
// math/bits, net/netip, sync/atomic...). Never anything OS-specific
// (syscall, golang.org/x/sys, os), never cgo, and nothing else of this
// module: everything above it (ipvs, dataplane) imports it, not the other
// way round. The tests use github.com/gopacket/gopacket's layers as an
// independent decoder; non-test code never does.
//
// # Where to start reading
//
// packet.go (Packet and Parse), then the transform the data path applies:
// nat.go (NATDest, NATSource, TranslateICMP), dr.go (DirectRoute),
// tunnel.go (Encap), mtu.go (BuildFragNeeded, Fragment), with vnet.go for
// offloads, gso.go for software segmentation, fragcache.go for fragments,
// arp.go and ndp.go for the VIPs' link-layer presence, drop.go for the
// drop reasons. ExampleParse shows the walk: parse, NAT, send.
//
// The walk of a frame: Parse(frame, &p) fills a reusable Packet with
// offsets and the flow key and returns a DropReason (DropNone, or why the
// frame is malformed: never a panic, whatever the bytes). With a
// virtio-net header, p.SetOffload(&hdr) records it. The engine looks the
// flow up (p.Key, p.Key.Reverse()); the data path applies the verdict
// (NATDest, NATSource, DirectRoute, Encap, TranslateICMP), sets the MACs
// (RewriteMAC) and sends the frame with p.VnetHeader().
//
// # Addresses
//
// A flow key holds addresses as Addr, a [16]byte: IPv4 addresses in the
// IPv4-mapped form ::ffff:a.b.c.d (the engine's ipvs.Addr convention and
// netip.Addr.As16's), so keys are pointer-free, comparable and hash
// without allocating. Parse refuses IPv6 packets whose addresses are
// IPv4-mapped (DropBadAddress), so the form never aliases. AddrFromNetip
// and Addr.Netip convert for code off the hot path.
//
// # Buffers
//
// Frame is a frame inside a larger buffer with headroom in front (the data
// path reserves e.g. 128 bytes): Encap writes the outer headers into that
// headroom and over the old link header, so the payload never moves.
// Builders (ARP, neighbour advertisements, ICMP errors) and splitters
// (Fragment, Segment) write into buffers the caller provides.
//
// # TTL
//
// Every forwarding transform decrements the IPv4 TTL or IPv6 hop limit,
// as the kernel does for every packet IPVS sends to another host
// (decrement_ttl, called from __ip_vs_get_out_rt for NAT, DR and TUN
// alike since Linux 4.x): NATDest, NATSource, TranslateICMP, DirectRoute
// and Encap. At 1 they refuse with DropTTLExceeded, leaving the frame
// unchanged, and the data path answers with BuildTimeExceeded.
// RewriteDest and RewriteSource skip the decrement for delivery to the
// director's own stack (the kernel does not decrement for local routes).
// A tunnel's outer TTL is the inner TTL after the decrement, its DF is
// the inner IPv4 packet's DF (clear for an inner IPv6 packet), its TOS the
// inner one with CE mapped to ECT(0), as ip_vs_tunnel_xmit does.
//
// # Path MTU and fragments
//
// Encap refuses with DropTooBig when the encapsulated packet would exceed
// the tunnel's path MTU and the inner packet may not be fragmented (IPv4
// with DF, or IPv6): the data path answers with BuildFragNeeded and
// Tunnel.InnerMTU (the MTU minus the encapsulation overhead), as IPVS's
// ensure_mtu_is_adequate does. An inner IPv4 packet without DF is
// encapsulated with DF clear and, when Tunnel.NeedsFragment, split by
// Fragment into caller-provided frames.
//
// IPVS sees whole datagrams because the kernel reassembles before its
// hooks; GVS does not reassemble. Parse reports fragments (p.Frag): a
// first fragment has ports and is forwarded like any packet, and the data
// path records its ports in a FragCache under (family, protocol, source,
// destination, fragment id); later fragments take the ports from there
// (FragCache.Lookup) and follow the same connection: NAT rewrites their
// addresses only (the first fragment's checksum, updated for the new
// pseudo-header, covers the whole datagram). Later fragments whose first
// fragment was not seen are not matched and are dropped (counted) by the
// data path. SCTP first fragments cannot be NATed (DropFragmented): the
// CRC32c covers the whole datagram.
//
// # Offloads (virtio-net header)
//
// GVS's packet sockets use PACKET_VNET_HDR, so frames may carry
// CHECKSUM_PARTIAL (VnetNeedsCsum: the L4 checksum field holds only the
// pseudo-header sum, the kernel or NIC finishes it) and may be GSO
// super-frames (gso_type, gso_size). p.SetOffload checks the header against
// the parsed frame. NAT keeps a partial checksum partial: it folds in the
// pseudo-header change only, not the ports. CompleteChecksum finishes a
// partial checksum in software where needed. Encap moves csum_start with
// the inner header; with GUE remote checksum offload the inner checksum
// stays the pseudo-header sum for the receiver and the outer UDP checksum
// becomes the partial one; outer GUE/GRE checksums over a partial inner
// packet use local checksum offload (no pass over the payload). NAT and DR
// keep GSO super-frames whole for the kernel to segment; a virtio-net
// header cannot describe an encapsulated super-frame, so Encap refuses
// them (DropGSO) and the data path first splits them with Segment (TCP,
// and UDP_L4), at MaxSegment(p, tunnel.InnerMTU(p)), into complete
// segments with full checksums, then encapsulates each.
//
// # Benchmarks
//
// bench_test.go, all at 0 allocations: BenchmarkTransform/<method>
// (none, nat-in, nat-out, dr, ipip, ip6ip6, gue, gre, icmp-nat) measures
// the transform alone on an already parsed frame (a 1.5 kB TCP segment;
// icmp-nat: a frag-needed about one), with MAC rewrite for NAT; each
// iteration also restores the frame's headers and the parsed Packet, and
// "none" measures that harness alone, so the transform's own cost is the
// difference. BenchmarkParseTransform/<method> measures Parse plus the
// transform, the packet layer's whole per-packet cost on the forwarding
// path ("none": parse and harness). BenchmarkParse measures Parse alone.
package packet
