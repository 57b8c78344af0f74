//go:build linux

package dataplane

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tunDevice is the director's door into its own stack: writing an IP
// packet (with a virtio-net header) to it delivers the packet locally, as
// if it had arrived on an interface (the "Local" forwarding method and NAT
// replies to local clients); packets the kernel routes into it (local
// processes connecting to a VIP) are read back by GVS.
type tunDevice struct {
	f    *os.File
	name string
}

const ifReqSize = unix.IFNAMSIZ + 64

func openTun(name string) (*tunDevice, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dataplane: open /dev/net/tun: %w", err)
	}
	var req [ifReqSize]byte
	copy(req[:unix.IFNAMSIZ-1], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("dataplane: TUNSETIFF %s: %w", name, errno)
	}
	// the virtio-net header is 10 bytes, as on the packet sockets
	hdrLen := 10
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETVNETHDRSZ, uintptr(unsafe.Pointer(&hdrLen))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("dataplane: TUNSETVNETHDRSZ: %w", errno)
	}
	// accept GSO and partial checksums, so super-frames stay whole
	offloads := unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETOFFLOAD, uintptr(offloads)); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("dataplane: TUNSETOFFLOAD: %w", errno)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &tunDevice{f: os.NewFile(uintptr(fd), "/dev/net/tun"), name: name}, nil
}

// write delivers one packet (virtio-net header + IP packet) to the local stack.
func (t *tunDevice) write(vnetAndPacket []byte) error {
	_, err := unix.Write(int(t.f.Fd()), vnetAndPacket)
	return err
}

func (t *tunDevice) close() error { return t.f.Close() }
