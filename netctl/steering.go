package netctl

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Steering says which packets belong to GVS. GVS's packet sockets receive
// a frame when the kernel hands it to the IP layer (after TC ingress,
// where the kernel fast path forwards established flows); these rules
// then drop, first thing in prerouting and before defragmentation, the
// ones GVS forwards itself, so that:
//   - the local stack never answers virtual-service traffic (no RST from a
//     VIP configured on an interface, no forwarding loop for a VIP that is not);
//   - a real server's NAT reply is never forwarded untranslated by the
//     kernel, even after GVS forgot its connection (the HOWTO's leaked
//     replies with the real server's source address);
//   - ICMP errors from NAT real servers do not leak either.
//
// VIP ports without a virtual service stay with the kernel.
type Steering struct {
	Interfaces []string
	Services   []Endpoint // virtual services (Port 0: every port)
	NATReplies []Endpoint // NAT real servers' sources (Port 0: every port)

	// Local, when set, brings the director's own traffic to GVS: packets
	// that local processes send to a virtual service, and replies of NAT
	// real servers that are local addresses. An output rule marks them and
	// a policy route sends them through lo, where GVS's packet socket reads
	// them and a prerouting rule keeps the kernel from taking them in.
	Local *LocalSteering
}

// LocalSteering is the policy routing for the director's own traffic.
type LocalSteering struct {
	Mark  uint32     // firewall mark of the redirected packets
	Table int        // routing table holding the route to lo
	Src6  netip.Addr // IPv6 source for local clients (IPv6 local routes need one); may be invalid
	NAT   []Endpoint // NAT real servers that are local addresses
}

// Default policy-routing values for local traffic ("GV" in ASCII).
const (
	DefaultLocalMark  = 0x4756
	DefaultLocalTable = 4756
)

// Endpoint is an address, protocol and port (port 0 = any port).
type Endpoint struct {
	Addr     netip.Addr
	Protocol uint8 // 6 TCP, 17 UDP, 132 SCTP
	Port     uint16
}

// TableName is the nftables table GVS owns.
const TableName = "gvs"

func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 132:
		return "sctp"
	}
	return fmt.Sprint(p)
}

// Ruleset renders the steering as one nft script that replaces GVS's table
// atomically (nft applies a script as a single transaction).
func (s Steering) Ruleset() string {
	var b strings.Builder
	// "add table" then "delete table" makes the delete succeed whether or
	// not the table existed; the rest rebuilds it in the same transaction.
	// (GVS before 2026-12-06 steered in a netdev table: gone too.)
	fmt.Fprintf(&b, "add table netdev %s\ndelete table netdev %s\n", TableName, TableName)
	fmt.Fprintf(&b, "add table inet %s\ndelete table inet %s\n", TableName, TableName)
	if len(s.Interfaces) == 0 {
		return b.String()
	}
	set := func(name, typ string, elems []string) {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", name, typ)
		if len(elems) > 0 {
			sort.Strings(elems)
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
		}
		b.WriteString("\t}\n")
	}
	split := func(eps []Endpoint) (v4port, v6port, v4any, v6any, v4addr, v6addr []string) {
		seen := map[string]bool{}
		add := func(list *[]string, e string) {
			if !seen[e] {
				seen[e] = true
				*list = append(*list, e)
			}
		}
		for _, e := range eps {
			a := e.Addr.Unmap()
			p := protoName(e.Protocol)
			if a.Is4() {
				add(&v4addr, a.String())
				if e.Port == 0 {
					add(&v4any, fmt.Sprintf("%s . %s", a, p))
				} else {
					add(&v4port, fmt.Sprintf("%s . %s . %d", a, p, e.Port))
				}
			} else {
				add(&v6addr, a.String())
				if e.Port == 0 {
					add(&v6any, fmt.Sprintf("%s . %s", a, p))
				} else {
					add(&v6port, fmt.Sprintf("%s . %s . %d", a, p, e.Port))
				}
			}
		}
		return
	}
	s4, s6, sa4, sa6, si4, si6 := split(s.Services)
	n4, n6, na4, na6, ni4, ni6 := split(s.NATReplies)
	serviceSets := func() {
		set("svc4", "ipv4_addr . inet_proto . inet_service", s4)
		set("svc6", "ipv6_addr . inet_proto . inet_service", s6)
		set("svcany4", "ipv4_addr . inet_proto", sa4)
		set("svcany6", "ipv6_addr . inet_proto", sa6)
	}
	serviceRules := func(verdict string) {
		fmt.Fprintf(&b, "\t\tip daddr . meta l4proto . th dport @svc4 %s\n", verdict)
		fmt.Fprintf(&b, "\t\tip6 daddr . meta l4proto . th dport @svc6 %s\n", verdict)
		fmt.Fprintf(&b, "\t\tip daddr . meta l4proto @svcany4 %s\n", verdict)
		fmt.Fprintf(&b, "\t\tip6 daddr . meta l4proto @svcany6 %s\n", verdict)
	}
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	serviceSets()
	set("nat4", "ipv4_addr . inet_proto . inet_service", n4)
	set("nat6", "ipv6_addr . inet_proto . inet_service", n6)
	set("natany4", "ipv4_addr . inet_proto", na4)
	set("natany6", "ipv6_addr . inet_proto", na6)
	set("natip4", "ipv4_addr", ni4)
	set("natip6", "ipv6_addr", ni6)
	set("svcip4", "ipv4_addr", si4)
	set("svcip6", "ipv6_addr", si6)
	if l := s.Local; l != nil {
		l4, l6, la4, la6, _, _ := split(l.NAT)
		set("lnat4", "ipv4_addr . inet_proto . inet_service", l4)
		set("lnat6", "ipv6_addr . inet_proto . inet_service", l6)
		set("lnatany4", "ipv4_addr . inet_proto", la4)
		set("lnatany6", "ipv6_addr . inet_proto", la6)
		mark := fmt.Sprintf("meta mark set 0x%x", l.Mark)
		b.WriteString("\tchain local_out {\n\t\ttype route hook output priority mangle; policy accept;\n")
		serviceRules(mark + " comment \"local client of a virtual service: through lo to GVS\"")
		fmt.Fprintf(&b, "\t\tip saddr . meta l4proto . th sport @lnat4 %s comment \"reply of a local NAT real server\"\n", mark)
		fmt.Fprintf(&b, "\t\tip6 saddr . meta l4proto . th sport @lnat6 %s\n", mark)
		fmt.Fprintf(&b, "\t\tip saddr . meta l4proto @lnatany4 %s\n", mark)
		fmt.Fprintf(&b, "\t\tip6 saddr . meta l4proto @lnatany6 %s\n", mark)
		b.WriteString("\t}\n")
		// GVS's packet socket on lo has seen these before this hook
		b.WriteString("\tchain local_in {\n\t\ttype filter hook prerouting priority raw; policy accept;\n")
		fmt.Fprintf(&b, "\t\tiif \"lo\" meta mark 0x%x counter drop comment \"GVS forwards it\"\n", l.Mark)
		b.WriteString("\t\tiif != \"lo\" return\n")
		serviceRules("counter drop")
		b.WriteString("\t}\n")
	}
	names := make([]string, len(s.Interfaces))
	for i, ifname := range s.Interfaces {
		names[i] = fmt.Sprintf("%q", ifname)
	}
	// before defragmentation (priority -400): later fragments are GVS's
	// to reassemble or give back
	b.WriteString("\tchain steer {\n\t\ttype filter hook prerouting priority -500; policy accept;\n")
	fmt.Fprintf(&b, "\t\tiifname != { %s } return\n", strings.Join(names, ", "))
	serviceRules("counter drop") // virtual services: GVS forwards them
	b.WriteString("\t\tip saddr . meta l4proto . th sport @nat4 counter drop comment \"NAT reply (GVS translates it or drops it)\"\n")
	b.WriteString("\t\tip6 saddr . meta l4proto . th sport @nat6 counter drop\n")
	b.WriteString("\t\tip saddr . meta l4proto @natany4 counter drop\n")
	b.WriteString("\t\tip6 saddr . meta l4proto @natany6 counter drop\n")
	b.WriteString("\t\tip saddr @natip4 icmp type { destination-unreachable, source-quench, time-exceeded, parameter-problem } counter drop\n")
	b.WriteString("\t\tip6 saddr @natip6 icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } counter drop\n")
	// Later fragments carry no ports, so the rules above miss them: GVS
	// takes all of a VIP's and a NAT real server's, forwards those whose
	// first fragment it forwarded, and gives the others back to the
	// kernel (the kernel forwarded their first fragment).
	b.WriteString("\t\tip daddr @svcip4 ip frag-off & 0x1fff != 0 counter drop comment \"later fragment: GVS forwards it or gives it back\"\n")
	b.WriteString("\t\tip saddr @natip4 ip frag-off & 0x1fff != 0 counter drop\n")
	b.WriteString("\t\tip6 daddr @svcip6 frag frag-off != 0 counter drop\n")
	b.WriteString("\t\tip6 saddr @natip6 frag frag-off != 0 counter drop\n")
	b.WriteString("\t}\n")
	b.WriteString("}\n")
	return b.String()
}
