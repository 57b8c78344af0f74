//go:build linux

package tundecap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config sets up a decapsulator.
type Config struct {
	TUN       string         // TUN device to create (default gvstun0)
	GUEPort   uint16         // UDP port of GUE tunnels (0: no GUE)
	AllowFrom []netip.Prefix // outer sources accepted (empty: any)
	Batch     int            // packets per receive call (default 8)
	// Kernel also strips the common tunnels' headers in the kernel (a TC
	// ingress program: IPv4 outer IPIP, IPv6-in-IPv4, GRE and GUE without
	// options or checksums), so their packets, GSO super-frames included,
	// never cross user space; the rest still comes to the sockets. Where
	// the kernel refuses the program, it logs that and decapsulates in
	// user space only.
	Kernel bool
	Logger *slog.Logger // default slog.Default()
}

// Stats are the decapsulator's counters, summed over its receivers.
type Stats struct {
	Received  uint64 // tunnel packets read
	Delivered uint64 // inner packets handed to the stack
	Partial   uint64 // of those, with a checksum left for the stack to complete
	GSO       uint64 // of those, TCP super-frames handed over whole (GSO)
	Kernel    uint64 // packets decapsulated in the kernel (Config.Kernel), not counted above
	Dropped   [numDropReasons]uint64
}

// Drops returns the number of packets dropped for every reason.
func (s *Stats) Drops() (n uint64) {
	for _, d := range s.Dropped {
		n += d
	}
	return n
}

// LogAttrs are the counters as slog attributes (zero drop counters left out).
func (s *Stats) LogAttrs() []any {
	attrs := []any{"received", s.Received, "delivered", s.Delivered, "partial_checksum", s.Partial, "gso", s.GSO, "kernel", s.Kernel}
	for r := DropReason(1); r < numDropReasons; r++ {
		if s.Dropped[r] != 0 {
			attrs = append(attrs, "drop_"+r.String(), s.Dropped[r])
		}
	}
	return attrs
}

// Decap is a running decapsulator: one receiver goroutine per tunnel
// socket, all writing into one TUN device.
type Decap struct {
	cfg       Config
	tun       *tunDevice
	receivers []*receiver
	kernel    *kernelDecap // nil: user space only
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// socketKind is what a receiver's socket delivers.
type socketKind uint8

const (
	kindIPv4Raw socketKind = iota // whole IPv4 packets of one protocol
	kindIPv6Raw                   // IPv6 payloads of one next header
	kindGUE                       // UDP payloads
)

// Start creates the TUN device, opens the tunnel sockets in the calling
// thread's network namespace and starts receiving. ctx ends it (as Close
// does).
func Start(ctx context.Context, cfg Config) (*Decap, error) {
	if cfg.TUN == "" {
		cfg.TUN = "gvstun0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 8
	}
	d := &Decap{cfg: cfg}
	tun, err := openTUN(cfg.TUN)
	if err != nil {
		return nil, err
	}
	d.tun = tun
	if err := bringUp(cfg.TUN); err != nil {
		d.tun.close()
		return nil, err
	}
	if changed := relaxRPFilter(cfg.TUN); len(changed) > 0 {
		cfg.Logger.Debug("reverse-path filter relaxed", "sysctls", changed)
	}
	raw := []struct {
		family int
		proto  byte
	}{
		{unix.AF_INET, ProtoIPIP}, {unix.AF_INET, ProtoIPv6}, {unix.AF_INET, ProtoGRE},
		{unix.AF_INET6, ProtoIPIP}, {unix.AF_INET6, ProtoIPv6}, {unix.AF_INET6, ProtoGRE},
	}
	for _, r := range raw {
		// A raw socket bound to the protocol also keeps the kernel, which
		// has no handler of its own for it, from answering "protocol
		// unreachable".
		fd, err := unix.Socket(r.family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(r.proto))
		if err != nil {
			if r.family == unix.AF_INET6 && errors.Is(err, unix.EAFNOSUPPORT) {
				cfg.Logger.Warn("no IPv6 on this host: IPv6 tunnels not received")
				continue
			}
			d.Close()
			return nil, fmt.Errorf("tundecap: raw socket for protocol %d: %w", r.proto, err)
		}
		setRcvBuf(fd)
		kind := kindIPv4Raw
		if r.family == unix.AF_INET6 {
			kind = kindIPv6Raw
		}
		if err := d.addReceiver(fd, kind, r.proto); err != nil {
			d.Close()
			return nil, err
		}
	}
	if cfg.GUEPort != 0 {
		fd, err := openGUE(cfg.GUEPort)
		if err != nil {
			d.Close()
			return nil, err
		}
		if err := d.addReceiver(fd, kindGUE, 0); err != nil {
			d.Close()
			return nil, err
		}
	}
	if cfg.Kernel {
		if d.kernel, err = openKernelDecap(cfg.GUEPort, cfg.AllowFrom); err != nil {
			cfg.Logger.Warn("kernel decapsulation unavailable: decapsulating in user space", "err", err)
			d.kernel = nil
		}
	}
	for _, r := range d.receivers {
		d.wg.Add(1)
		go r.run(&d.wg)
	}
	go func() {
		select {
		case <-ctx.Done():
			d.Close()
		case <-d.done():
		}
	}()
	cfg.Logger.Info("decapsulating", "tun", cfg.TUN, "gue_port", cfg.GUEPort, "allow_from", cfg.AllowFrom, "kernel", d.kernel != nil)
	return d, nil
}

// openGUE binds the GUE port on IPv6 and IPv4 (one dual-stack socket, or
// an IPv4 one on a host without IPv6).
func openGUE(port uint16) (int, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		// IPVS sends GUE over IPv6 with a zero UDP checksum unless told
		// otherwise; RFC 6935 allows that for tunnels.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_NO_CHECK6_RX, 1)
		err = unix.Bind(fd, &unix.SockaddrInet6{Port: int(port)})
	} else if errors.Is(err, unix.EAFNOSUPPORT) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrInet4{Port: int(port)})
		}
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("tundecap: GUE port %d: %w", port, err)
	}
	setRcvBuf(fd)
	return fd, nil
}

// setRcvBuf gives a socket room for bursts: 4 MiB, beyond net.core.rmem_max
// when running as root (SO_RCVBUFFORCE).
func setRcvBuf(fd int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
}

const rcvBuf = 4 << 20

func (d *Decap) addReceiver(fd int, kind socketKind, proto byte) error {
	f := os.NewFile(uintptr(fd), fmt.Sprintf("tundecap-%d-%d", kind, proto))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return err
	}
	r := &receiver{d: d, file: f, conn: rc, kind: kind, proto: proto}
	r.setup(d.cfg.Batch)
	d.receivers = append(d.receivers, r)
	return nil
}

// Stats returns the counters so far.
func (d *Decap) Stats() Stats {
	var s Stats
	for _, r := range d.receivers {
		s.Received += r.received.Load()
		s.Delivered += r.delivered.Load()
		s.Partial += r.partial.Load()
		s.GSO += r.gso.Load()
		for i := range s.Dropped {
			s.Dropped[i] += r.dropped[i].Load()
		}
	}
	if d.kernel != nil {
		s.Kernel = d.kernel.packets()
	}
	return s
}

// Close stops the receivers, waits for them and removes the TUN device.
func (d *Decap) Close() error {
	d.closeOnce.Do(func() {
		for _, r := range d.receivers {
			r.file.Close() // wakes a receiver waiting for packets
		}
		d.wg.Wait()
		if d.kernel != nil {
			d.kernel.close()
		}
		if d.tun != nil {
			d.tun.close()
		}
	})
	return nil
}

// Wait returns when every receiver has stopped (after Close or the end of
// Start's context).
func (d *Decap) Wait() { d.wg.Wait() }

func (d *Decap) done() <-chan struct{} {
	c := make(chan struct{})
	go func() { d.wg.Wait(); close(c) }()
	return c
}

func (d *Decap) allowed(src netip.Addr) bool {
	if len(d.cfg.AllowFrom) == 0 {
		return true
	}
	src = src.Unmap()
	for _, p := range d.cfg.AllowFrom {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// receiver reads one socket in batches (recvmmsg) into buffers it reuses:
// nothing is allocated per packet.
type receiver struct {
	d     *Decap
	file  *os.File
	conn  syscall.RawConn
	kind  socketKind
	proto byte

	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	bufs  [][]byte // each: vnetHdrLen bytes of room, then the packet

	// set by recv, the callback given to RawConn.Read (made once)
	n      int
	errno  syscall.Errno
	recvFn func(fd uintptr) bool

	received, delivered, partial, gso atomic.Uint64
	dropped                           [numDropReasons]atomic.Uint64
}

const maxPacket = 65535

func (r *receiver) setup(batch int) {
	r.msgs = make([]unix.Mmsghdr, batch)
	r.iovs = make([]unix.Iovec, batch)
	r.names = make([]unix.RawSockaddrInet6, batch)
	r.bufs = make([][]byte, batch)
	for i := range r.msgs {
		r.bufs[i] = make([]byte, vnetHdrLen+maxPacket)
		r.iovs[i].Base = &r.bufs[i][vnetHdrLen]
		r.iovs[i].SetLen(maxPacket)
		r.msgs[i].Hdr.Iov = &r.iovs[i]
		r.msgs[i].Hdr.SetIovlen(1)
		r.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	r.recvFn = r.recv
}

func (r *receiver) recv(fd uintptr) bool {
	for i := range r.msgs {
		r.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		r.msgs[i].Hdr.Flags = 0
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(len(r.msgs)), 0, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait for the socket to become readable
		}
		r.n, r.errno = int(n), errno
		return true
	}
}

func (r *receiver) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		if err := r.conn.Read(r.recvFn); err != nil {
			return // closed
		}
		if r.errno != 0 {
			if r.errno == unix.EBADF {
				return
			}
			// a pending ICMP error reported once, ENOMEM and the like: the
			// next call may succeed; a pause keeps a lasting one from spinning
			time.Sleep(time.Millisecond)
			continue
		}
		for i := 0; i < r.n; i++ {
			r.handle(i)
		}
	}
}

// handle decapsulates message i of the last batch and delivers it.
func (r *receiver) handle(i int) {
	r.received.Add(1)
	m := &r.msgs[i]
	if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
		r.dropped[DropTruncated].Add(1)
		return
	}
	pkt := r.bufs[i][vnetHdrLen : vnetHdrLen+int(m.Len)]
	var in Inner
	var err error
	var src netip.Addr
	switch r.kind {
	case kindIPv4Raw:
		in, err = DecapIPv4(pkt)
		if len(pkt) >= 20 {
			src = netip.AddrFrom4([4]byte(pkt[12:16]))
		}
	case kindIPv6Raw:
		in, err = DecapIPv6Payload(r.proto, pkt)
		src = r.source(i)
	case kindGUE:
		in, err = DecapGUE(pkt)
		src = r.source(i)
	}
	if err != nil {
		reason, ok := err.(DropReason)
		if !ok {
			reason = DropOuter
		}
		r.dropped[reason].Add(1)
		return
	}
	if !r.d.allowed(src) {
		r.dropped[DropNotAllowed].Add(1)
		return
	}
	if err := r.d.tun.write(r.bufs[i][in.Start:vnetHdrLen+in.End], &in); err != nil {
		r.dropped[DropWrite].Add(1)
		return
	}
	r.delivered.Add(1)
	if in.Partial {
		r.partial.Add(1)
	}
	if r.d.tun.gsoSize(&in, in.End-in.Start) > 0 {
		r.gso.Add(1)
	}
}

// source reads the sender's address of message i (AF_INET6 sockets report
// IPv4 senders as mapped addresses; an AF_INET GUE socket, sockaddr_in).
func (r *receiver) source(i int) netip.Addr {
	sa := &r.names[i]
	switch sa.Family {
	case unix.AF_INET6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrFrom4(sa4.Addr)
	}
	return netip.Addr{}
}
