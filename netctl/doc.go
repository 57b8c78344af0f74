// Package netctl is GVS's privileged edge on Linux: the director's
// interfaces and addresses, routes and neighbours (netlink), and the kernel
// rules that keep the local stack off virtual-service traffic (nftables).
//
// Everything the rest of GVS needs from the kernel goes through the
// Controller interface, so the data path and the daemon test with a fake
// (fake.go) and only this package talks to the kernel. It must not import
// the engine or the data path; they import it.
//
// Where to start reading: controller.go (the interface), steering.go (the
// nftables rules and why each exists), linux.go (netlink).
package netctl
