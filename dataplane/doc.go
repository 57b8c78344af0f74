// Package dataplane is gvsd's packet path on Linux: it receives frames on
// the director's interfaces (package afpacket), classifies them (package
// packet), asks the engine where they go (package ipvs), rewrites them for
// NAT, direct routing or tunnelling (package packet) and transmits them to
// the next hop it resolved through the kernel's routing and neighbour
// tables (package netctl). It also owns the VIPs' link-layer presence
// (answers ARP and neighbour solicitations, sends gratuitous ARP and
// unsolicited neighbour advertisements) and the kernel rules that keep the
// local stack off GVS's traffic.
//
// The walk of one packet: worker.go receives a batch from a ring, parses
// every frame into an ipvs.Packet, hands the batch to the engine
// (Worker.Process), applies each verdict (forward.go) and flushes the
// batch to the egress interfaces with one sendmmsg per interface. Nothing
// on that walk allocates, logs, takes a shared lock or makes a system call
// per packet; counters are per worker.
//
// Where to start reading: dataplane.go (lifecycle and Sync), worker.go.
package dataplane
