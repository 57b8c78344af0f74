package lab

import (
	"fmt"
	"net/netip"
)

// The address plan. The client side is one subnet, the server LAN (the
// router's bridge, the directors, the real servers and the VIPs) another;
// each IPv4 address has an IPv6 twin whose last group reads the same
// (10.0.2.11 and fd00:2::11).
var (
	ClientNet4 = netip.MustParsePrefix("10.0.1.0/24")
	ClientNet6 = netip.MustParsePrefix("fd00:1::/64")
	LAN4       = netip.MustParsePrefix("10.0.2.0/24")
	LAN6       = netip.MustParsePrefix("fd00:2::/64")

	RouterClientSide4 = netip.MustParseAddr("10.0.1.1") // the clients' gateway
	RouterClientSide6 = netip.MustParseAddr("fd00:1::1")
	RouterLAN4        = netip.MustParseAddr("10.0.2.254") // the LAN's gateway, and the real servers' for DR/TUN replies
	RouterLAN6        = netip.MustParseAddr("fd00:2::fe")
	Director4         = netip.MustParseAddr("10.0.2.1") // the real servers' default gateway (NAT replies)
	Director6         = netip.MustParseAddr("fd00:2::1")
	Director2_4       = netip.MustParseAddr("10.0.2.2") // the optional second director
	Director2_6       = netip.MustParseAddr("fd00:2::2")
)

// Sizes of the plan.
const (
	Clients    = 9  // client addresses: 10.0.1.2-10, fd00:1::2-10
	VIPs       = 10 // virtual addresses: 10.0.2.100-109, fd00:2::100-109
	MaxServers = 89 // real servers: 10.0.2.11-99, fd00:2::11-99
)

// DRTable is the routing table a real server uses for packets from a VIP
// (DR and TUN replies): its default route is the router, not the director.
const DRTable = 100

// Ports the real servers' services listen on (every address, IPv4 and
// IPv6). HTTPSPort is plain HTTP too: a second port for firewall-mark and
// persistence tests.
const (
	HTTPPort    = 80
	HTTPAltPort = 8080
	HTTPSPort   = 443
	DNSPort     = 53
	UDPEchoPort = 9000
	IperfPort   = 5201
	GUEPort     = 6080 // the decapsulators' GUE port
)

// Client returns the i-th client address (i from 0 to Clients-1):
// 10.0.1.2.. or fd00:1::2.. The first is the client's primary address.
func Client(i int, v6 bool) netip.Addr {
	if i < 0 || i >= Clients {
		panic(fmt.Sprintf("lab: client address %d out of range 0..%d", i, Clients-1))
	}
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd00:1::%d", i+2))
	}
	return netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 2)})
}

// RealServer returns the n-th real server's address (n from 1):
// rs1 is 10.0.2.11 and fd00:2::11.
func RealServer(n int, v6 bool) netip.Addr {
	if n < 1 || n > MaxServers {
		panic(fmt.Sprintf("lab: real server %d out of range 1..%d", n, MaxServers))
	}
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd00:2::%d", 10+n))
	}
	return netip.AddrFrom4([4]byte{10, 0, 2, byte(10 + n)})
}

// VIP returns the i-th virtual address (i from 0 to VIPs-1): 10.0.2.100..
// or fd00:2::100.. Every real server has them all on lo (DR and TUN); a
// director gets the ones it serves with AddVIP.
func VIP(i int, v6 bool) netip.Addr {
	if i < 0 || i >= VIPs {
		panic(fmt.Sprintf("lab: VIP %d out of range 0..%d", i, VIPs-1))
	}
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd00:2::%d", 100+i))
	}
	return netip.AddrFrom4([4]byte{10, 0, 2, byte(100 + i)})
}

// RS returns the n-th real server's role name ("rs1"), the suffix of its
// namespace's name.
func RS(n int) string { return fmt.Sprintf("rs%d", n) }

// Host describes one namespace of the lab: its role, its namespace's
// name, its primary addresses on eth0 and its default gateways.
type Host struct {
	Role, Netns        string
	IPv4, IPv6         netip.Addr
	Gateway4, Gateway6 netip.Addr
}

func plan(prefix string, servers int, director2 bool) []Host {
	ns := func(role string) string { return prefix + "-" + role }
	hosts := []Host{
		{"client", ns("client"), Client(0, false), Client(0, true), RouterClientSide4, RouterClientSide6},
		{"router", ns("router"), RouterClientSide4, RouterClientSide6, netip.Addr{}, netip.Addr{}},
		{"dir", ns("dir"), Director4, Director6, RouterLAN4, RouterLAN6},
	}
	if director2 {
		hosts = append(hosts, Host{"dir2", ns("dir2"), Director2_4, Director2_6, RouterLAN4, RouterLAN6})
	}
	for n := 1; n <= servers; n++ {
		hosts = append(hosts, Host{RS(n), ns(RS(n)), RealServer(n, false), RealServer(n, true), Director4, Director6})
	}
	return hosts
}
