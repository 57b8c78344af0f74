//go:build linux

package lab

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv6"
)

// serveEcho uses IPV6_PKTINFO on the dual-stack socket to learn each
// datagram's destination and answer from it.
func serveEcho(c *net.UDPConn, name string) error {
	pc := ipv6.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv6.FlagDst, true); err != nil {
		return err
	}
	buf := make([]byte, 65536)
	for {
		n, cm, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		var local netip.Addr
		var reply *ipv6.ControlMessage
		if cm != nil && cm.Dst != nil {
			local, _ = netip.AddrFromSlice(cm.Dst)
			reply = &ipv6.ControlMessage{Src: cm.Dst}
		}
		ua := from.(*net.UDPAddr)
		peer := netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
		msg := fmt.Sprintf("%s client=%s local=%s %s", name, peer, local.Unmap(), buf[:n])
		pc.WriteTo([]byte(msg), reply, from)
	}
}
