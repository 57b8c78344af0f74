package lab

import (
	"fmt"
	"net/netip"
)

// Addresses of the lab.
var (
	RouterClientSide4 = netip.MustParseAddr("10.0.1.1")
	RouterClientSide6 = netip.MustParseAddr("fd00:1::1")
	RouterLAN4        = netip.MustParseAddr("10.0.2.254")
	RouterLAN6        = netip.MustParseAddr("fd00:2::fe")
	Director4         = netip.MustParseAddr("10.0.2.1")
	Director6         = netip.MustParseAddr("fd00:2::1")
	Director2_4       = netip.MustParseAddr("10.0.2.2")
	Director2_6       = netip.MustParseAddr("fd00:2::2")
)

// Clients is the number of client addresses.
const Clients = 9

// Client returns the i-th client address (0..8): 10.0.1.2.. / fd00:1::2..
func Client(i int, v6 bool) netip.Addr {
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd00:1::%d", i+2))
	}
	return netip.MustParseAddr(fmt.Sprintf("10.0.1.%d", i+2))
}

// RealServer returns the n-th real server's address (n from 1).
func RealServer(n int, v6 bool) netip.Addr {
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd00:2::1%d", n))
	}
	return netip.MustParseAddr(fmt.Sprintf("10.0.2.1%d", n))
}

// VIPs is the number of virtual addresses prepared on the real servers.
const VIPs = 10

// VIP returns the i-th virtual address (0..9): 10.0.2.100.. / fd00:2::100..
func VIP(i int, v6 bool) netip.Addr {
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd00:2::%d", 100+i))
	}
	return netip.MustParseAddr(fmt.Sprintf("10.0.2.%d", 100+i))
}
