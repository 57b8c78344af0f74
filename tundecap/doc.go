// Package tundecap is a user-space decapsulator for TUN-mode real servers:
// it receives IPVS-style tunnelled packets (IPv4-in-IPv4, IPv6-in-IPv4,
// IPv4/IPv6-in-IPv6, GRE, GUE) on raw sockets and hands the inner packet to
// the local stack through a TUN device, as the kernel's ipip/ip6tnl/gre/fou
// modules would. GVS's lab needs it (this kernel has no ipip module) and so
// may any real server whose kernel lacks those modules.
//
// decap.go holds the header parsing (pure, fuzzed); run.go the sockets.
// It imports nothing from the rest of GVS.
package tundecap
