//go:build linux

package afpacket

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sender transmits frames on one interface in batches. Each frame handed to
// it starts with its virtio-net header (VnetHdrLen bytes), so GSO
// super-frames and partial checksums go out for the kernel or the next hop
// to finish.
type Sender struct {
	fd      int
	ifindex int
	msgs    []mmsghdr
	iovs    []unix.Iovec
	n       int
}

type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// NewSender opens a transmit socket on an interface with room for batch frames.
func NewSender(ifindex, batch int) (*Sender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0) // protocol 0: receives nothing
	if err != nil {
		return nil, fmt.Errorf("afpacket: send socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("afpacket: PACKET_VNET_HDR: %w", err)
	}
	// Skip the qdisc layer: the director forwards, it does not shape.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("afpacket: bind send socket: %w", err)
	}
	s := &Sender{fd: fd, ifindex: ifindex, msgs: make([]mmsghdr, batch), iovs: make([]unix.Iovec, batch)}
	return s, nil
}

// Queue adds a frame (virtio-net header + Ethernet frame) to the batch;
// it flushes first when the batch is full. The bytes must stay untouched
// until Flush returns.
func (s *Sender) Queue(frame []byte) error {
	if s.n == len(s.msgs) {
		if err := s.Flush(); err != nil {
			return err
		}
	}
	s.iovs[s.n] = unix.Iovec{Base: &frame[0], Len: uint64(len(frame))}
	s.msgs[s.n] = mmsghdr{hdr: unix.Msghdr{Iov: &s.iovs[s.n], Iovlen: 1}}
	s.n++
	return nil
}

// Pending returns the number of queued frames.
func (s *Sender) Pending() int { return s.n }

// Flush sends the queued frames with as few sendmmsg calls as possible.
// Frames the kernel refuses are dropped; the count of those is returned
// with the first error.
func (s *Sender) Flush() error {
	sent := 0
	var firstErr error
	for sent < s.n {
		// A raw system call that cannot block (MSG_DONTWAIT): the Go
		// runtime then never sees the worker's P sitting in a system call,
		// so its monitor thread does not hand the P to another thread
		// during every send (runtime.sysmon was 13 % of gvsd's CPU under
		// a UDP flood; bench/results/profile.md). A full socket buffer
		// (EAGAIN) falls back to a blocking call.
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[sent])), uintptr(s.n-sent), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EAGAIN {
			r, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[sent])), uintptr(s.n-sent), 0, 0, 0)
		}
		if errno != 0 {
			if errno == unix.EINTR || errno == unix.EAGAIN {
				continue
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("afpacket: sendmmsg: %w", errno)
			}
			sent++ // skip the frame the kernel refused
			continue
		}
		sent += int(r)
	}
	s.n = 0
	return firstErr
}

// Close closes the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }
