package health

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// dialer returns a dialer that binds as the endpoint says: source address
// (with IP_FREEBIND, so a VIP not yet configured works), interface
// (SO_BINDTODEVICE) and socket mark (SO_MARK, via_vip). Failures of these
// are the director's own and make the check an Error.
func dialer(e Endpoint, network string) *net.Dialer {
	d := &net.Dialer{}
	if e.Source.IsValid() {
		src := e.Source.Unmap()
		switch network {
		case "udp", "udp4", "udp6":
			d.LocalAddr = &net.UDPAddr{IP: src.AsSlice(), Zone: src.Zone()}
		default:
			d.LocalAddr = &net.TCPAddr{IP: src.AsSlice(), Zone: src.Zone()}
		}
	}
	if e.Source.IsValid() || e.Interface != "" || e.Mark != 0 {
		opts := sockOpts{freebind: e.Source.IsValid(), device: e.Interface, mark: e.Mark}
		d.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = opts.apply(int(fd), network) }); err != nil {
				return localErr(err)
			}
			return localErr(serr)
		}
	}
	return d
}

// dial connects to the endpoint (or to port instead of its own when port is
// non-zero) within ctx, classifying bind failures as local.
func dial(ctx context.Context, e Endpoint, network string, port uint16) (net.Conn, error) {
	if port == 0 {
		port = e.Port
	}
	addr := netip.AddrPortFrom(e.Addr.Unmap(), port)
	c, err := dialer(e, network).DialContext(ctx, network, addr.String())
	if err != nil {
		return nil, classifyDial(err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return c, nil
}

// classifyDial marks errors raised while binding the local side.
func classifyDial(err error) error {
	if isLocal(err) {
		return err
	}
	var se *os.SyscallError
	if errors.As(err, &se) && se.Syscall == "bind" {
		return localErr(err)
	}
	return err
}

// deadline returns ctx's deadline, or now + fallback.
func deadline(ctx context.Context, fallback time.Duration) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(fallback)
}

// closeOnDone closes c when ctx ends before stop is called, so a blocked
// read or write returns at once even without a deadline.
func closeOnDone(ctx context.Context, c interface{ Close() error }) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = c.Close() })
}

// sockOpts are the socket options a check's socket gets.
type sockOpts struct {
	freebind bool
	device   string
	mark     uint32
}
