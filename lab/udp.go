package lab

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// UDPSend sends one datagram from src to dst:port and returns the reply
// (run inside the client namespace by gvs-lab udp-send).
func UDPSend(src, dst netip.Addr, port int, payload string) (string, error) {
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: src.AsSlice()}, &net.UDPAddr{IP: dst.AsSlice(), Port: port})
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
