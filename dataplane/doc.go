// Package dataplane is gvsd's packet path on Linux: it receives frames on
// the director's interfaces, classifies and rewrites them with package
// packet, asks the engine (package ipvs) where they go, and transmits them
// to the next hop it resolved through the kernel's routing and neighbour
// tables (package netctl). It also owns the VIPs' link-layer presence
// (answers ARP and neighbour solicitations, sends gratuitous ARP and
// unsolicited neighbour advertisements) and the kernel rules that keep the
// local stack off GVS's traffic. It has no frame code of its own: every
// parse, rewrite, encapsulation and built frame is package packet's.
//
// Packet I/O is behind Port (port.go): batches of received frames with
// their virtio-net headers, and a send batch. afport_linux.go implements
// it on AF_PACKET rings (package afpacket: a TPACKET_V2 ring per interface
// and worker in a fanout group, a sendmmsg sender); the tests use an
// in-memory port. Local delivery goes through the TUN device gvs0 (tun.go).
// TCP super-frames for tunnel real servers leave whole for a TC egress
// program to encapsulate (kencap.go, package tcencap) instead of being
// segmented here. Once a connection has settled, its packets no longer
// come here at all: offload.go hands its forwarding to the kernel fast
// path (package fastpath) and sweeps the kernel's counters back into the
// engine.
//
// The walk of one packet: worker.go receives a batch from a port;
// process.go parses every frame (packet.Parse, typed drop reasons counted
// as "malformed"), classifies it (to a VIP, from a NAT real server, ICMP
// error, ARP/NDP, later fragment found through packet.FragCache), hands
// the batch to the engine (Worker.Process) and applies each verdict:
// packet.NATDest / NATSource, DirectRoute, Encap (after Segment for a GSO
// super-frame), TranslateICMP, with the path MTU checked first
// (BuildFragNeeded; Fragment for IPv4 without DF). The batch goes out with
// one flush per port. Nothing on that walk allocates, logs, takes a shared
// lock or makes a system call per packet (BenchmarkWorker: 0 allocs per
// frame); counters are per worker.
//
// Where to start reading: dataplane.go (lifecycle and Sync), worker.go,
// process.go; docs/dataplane.md for the design and its figures.
package dataplane
