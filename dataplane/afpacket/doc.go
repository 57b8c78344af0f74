// Package afpacket is GVS's Linux packet I/O: AF_PACKET sockets with a
// memory-mapped TPACKET_V2 receive ring, the virtio-net header
// (PACKET_VNET_HDR) on receive and send, PACKET_FANOUT to spread flows over
// packet workers, and batched transmission with sendmmsg.
//
// Why these choices (measured on this project's machines, see
// docs/dataplane.md): the virtio-net header carries GSO super-frames and
// partial checksums through untouched, which is what lets bulk TCP run at
// kernel-like speed with the kernel's default offloads on; the ring and
// sendmmsg amortize system calls over batches; TPACKET_V2 wakes the reader
// per packet, where TPACKET_V3 holds packets until a block retires (at least
// a millisecond at low rates), which would dominate latency. Frames are sized
// for 64 KiB super-frames.
//
// It imports nothing from GVS; the data path above it parses and rewrites
// the frames (package packet) and decides where they go (package ipvs).
// Where to start reading: ring.go (receive), send.go (transmit).
package afpacket
