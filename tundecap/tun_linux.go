//go:build linux

package tundecap

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vnetHdrLen is the virtio-net header written before each packet: it lets
// a partial checksum travel on to the stack instead of being computed here.
const vnetHdrLen = 10

const vnetNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM

// tunDevice is the door into the local stack: a packet written to it is
// received as if it had arrived on that interface.
type tunDevice struct {
	fd   int
	name string
	mtu  int // longer TCP segments go in as GSO super-frames
}

func openTUN(name string) (*tunDevice, error) {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tundecap: bad TUN device name %q", name)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tundecap: open /dev/net/tun: %w", err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:unix.IFNAMSIZ-1], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("tundecap: create TUN device %s: %w", name, errno)
	}
	hdrLen := int32(vnetHdrLen)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETVNETHDRSZ, uintptr(unsafe.Pointer(&hdrLen))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("tundecap: TUNSETVNETHDRSZ: %w", errno)
	}
	mtu := 1500
	if ifi, err := net.InterfaceByName(name); err == nil && ifi.MTU > 0 {
		mtu = ifi.MTU
	}
	return &tunDevice{fd: fd, name: name, mtu: mtu}, nil
}

// VIRTIO_NET_HDR_GSO_TCPV4 and _TCPV6.
const (
	vnetGSOTCPv4 = 1
	vnetGSOTCPv6 = 4
)

// gsoSize returns the segment size a TCP super-frame of n bytes (the
// inner packet) goes to the stack with, 0 for an ordinary packet: one
// longer than the MTU whose checksum is still partial (a GSO skb on the
// director's side, or a GRO one on this host's link).
func (t *tunDevice) gsoSize(in *Inner, n int) int {
	if !in.Partial || in.TCPPayload == 0 || n <= t.mtu {
		return 0
	}
	return max(t.mtu-int(in.TCPPayload), 1)
}

// write hands one inner packet to the stack. b holds the packet at
// b[vnetHdrLen:]; the header goes into the room before it.
func (t *tunDevice) write(b []byte, in *Inner) error {
	h := b[:vnetHdrLen]
	clear(h)
	if in.Partial {
		h[0] = vnetNeedsCsum
		// legacy virtio-net headers are in host order; hdr_len covers the
		// checksum field so the TUN driver keeps it in the linear part
		e := binary.NativeEndian
		e.PutUint16(h[2:], in.CsumStart+in.CsumOffset+2)
		e.PutUint16(h[6:], in.CsumStart)
		e.PutUint16(h[8:], in.CsumOffset)
		if size := t.gsoSize(in, len(b)-vnetHdrLen); size > 0 {
			h[1] = vnetGSOTCPv4
			if in.IPv6 {
				h[1] = vnetGSOTCPv6
			}
			e.PutUint16(h[2:], in.TCPPayload)
			e.PutUint16(h[4:], uint16(size))
		}
	}
	for {
		_, err := unix.Write(t.fd, b)
		if err != unix.EINTR {
			return err
		}
	}
}

func (t *tunDevice) close() error { return unix.Close(t.fd) }

// bringUp sets the device up (SIOCSIFFLAGS), keeping this package free of
// a netlink dependency.
func bringUp(name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint16(uint16(ifi.Flags) | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tundecap: bring %s up: %w", name, err)
	}
	return nil
}

// relaxRPFilter lets packets from clients arrive on the TUN device although
// routes to those clients point elsewhere: reverse-path filtering off on the
// device, and a strict "all" setting (which would still win) made loose.
// It reports what it changed.
func relaxRPFilter(dev string) []string {
	var changed []string
	set := func(key, val string) {
		path := "/proc/sys/net/ipv4/conf/" + key + "/rp_filter"
		if err := os.WriteFile(path, []byte(val), 0o644); err == nil {
			changed = append(changed, "net.ipv4.conf."+key+".rp_filter="+val)
		}
	}
	set(dev, "0")
	if b, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/rp_filter"); err == nil {
		if v, _ := strconv.Atoi(strings.TrimSpace(string(b))); v == 1 {
			set("all", "2")
		}
	}
	return changed
}
