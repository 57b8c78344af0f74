//go:build linux

package afpacket

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// txRing is an experimental PACKET_TX_RING (TPACKET_V2) sender, kept in
// the tests only to measure it against Sender (sendmmsg): frames are
// copied into ring slots and one send() hands the whole batch to the
// kernel, which maps the slots' pages into the skbs it builds.
type txRing struct {
	fd         int
	mem        []byte
	frameSize  int
	frames     int
	next, fill int
}

// tpacket2DataOff is where a TPACKET_V2 transmit frame's data starts
// (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)).
const tpacket2DataOff = 32

func newTxRing(ifindex, frames, frameSize int) (*txRing, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	t := &txRing{fd: fd, frameSize: frameSize, frames: frames}
	for _, o := range [][2]int{{unix.PACKET_VERSION, unix.TPACKET_V2}, {unix.PACKET_VNET_HDR, 1}, {unix.PACKET_QDISC_BYPASS, 1}} {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, o[0], o[1]); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	per := max(1, 4096/frameSize) // frames per (page-sized or larger) block
	req := unix.TpacketReq{Block_size: uint32(per * frameSize), Block_nr: uint32(frames / per), Frame_size: uint32(frameSize), Frame_nr: uint32(frames)}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if t.mem, err = unix.Mmap(fd, 0, frames*frameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// queue copies a frame (virtio-net header + Ethernet frame) into the next
// free slot; false when the ring is full.
func (t *txRing) queue(frame []byte) bool {
	h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&t.mem[t.next*t.frameSize]))
	if st := atomic.LoadUint32(&h.Status); st != unix.TP_STATUS_AVAILABLE && st&unix.TP_STATUS_WRONG_FORMAT == 0 {
		return false
	}
	base := t.next*t.frameSize + tpacket2DataOff
	copy(t.mem[base:], frame)
	h.Len = uint32(len(frame))
	atomic.StoreUint32(&h.Status, unix.TP_STATUS_SEND_REQUEST)
	if t.next++; t.next == t.frames {
		t.next = 0
	}
	t.fill++
	return true
}

func (t *txRing) flush() error {
	if t.fill == 0 {
		return nil
	}
	t.fill = 0
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(t.fd), 0, 0, 0, 0, 0)
	if errno != 0 {
		h := (*unix.Tpacket2Hdr)(unsafe.Pointer(&t.mem[0]))
		return fmt.Errorf("%w (slot 0 status %#x len %d)", errno, h.Status, h.Len)
	}
	return nil
}

func (t *txRing) close() {
	unix.Munmap(t.mem)
	unix.Close(t.fd)
}

// benchFrame is a 64-byte UDP frame (with a zero virtio-net header) to a
// MAC address nobody has: the peer drops it as PACKET_OTHERHOST.
func benchFrame(src net.HardwareAddr) []byte {
	f := make([]byte, VnetHdrLen+64)
	e := f[VnetHdrLen:]
	copy(e, []byte{0x02, 0, 0, 0, 0, 0x99})
	copy(e[6:], src)
	e[12], e[13] = 0x08, 0x00
	ip := e[14:]
	ip[0], ip[3], ip[8], ip[9] = 0x45, 50, 64, unix.IPPROTO_UDP
	copy(ip[12:], []byte{10, 99, 0, 1, 10, 99, 0, 2})
	ip[20], ip[21], ip[22], ip[23], ip[25] = 0x30, 0x39, 0x30, 0x39, 30
	return f
}

// BenchmarkSend compares the transmit cost per 64-byte frame of sendmmsg
// (Sender, what the data path uses) and a PACKET_TX_RING with one send()
// per batch of 64, on a veth pair (the peer's receive work runs inline, as
// it does for the director): go test -run ^$ -bench Send ./dataplane/afpacket/
func BenchmarkSend(b *testing.B) {
	a, _ := twoNamespaces(b)
	var ifindex int
	var mac net.HardwareAddr
	if err := inNetns(a, func() {
		ifi, err := net.InterfaceByName("va")
		if err != nil {
			b.Fatal(err)
		}
		ifindex, mac = ifi.Index, ifi.HardwareAddr
	}); err != nil {
		b.Fatal(err)
	}
	frame := benchFrame(mac)
	const batch = 64
	b.Run("sendmmsg", func(b *testing.B) {
		var s *Sender
		inNetns(a, func() {
			var err error
			if s, err = NewSender(ifindex, batch); err != nil {
				b.Fatal(err)
			}
		})
		defer s.Close()
		bufs := make([][]byte, batch)
		for i := range bufs {
			bufs[i] = append([]byte(nil), frame...)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.Queue(bufs[i%batch])
			if s.Pending() == batch {
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		s.Flush()
	})
	b.Run("tx_ring", func(b *testing.B) {
		var r *txRing
		inNetns(a, func() {
			var err error
			if r, err = newTxRing(ifindex, 256, 2048); err != nil {
				b.Fatal(err)
			}
		})
		defer r.close()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for !r.queue(frame) {
				r.flush()
			}
			if r.fill == batch {
				if err := r.flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		r.flush()
	})
}
