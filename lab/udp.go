//go:build linux

package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// UDPSend sends one datagram from src to dst:port and returns the reply,
// from the namespace of the calling thread (gvs-lab udp-send runs it in
// the client namespace; UDPEcho uses it through Do).
func UDPSend(src, dst netip.Addr, port int, payload string) (string, error) {
	var laddr *net.UDPAddr
	if src.IsValid() {
		laddr = &net.UDPAddr{IP: src.AsSlice()}
	}
	c, err := net.DialUDP("udp", laddr, &net.UDPAddr{IP: dst.AsSlice(), Port: port})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(payload)); err != nil {
		return "", err
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("no reply from %s:%d: %w", dst, port, err)
	}
	return string(buf[:n]), nil
}

// UDPEcho sends one datagram from the client namespace, from address src,
// to dst:port and returns the reply (from the UDP echo: "rsN client=...
// local=... PAYLOAD").
func (l *Lab) UDPEcho(ctx context.Context, src, dst string, port int, payload string) (string, error) {
	s, err := netip.ParseAddr(src)
	if err != nil {
		return "", err
	}
	d, err := netip.ParseAddr(dst)
	if err != nil {
		return "", err
	}
	// the socket is made in the client namespace; the exchange itself may
	// run anywhere
	var c *net.UDPConn
	err = l.Do("client", func() (err error) {
		c, err = net.DialUDP("udp", &net.UDPAddr{IP: s.AsSlice()}, &net.UDPAddr{IP: d.AsSlice(), Port: port})
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline := time.Now().Add(3 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	c.SetDeadline(deadline)
	if _, err := c.Write([]byte(payload)); err != nil {
		return "", err
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("lab: no UDP reply from %s:%d to %s: %w", dst, port, src, err)
	}
	return string(buf[:n]), nil
}
