//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// VnetHdrLen is the size of struct virtio_net_hdr that precedes every frame
// when the socket uses PACKET_VNET_HDR.
const VnetHdrLen = 10

// Config describes a receive socket.
type Config struct {
	Ifindex int // interface to bind to
	// Protocol is the EtherType received (host order; 0: every frame,
	// ETH_P_ALL). A socket bound to one protocol receives a frame after
	// the interface's TC ingress hook, so a frame a TC program redirects
	// costs it nothing; an ETH_P_ALL socket is a tap that sees every frame
	// before that hook.
	Protocol uint16
	// Frames is the number of ring slots; FrameSize their size (it must hold
	// a 64 KiB GSO super-frame plus headers). Defaults 256 and 68 KiB.
	Frames    int
	FrameSize int
	// Headroom reserved in front of each received frame, so encapsulation
	// can prepend headers in place. Default 128.
	Headroom int
	// FanoutGroup, when non-zero, joins the socket to a PACKET_FANOUT group
	// (hash mode): all sockets of a group share the traffic, one flow
	// always to the same socket.
	FanoutGroup uint16
	// FanoutByCPU makes the group steer by the CPU a frame is received on
	// (PACKET_FANOUT_CPU: CPU number modulo the group's size, sockets in
	// the order they joined) instead of by flow hash.
	FanoutByCPU bool
	// FanoutFD, when non-zero and not FanoutByCPU, is an eBPF socket
	// filter program that picks the group's socket for each frame
	// (PACKET_FANOUT_EBPF: its result modulo the group's size) instead of
	// the kernel's flow hash, which runs the flow dissector per frame.
	FanoutFD int
}

// Ring is a receive socket with its mapped ring.
type Ring struct {
	fd        int
	mem       []byte
	frameSize int
	frames    int
	next      int
	ifindex   int
	closed    atomic.Bool
}

// Frame is one received frame: views into the ring slot, valid until Release.
type Frame struct {
	// Data is the Ethernet frame; the bytes before it in Buf are headroom,
	// the VnetHdrLen bytes right before Data hold the virtio-net header.
	Buf  []byte
	Off  int // Data = Buf[Off:Off+Len]
	Len  int
	Orig int // wire length (Len < Orig means the frame was truncated)
	// CsumNotReady: the L4 checksum is partial (TP_STATUS_CSUMNOTREADY);
	// the vnet header says where to complete it.
	CsumNotReady bool
	// Stamp is when the kernel put the frame in the ring (nanoseconds
	// since the Unix epoch, CLOCK_REALTIME): how long the frame then
	// waited for its reader is the receive delay.
	Stamp int64
	slot  int
}

// Data returns the Ethernet frame.
func (f *Frame) Data() []byte { return f.Buf[f.Off : f.Off+f.Len] }

// Vnet returns the virtio-net header bytes of the frame.
func (f *Frame) Vnet() []byte { return f.Buf[f.Off-VnetHdrLen : f.Off] }

// Open creates a receive socket bound to an interface.
func Open(cfg Config) (*Ring, error) {
	if cfg.Frames == 0 {
		cfg.Frames = 256
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = 68 << 10
	}
	if cfg.Headroom == 0 {
		cfg.Headroom = 128
	}
	proto := cfg.Protocol
	if proto == 0 {
		proto = unix.ETH_P_ALL
	}
	// protocol 0 until bind: a socket created with a protocol receives
	// from every interface at once
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("afpacket: socket: %w", err)
	}
	r := &Ring{fd: fd, frameSize: cfg.FrameSize, frames: cfg.Frames, ifindex: cfg.Ifindex}
	fail := func(what string, err error) (*Ring, error) {
		r.Close()
		return nil, fmt.Errorf("afpacket: %s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fail("TPACKET_V2", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fail("PACKET_VNET_HDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, cfg.Headroom); err != nil {
		return fail("PACKET_RESERVE", err)
	}
	// Frames we transmit ourselves must not come back to us.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	req := unix.TpacketReq{
		Block_size: uint32(cfg.FrameSize),
		Block_nr:   uint32(cfg.Frames),
		Frame_size: uint32(cfg.FrameSize),
		Frame_nr:   uint32(cfg.Frames),
	}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("PACKET_RX_RING", err)
	}
	mem, err := unix.Mmap(fd, 0, cfg.Frames*cfg.FrameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED|unix.MAP_POPULATE)
	if err != nil {
		mem, err = unix.Mmap(fd, 0, cfg.Frames*cfg.FrameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fail("mmap", err)
		}
	}
	r.mem = mem
	sll := unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: cfg.Ifindex}
	if err := unix.Bind(fd, &sll); err != nil {
		return fail("bind", err)
	}
	if cfg.FanoutGroup != 0 {
		// A fanout group receives through a hook of its own: the socket's
		// PACKET_IGNORE_OUTGOING no longer applies, the group needs the
		// flag too, or the host's own packets to a VIP (via_vip health
		// checks) would be scheduled a second time.
		mode := unix.PACKET_FANOUT_HASH
		switch {
		case cfg.FanoutByCPU:
			mode = unix.PACKET_FANOUT_CPU
		case cfg.FanoutFD != 0:
			mode = unix.PACKET_FANOUT_EBPF
		}
		arg := int(cfg.FanoutGroup) | (mode|unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING)<<16
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return fail("PACKET_FANOUT", err)
		}
		// every member sets the program: the group's first socket gets
		// every frame until one does, and a later one replaces it alike
		if mode == unix.PACKET_FANOUT_EBPF {
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT_DATA, cfg.FanoutFD); err != nil {
				return fail("PACKET_FANOUT_DATA", err)
			}
		}
	}
	return r, nil
}

// Fd returns the socket descriptor (for poll).
func (r *Ring) Fd() int { return r.fd }

// Ifindex returns the interface the ring is bound to.
func (r *Ring) Ifindex() int { return r.ifindex }

func (r *Ring) hdr(slot int) *unix.Tpacket2Hdr {
	return (*unix.Tpacket2Hdr)(unsafe.Pointer(&r.mem[slot*r.frameSize]))
}

// Next returns the next received frame without blocking; ok is false when
// the ring has none. Frames must be released in the order they were taken.
func (r *Ring) Next(f *Frame) bool {
	h := r.hdr(r.next)
	status := atomic.LoadUint32(&h.Status)
	if status&unix.TP_STATUS_USER == 0 {
		return false
	}
	base := r.next * r.frameSize
	*f = Frame{
		Buf:          r.mem[base : base+r.frameSize],
		Off:          int(h.Mac),
		Len:          int(h.Snaplen),
		Orig:         int(h.Len),
		CsumNotReady: status&unix.TP_STATUS_CSUMNOTREADY != 0,
		Stamp:        int64(h.Sec)*1e9 + int64(h.Nsec),
		slot:         r.next,
	}
	if f.Off < VnetHdrLen || f.Off+f.Len > r.frameSize {
		f.Len = 0 // malformed slot: hand it back as empty
	}
	r.next++
	if r.next == r.frames {
		r.next = 0
	}
	return true
}

// Release gives a frame's slot back to the kernel.
func (r *Ring) Release(f *Frame) {
	atomic.StoreUint32(&r.hdr(f.slot).Status, unix.TP_STATUS_KERNEL)
}

// Wait blocks until a frame is ready or timeoutMS passes (-1: forever).
func (r *Ring) Wait(timeoutMS int) error {
	if r.hdr(r.next).Status&unix.TP_STATUS_USER != 0 {
		return nil
	}
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}}
	_, err := unix.Poll(fds, timeoutMS)
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	return err
}

// Stats returns and resets the kernel's counts of received and dropped
// (ring full) frames.
func (r *Ring) Stats() (received, dropped uint32, err error) {
	st, err := unix.GetsockoptTpacketStats(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, err
	}
	return st.Packets, st.Drops, nil
}

// Close unmaps the ring and closes the socket.
func (r *Ring) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if r.mem != nil {
		unix.Munmap(r.mem)
	}
	return unix.Close(r.fd)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
