// Package tundecap is a user-space decapsulator for TUN-mode real servers.
// It receives the tunnelled packets an IPVS director sends (IPv4-in-IPv4,
// IPv6-in-IPv4, IPv4/IPv6-in-IPv6, GRE, and GUE with its remote checksum
// offload option) on raw and UDP sockets, and writes each inner packet into
// a TUN device, so the local stack receives it as if it had arrived on that
// interface and delivers it to the VIP configured on lo. It does what the
// kernel's ipip, ip6_tunnel, gre and fou modules would, for hosts (like
// GVS's lab kernel) that lack them. cmd/gvs-tundecap is its command.
//
// Every header is validated; a bad packet is counted under a DropReason
// and dropped. Receivers read batches (recvmmsg) into buffers they reuse,
// so nothing is allocated per packet. A partial transport checksum (GUE
// remote checksum offload, or a CHECKSUM_PARTIAL segment read off a veth)
// travels on to the stack in a virtio-net header instead of being computed
// here.
//
// With Config.Kernel, a TC ingress program (kernel_linux.go, built with
// cilium/ebpf's asm package) strips the common tunnels' outer headers in
// the kernel first (IPv4 outer IPIP, IPv6-in-IPv4, GRE and GUE without
// options or checksums), so their packets never cross user space; the
// sockets get the rest.
//
// It imports nothing from the rest of GVS (no ipvs, no packet): a real
// server needs none of the director. Where to start reading: decap.go (the
// header parsing, pure and fuzzed), then run_linux.go (sockets, batches,
// counters) and tun_linux.go (the TUN device).
package tundecap
