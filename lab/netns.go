//go:build linux

package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"github.com/vishvananda/netns"
)

// Netns returns a handle on a role's namespace, for Go code that takes one
// (netlink.NewHandleAt, netns.Set). The caller closes it.
func (l *Lab) Netns(role string) (netns.NsHandle, error) {
	h, err := netns.GetFromName(l.NS(role))
	if err != nil {
		return h, fmt.Errorf("lab: namespace %s: %w", l.NS(role), err)
	}
	return h, nil
}

// Do runs fn inside a role's namespace: see InNetns.
func (l *Lab) Do(role string, fn func() error) error { return InNetns(l.NS(role), fn) }

// InNetns runs fn with its OS thread in the named network namespace and
// returns fn's error. fn runs on a goroutine of its own, locked to its
// thread, which goes back to the original namespace afterwards (or, should
// that fail, is thrown away with the goroutine): no other goroutine ever
// runs in the wrong namespace. Sockets and TUN devices fn opens stay in
// that namespace and may be used from anywhere afterwards. Goroutines fn
// starts do not inherit the namespace. A panic in fn is re-raised here.
func InNetns(name string, fn func() error) error {
	target, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("lab: namespace %s: %w", name, err)
	}
	defer target.Close()
	type result struct {
		err      error
		panicked bool
		value    any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("lab: current namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("lab: enter namespace %s: %w", name, err)}
			return
		}
		defer func() {
			if netns.Set(orig) == nil {
				runtime.UnlockOSThread()
			} // else the thread stays locked and ends with this goroutine
			if v := recover(); v != nil {
				done <- result{panicked: true, value: v}
			}
		}()
		done <- result{err: fn()}
	}()
	r := <-done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

// DialContext returns a dial function that makes its connections from a
// role's namespace, from the source address src if it is valid. It fits
// net/http.Transport.DialContext.
func (l *Lab) DialContext(role string, src netip.Addr) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (conn net.Conn, err error) {
		d := net.Dialer{}
		if src.IsValid() {
			switch network {
			case "udp", "udp4", "udp6":
				d.LocalAddr = &net.UDPAddr{IP: src.AsSlice()}
			default:
				d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
			}
		}
		err = l.Do(role, func() (err error) {
			conn, err = d.DialContext(ctx, network, address)
			return err
		})
		return conn, err
	}
}
