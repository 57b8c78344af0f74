//go:build linux

package afpacket

import (
	"errors"
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
	cmsgs   []byte // marking senders: one SO_MARK control message per frame
}

type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// NewSender opens a transmit socket on an interface with room for batch
// frames. It skips the qdisc layer (PACKET_QDISC_BYPASS): the director
// forwards, it does not shape.
func NewSender(ifindex, batch int) (*Sender, error) {
	return newSender(ifindex, batch, false)
}

// NewMarkSender opens a transmit socket whose frames go through the
// interface's egress qdisc layer, TC programs included (qdisc bypass
// would skip them), each with the skb mark given to QueueMark. Setting a
// mark needs CAP_NET_RAW or CAP_NET_ADMIN.
func NewMarkSender(ifindex, batch int) (*Sender, error) {
	return newSender(ifindex, batch, true)
}

// markCmsgLen is the room of one SO_MARK control message (CMSG_SPACE(4)).
var markCmsgLen = unix.CmsgSpace(4)

func newSender(ifindex, batch int, marks bool) (*Sender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0) // protocol 0: receives nothing
	if err != nil {
		return nil, fmt.Errorf("afpacket: send socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("afpacket: PACKET_VNET_HDR: %w", err)
	}
	if !marks {
		_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("afpacket: bind send socket: %w", err)
	}
	s := &Sender{fd: fd, ifindex: ifindex, msgs: make([]mmsghdr, batch), iovs: make([]unix.Iovec, batch)}
	if marks {
		s.cmsgs = make([]byte, batch*markCmsgLen)
		for i := 0; i < batch; i++ {
			h := (*unix.Cmsghdr)(unsafe.Pointer(&s.cmsgs[i*markCmsgLen]))
			h.Level, h.Type = unix.SOL_SOCKET, unix.SO_MARK
			h.SetLen(unix.CmsgLen(4))
		}
	}
	return s, nil
}

// QueueMark is Queue for a sender from NewMarkSender: the frame leaves
// with skb mark set to mark (a per-message SO_MARK).
func (s *Sender) QueueMark(frame []byte, mark uint32) error {
	if s.cmsgs == nil {
		return errors.New("afpacket: QueueMark on a sender without marks")
	}
	if err := s.Queue(frame); err != nil {
		return err
	}
	i := s.n - 1
	c := s.cmsgs[i*markCmsgLen : (i+1)*markCmsgLen]
	*(*uint32)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = mark
	s.msgs[i].hdr.Control = &c[0]
	s.msgs[i].hdr.SetControllen(markCmsgLen)
	return nil
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
