//go:build linux

package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// RunUDPEcho is the real servers' UDP echo (gvs-lab udp-echo): it answers
// every datagram on port, IPv4 and IPv6, with "NAME client=ADDR:PORT
// local=ADDR PAYLOAD", from the address the datagram was sent to (a VIP
// for DR and TUN). It returns when ctx ends.
func RunUDPEcho(ctx context.Context, name string, port int) error {
	c4, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return err
	}
	c6, err := net.ListenUDP("udp6", &net.UDPAddr{Port: port})
	if err != nil {
		c4.Close()
		return err
	}
	go func() { <-ctx.Done(); c4.Close(); c6.Close() }()
	errc := make(chan error, 2)
	go func() { errc <- serveEcho4(c4, name) }()
	go func() { errc <- serveEcho6(c6, name) }()
	return <-errc
}

// serveEcho answers on one socket per family, using the packet-info
// control messages to reply from the address each datagram was sent to (a
// VIP for DR and TUN).
func serveEcho4(c *net.UDPConn, name string) error {
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
		return err
	}
	buf := make([]byte, 65536)
	for {
		n, cm, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		var local netip.Addr
		var reply *ipv4.ControlMessage
		if cm != nil && cm.Dst != nil {
			local, _ = netip.AddrFromSlice(cm.Dst.To4())
			reply = &ipv4.ControlMessage{Src: cm.Dst}
		}
		pc.WriteTo(echoReply(name, from, local, buf[:n]), reply, from)
	}
}

func serveEcho6(c *net.UDPConn, name string) error {
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
		pc.WriteTo(echoReply(name, from, local, buf[:n]), reply, from)
	}
}

func echoReply(name string, from net.Addr, local netip.Addr, payload []byte) []byte {
	ua := from.(*net.UDPAddr)
	peer := netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
	return []byte(fmt.Sprintf("%s client=%s local=%s %s", name, peer, local.Unmap(), payload))
}
