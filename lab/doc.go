// Package lab builds GVS's network-namespace lab: a client side with
// several addresses, a router, a director on a server LAN and real servers
// running real services (Debian's nginx for HTTP, dnsmasq for DNS, a UDP
// echo), configured so one real server serves NAT, DR and TUN at once.
// The README's demo, the end-to-end tests and the benchmarks stand on it.
//
// Address plan (IPv4 / IPv6):
//
//	client   10.0.1.2-10 /24      fd00:1::2-10 /64   gw 10.0.1.1 / fd00:1::1
//	router   10.0.1.1 (client side), br0 10.0.2.254 / fd00:2::fe (server LAN)
//	director 10.0.2.1 /24         fd00:2::1 /64      gw the router
//	rsN      10.0.2.1N /24        fd00:2::1N /64     default gw the director (NAT)
//	VIPs     10.0.2.100-109       fd00:2::100-109    on every real server's lo (DR/TUN)
//
// Real servers answer ARP only for their own addresses (arp_ignore=1,
// arp_announce=2) and route replies from a VIP (DR/TUN) straight to the
// router by a source rule, so they bypass the director; NAT replies go via
// the director. TUN real servers run gvs-tundecap (this kernel has no ipip
// module). Offloads stay at the kernel's defaults.
//
// It needs root, iproute2, and for services nginx-light and dnsmasq. It
// imports nothing from GVS's engine. Where to start reading: lab.go (Up).
package lab
