//go:build linux

package tundecap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config sets up a decapsulator.
type Config struct {
	TUN       string         // TUN device to create (default gvstun0)
	GUEPort   uint16         // UDP port of GUE tunnels (0: no GUE)
	AllowFrom []netip.Prefix // tunnel sources accepted (empty: any)
	Logger    *slog.Logger
}

// Counters are what the decapsulator did.
type Counters struct {
	Delivered, Malformed, NotAllowed, WriteErrors atomic.Uint64
}

// Decap is a running decapsulator.
type Decap struct {
	cfg   Config
	tun   *os.File
	socks []int
	C     Counters
	wg    sync.WaitGroup
}

// Start opens the TUN device and the tunnel sockets and starts receiving.
func Start(ctx context.Context, cfg Config) (*Decap, error) {
	if cfg.TUN == "" {
		cfg.TUN = "gvstun0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Decap{cfg: cfg}
	tun, err := openTUN(cfg.TUN)
	if err != nil {
		return nil, err
	}
	d.tun = tun
	if err := setUp(cfg.TUN); err != nil {
		d.Close()
		return nil, err
	}
	for _, p := range []string{"net/ipv4/conf/" + cfg.TUN + "/rp_filter", "net/ipv4/conf/all/rp_filter"} {
		_ = os.WriteFile("/proc/sys/"+p, []byte("0"), 0o644)
	}
	raw := []struct{ fam, proto int }{
		{unix.AF_INET, protoIPIP}, {unix.AF_INET, protoIPv6}, {unix.AF_INET, protoGRE},
		{unix.AF_INET6, protoIPIP}, {unix.AF_INET6, protoIPv6}, {unix.AF_INET6, protoGRE},
	}
	for _, r := range raw {
		fd, err := unix.Socket(r.fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, r.proto)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("tundecap: raw socket %d/%d: %w", r.fam, r.proto, err)
		}
		d.socks = append(d.socks, fd)
		d.wg.Add(1)
		go d.readRaw(fd, r.fam == unix.AF_INET6, byte(r.proto))
	}
	if cfg.GUEPort != 0 {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			d.Close()
			return nil, err
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		if err := unix.Bind(fd, &unix.SockaddrInet6{Port: int(cfg.GUEPort)}); err != nil {
			unix.Close(fd)
			d.Close()
			return nil, fmt.Errorf("tundecap: GUE port %d: %w", cfg.GUEPort, err)
		}
		d.socks = append(d.socks, fd)
		d.wg.Add(1)
		go d.readGUE(fd)
	}
	go func() {
		<-ctx.Done()
		d.Close()
	}()
	cfg.Logger.Info("decapsulating", "tun", cfg.TUN, "gue_port", cfg.GUEPort)
	return d, nil
}

func (d *Decap) allowed(src netip.Addr) bool {
	if len(d.cfg.AllowFrom) == 0 {
		return true
	}
	for _, p := range d.cfg.AllowFrom {
		if p.Contains(src.Unmap()) {
			return true
		}
	}
	return false
}

func (d *Decap) deliver(inner []byte, err error, src netip.Addr) {
	switch {
	case err != nil:
		d.C.Malformed.Add(1)
	case !d.allowed(src):
		d.C.NotAllowed.Add(1)
	default:
		if _, err := d.tun.Write(inner); err != nil {
			d.C.WriteErrors.Add(1)
			return
		}
		d.C.Delivered.Add(1)
	}
}

func sockaddrAddr(sa unix.Sockaddr) netip.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap()
	}
	return netip.Addr{}
}

func (d *Decap) readRaw(fd int, v6 bool, proto byte) {
	defer d.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return // closed
		}
		var inner []byte
		if v6 {
			inner, err = InnerOfIPv6Payload(buf[:n], proto)
		} else {
			inner, err = InnerOfIPv4(buf[:n])
		}
		d.deliver(inner, err, sockaddrAddr(from))
	}
}

func (d *Decap) readGUE(fd int) {
	defer d.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		inner, err := InnerOfGUE(buf[:n])
		d.deliver(inner, err, sockaddrAddr(from))
	}
}

// Close stops receiving and removes the TUN device.
func (d *Decap) Close() {
	for _, fd := range d.socks {
		unix.Shutdown(fd, unix.SHUT_RDWR)
		unix.Close(fd)
	}
	d.socks = nil
	if d.tun != nil {
		d.tun.Close()
		d.tun = nil
	}
}

// Wait returns when every receiver has stopped.
func (d *Decap) Wait() { d.wg.Wait() }

func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tundecap: /dev/net/tun: %w", err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:unix.IFNAMSIZ-1], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("tundecap: TUNSETIFF %s: %w", name, errno)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

// setUp brings the interface up (SIOCSIFFLAGS), keeping this package free
// of a netlink dependency.
func setUp(name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(ifi.Name)
	if err != nil {
		return err
	}
	ifr.SetUint16(uint16(ifi.Flags) | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tundecap: bring %s up: %w", name, err)
	}
	return nil
}
