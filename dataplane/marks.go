package dataplane

import (
	"net/netip"

	"github.com/govs/gvs/ipvs"
)

// MarkRule gives matching packets a firewall mark, as an iptables MARK
// rule in the mangle table does for kernel IPVS; GVS evaluates it itself
// because it sees packets before the kernel's hooks.
type MarkRule struct {
	Mark     uint32
	Protocol ipvs.Protocol // 0 = any of TCP, UDP, SCTP
	Prefix   netip.Prefix  // destination address or prefix
	Ports    []uint16      // destination ports; empty = any
}

func (r *MarkRule) match(f *ipvs.Flow) bool {
	if r.Protocol != 0 && r.Protocol != f.Protocol {
		return false
	}
	if !r.Prefix.Contains(f.Dst.Netip(f.Family)) {
		return false
	}
	if len(r.Ports) == 0 {
		return true
	}
	for _, p := range r.Ports {
		if p == f.DstPort {
			return true
		}
	}
	return false
}

// markOf returns the first matching rule's mark, or 0. Rule lists are short;
// a linear scan is cheaper than any index for them.
func markOf(rules []MarkRule, f *ipvs.Flow) uint32 {
	for i := range rules {
		if rules[i].match(f) {
			return rules[i].Mark
		}
	}
	return 0
}
