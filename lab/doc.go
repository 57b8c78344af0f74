// Package lab builds, inspects and tears down GVS's network-namespace lab:
// a client with several addresses, a router, a director (optionally two)
// and real servers running real services, configured so one real server
// serves NAT, DR and TUN at once. The README's demo, the end-to-end tests
// and the benchmarks stand on it; cmd/gvs-lab is its command.
//
// Topology (namespace <prefix>-<role>, default prefix "gvs"):
//
//	client ── eth0 ═ eth0 ── router ── br0 ═┬═ p-dir  ═ eth0 ── dir   (dir2)
//	                                        ├═ p-rs1  ═ eth0 ── rs1
//	                                        └═ p-rsN  ═ eth0 ── rsN
//
// Address plan (IPv4 / IPv6):
//
//	client   10.0.1.2 (+ .3-.10)    fd00:1::2 (+ ::3-::10)   gw the router
//	router   10.0.1.1 on eth0, 10.0.2.254 on br0; fd00:1::1, fd00:2::fe; forwarding
//	dir      10.0.2.1               fd00:2::1                gw the router; forwarding
//	dir2     10.0.2.2               fd00:2::2                (Options.Director2)
//	rsN      10.0.2.1N              fd00:2::1N               gw the director (NAT)
//	VIPs     10.0.2.100-109         fd00:2::100-109          on every real server's lo
//
// Real servers answer ARP only for eth0's own addresses (arp_ignore=1,
// arp_announce=2), and IPv6 never answers neighbour solicitations on eth0
// for addresses on lo, so only a director holding a VIP (AddVIP) draws its
// traffic. A source rule sends packets from a VIP (DR and TUN replies) to
// the router by table DRTable, past the director; NAT replies take the
// default route through the director. ICMP redirects are off on both
// sides, so a NAT reply is never redirected around the director. Each real
// server runs gvs-tundecap (this kernel has no ipip, gre or fou module),
// nginx (80, 8080, 443), dnsmasq (53) and a UDP echo (9000); iperf3 on
// demand. Offloads stay at the kernel's defaults.
//
// Processes run in sessions of their own with pid files under
// /run/gvs-lab/<prefix>, so Down, Clean and another gvs-lab process find
// them; Clean also kills anything else left in the namespaces.
//
// It needs root, iproute2 and the Debian packages in packages.txt. It
// imports nothing from the rest of GVS (no ipvs, no packet): it builds the
// commands it runs (gvs-tundecap, gvs-lab) with go build. Where to start
// reading: lab.go (Options, Up, build, Down, Clean), then services.go,
// exec.go (processes), netns.go (Do, DialContext) and capture.go.
package lab
