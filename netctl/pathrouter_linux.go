//go:build linux

package netctl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// PathRouter prepares the director's kernel for health checks that go
// through the VIP the way clients reach a real server (health's via_vip):
// a check socket carrying the mark it hands out (SO_MARK) and addressed to
// the VIP leaves in a frame for one particular real server.
//
// Direct routing: for each (VIP, real server) pair, a firewall mark M and
// a routing table T, with
//
//	ip rule add fwmark M lookup T pref 4755
//	ip route add VIP/32 via RS dev IF onlink table T    (VIP/128 for IPv6)
//
// where IF is the interface of the director's route to RS. The kernel then
// sends the check's SYN to the VIP in a frame for the real server's MAC,
// exactly as the data path forwards client packets; the real server (VIP
// on lo) answers from the VIP straight to the director's address.
//
// The data path's own output rule (Steering.Local) marks every local
// packet to a virtual service for GVS (through lo), which would take the
// check to the scheduler instead of to its real server. So an nftables
// table of its own ("gvs_health") saves the mark M into the packet's
// priority before that rule (output, priority mangle - 10) and puts it back
// after it (priority mangle + 10, a route chain, so the kernel routes the
// packet again with M); the priority is cleared.
//
// Tunnel real servers: the same rule and route, under a mark the caller
// gives (the data path's kernel encapsulation mark for that real server,
// dataplane.TunnelMark): the check's packets leave in a frame for the
// real server and the data path's TC egress program encapsulates them on
// the way, as it encapsulates client packets.
//
// Requirements (documented in docs/health.md): the VIP must not be a local
// address of the director's kernel (the local table comes before every
// rule; GVS-owned VIPs are not), and rp_filter must accept the replies
// (source VIP) on the interface (loose mode, or a VIP inside a subnet of
// that interface).
type PathRouter struct {
	opts PathRouterOptions

	mu      sync.Mutex
	entries map[pathKey]*pathEntry
	byIndex map[uint32]*pathEntry
	next    uint32
}

// PathRouterOptions tune a PathRouter; the zero value is usable.
type PathRouterOptions struct {
	MarkBase  uint32 // marks are MarkBase+1.. (default 0x47480000; the low 16 bits must be 0)
	TableBase int    // tables are TableBase+1.. (default 4748000)
	Priority  int    // ip rule priority (default 4755: after the local table, before GVS's 4756 and main)
	NFT       string // nft binary (default "nft")
}

type pathKey struct {
	vip, rs netip.Addr
	given   uint32 // the caller's mark (tunnel paths); 0: the router's own
}

type pathEntry struct {
	key   pathKey
	index uint32 // table TableBase+index; the mark MarkBase+index unless given
	mark  uint32
	refs  int
	rule  *netlink.Rule
	route *netlink.Route
}

// NFTHealthTable is the nftables table of the PathRouter.
const NFTHealthTable = "gvs_health"

// NewPathRouter returns a PathRouter with nothing installed yet.
func NewPathRouter(opts PathRouterOptions) *PathRouter {
	if opts.MarkBase == 0 {
		opts.MarkBase = 0x47480000
	}
	if opts.TableBase == 0 {
		opts.TableBase = 4748000
	}
	if opts.Priority == 0 {
		opts.Priority = 4755
	}
	if opts.NFT == "" {
		opts.NFT = "nft"
	}
	return &PathRouter{opts: opts, entries: map[pathKey]*pathEntry{}, byIndex: map[uint32]*pathEntry{}}
}

// Route installs (or shares) the path to vip through real server rs and
// returns the mark that check sockets must carry: mark when it is not 0
// (a tunnel path, encapsulated on egress under that mark), else one of the
// router's own.
func (p *PathRouter) Route(vip, rs netip.Addr, mark uint32) (uint32, error) {
	vip, rs = vip.Unmap(), rs.Unmap()
	if !vip.IsValid() || !rs.IsValid() || vip.Is4() != rs.Is4() {
		return 0, fmt.Errorf("netctl: via_vip path to %s through %s: addresses of one family needed", vip, rs)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pathKey{vip, rs, mark}
	if e := p.entries[k]; e != nil {
		e.refs++
		return e.mark, nil
	}
	idx, err := p.freeIndex()
	if err != nil {
		return 0, err
	}
	if mark == 0 {
		mark = p.opts.MarkBase + idx
	}
	e := &pathEntry{key: k, index: idx, mark: mark, refs: 1}
	if err := p.install(e); err != nil {
		p.uninstall(e)
		return 0, err
	}
	p.entries[k], p.byIndex[idx] = e, e
	if err := p.applyNFT(); err != nil {
		delete(p.entries, k)
		delete(p.byIndex, idx)
		p.uninstall(e)
		return 0, err
	}
	return mark, nil
}

// Release drops one user of the path Route(vip, rs, mark) made; the last
// one removes its rule, route and nftables rules.
func (p *PathRouter) Release(vip, rs netip.Addr, mark uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pathKey{vip.Unmap(), rs.Unmap(), mark}
	e := p.entries[k]
	if e == nil {
		return
	}
	if e.refs--; e.refs > 0 {
		return
	}
	delete(p.entries, k)
	delete(p.byIndex, e.index)
	p.uninstall(e)
	_ = p.applyNFT()
}

// Close removes everything the router installed.
func (p *PathRouter) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.entries {
		p.uninstall(e)
		delete(p.entries, k)
		delete(p.byIndex, e.index)
	}
	return p.applyNFT()
}

// Paths lists the installed paths as "VIP via RS mark 0x... table N" (tests, debugging).
func (p *PathRouter) Paths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.entries {
		out = append(out, fmt.Sprintf("%s via %s mark 0x%x table %d", e.key.vip, e.key.rs, e.mark, p.opts.TableBase+int(e.index)))
	}
	sort.Strings(out)
	return out
}

func (p *PathRouter) freeIndex() (uint32, error) {
	for i := 0; i < 0xffff; i++ {
		p.next = p.next%0xffff + 1
		if p.byIndex[p.next] == nil {
			return p.next, nil
		}
	}
	return 0, errors.New("netctl: via_vip: every path mark is in use")
}

func (p *PathRouter) install(e *pathEntry) error {
	table, mark := p.opts.TableBase+int(e.index), e.mark
	fam, bits := unix.AF_INET, 32
	if e.key.vip.Is6() {
		fam, bits = unix.AF_INET6, 128
	}
	// the interface toward the real server, as the main table says
	routes, err := netlink.RouteGet(e.key.rs.AsSlice())
	if err != nil || len(routes) == 0 {
		return fmt.Errorf("netctl: via_vip: no route to real server %s: %v", e.key.rs, err)
	}
	ifindex := routes[0].LinkIndex
	if ifindex == 0 {
		return fmt.Errorf("netctl: via_vip: no interface toward real server %s", e.key.rs)
	}
	rt := &netlink.Route{
		Dst:       &net.IPNet{IP: e.key.vip.AsSlice(), Mask: net.CIDRMask(bits, bits)},
		Gw:        e.key.rs.AsSlice(),
		LinkIndex: ifindex,
		Table:     table,
		Flags:     int(netlink.FLAG_ONLINK),
		Family:    fam,
	}
	if err := netlink.RouteReplace(rt); err != nil {
		return fmt.Errorf("netctl: via_vip: ip route add %s via %s onlink table %d: %w", e.key.vip, e.key.rs, table, err)
	}
	e.route = rt
	r := netlink.NewRule()
	r.Family = fam
	r.Mark = mark
	r.Mask = ptr(uint32(0xffffffff))
	r.Table = table
	r.Priority = p.opts.Priority
	if err := netlink.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netctl: via_vip: ip rule fwmark 0x%x lookup %d: %w", mark, table, err)
	}
	e.rule = r
	return nil
}

func (p *PathRouter) uninstall(e *pathEntry) {
	if e.rule != nil {
		_ = netlink.RuleDel(e.rule)
		e.rule = nil
	}
	if e.route != nil {
		_ = netlink.RouteDel(e.route)
		e.route = nil
	}
}

// ruleset renders the mark-keeping nftables table for the current paths
// (an empty table removes it).
func (p *PathRouter) ruleset() string {
	var b strings.Builder
	fmt.Fprintf(&b, "add table inet %s\ndelete table inet %s\n", NFTHealthTable, NFTHealthTable)
	if len(p.entries) == 0 {
		return b.String()
	}
	idx := make([]uint32, 0, len(p.byIndex))
	for i := range p.byIndex {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, c int) bool { return idx[a] < idx[c] })
	fmt.Fprintf(&b, "table inet %s {\n", NFTHealthTable)
	b.WriteString("\tchain save {\n\t\ttype filter hook output priority mangle - 10; policy accept;\n")
	for _, i := range idx {
		fmt.Fprintf(&b, "\t\tmeta mark 0x%x meta priority set 4748:%x\n", p.byIndex[i].mark, i)
	}
	b.WriteString("\t}\n\tchain restore {\n\t\ttype route hook output priority mangle + 10; policy accept;\n")
	for _, i := range idx {
		fmt.Fprintf(&b, "\t\tmeta priority 4748:%x meta mark set 0x%x meta priority set 0:0\n", i, p.byIndex[i].mark)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

func (p *PathRouter) applyNFT() error {
	if err := runNFT(p.opts.NFT, p.ruleset()); err != nil {
		return fmt.Errorf("netctl: via_vip: %w", err)
	}
	return nil
}
