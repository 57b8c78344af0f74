//go:build linux

package netctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Linux is the Controller for the current network namespace.
type Linux struct {
	// NFT is the nft binary (default "nft" from PATH).
	NFT string

	localTable int // policy routing installed for local traffic (0: none)
	localMark  uint32
}

// NewLinux returns a Controller for the calling process's network namespace.
func NewLinux() *Linux { return &Linux{NFT: "nft"} }

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// Interfaces lists every interface with its addresses.
func (l *Linux) Interfaces() ([]Interface, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("netctl: list links: %w", err)
	}
	var out []Interface
	for _, link := range links {
		a := link.Attrs()
		ifc := Interface{Name: a.Name, Index: a.Index, MAC: a.HardwareAddr, MTU: a.MTU,
			Up: a.Flags&net.FlagUp != 0 && a.OperState != netlink.OperDown, Loop: a.Flags&net.FlagLoopback != 0}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("netctl: addresses of %s: %w", a.Name, err)
		}
		for _, ad := range addrs {
			ones, _ := ad.Mask.Size()
			ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(addrOf(ad.IP), ones))
		}
		out = append(out, ifc)
	}
	return out, nil
}

// RouteTo asks the kernel how to reach dst.
func (l *Linux) RouteTo(dst netip.Addr) (Route, error) {
	routes, err := netlink.RouteGet(dst.AsSlice())
	if err != nil {
		return Route{}, fmt.Errorf("netctl: route to %s: %w", dst, err)
	}
	if len(routes) == 0 {
		return Route{}, fmt.Errorf("netctl: no route to %s", dst)
	}
	r := routes[0]
	out := Route{Ifindex: r.LinkIndex, MTU: r.MTU, Local: r.Type == unix.RTN_LOCAL}
	if r.Gw != nil {
		out.Gateway = addrOf(r.Gw)
	}
	if r.Src != nil {
		out.Src = addrOf(r.Src)
	}
	if out.MTU == 0 {
		if link, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			out.MTU = link.Attrs().MTU
		}
	}
	return out, nil
}

func usableNeigh(state int) bool {
	return state&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE|netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0
}

// Neighbor looks addr up in the kernel's neighbour table.
func (l *Linux) Neighbor(ifindex int, addr netip.Addr) (Neighbor, bool) {
	fam := netlink.FAMILY_V4
	if addr.Is6() {
		fam = netlink.FAMILY_V6
	}
	list, err := netlink.NeighList(ifindex, fam)
	if err != nil {
		return Neighbor{}, false
	}
	for _, n := range list {
		if addrOf(n.IP) == addr && len(n.HardwareAddr) == 6 && usableNeigh(n.State) {
			return Neighbor{Ifindex: ifindex, Addr: addr, MAC: n.HardwareAddr}, true
		}
	}
	return Neighbor{}, false
}

// WatchNeighbors follows the kernel's neighbour updates.
func (l *Linux) WatchNeighbors(ctx context.Context, fn func(Neighbor)) error {
	ch := make(chan netlink.NeighUpdate, 256)
	done := make(chan struct{})
	if err := netlink.NeighSubscribe(ch, done); err != nil {
		return fmt.Errorf("netctl: neighbour subscription: %w", err)
	}
	go func() {
		<-ctx.Done()
		close(done)
	}()
	for u := range ch {
		if u.Type != unix.RTM_NEWNEIGH || len(u.HardwareAddr) != 6 || !usableNeigh(u.State) {
			continue
		}
		fn(Neighbor{Ifindex: u.LinkIndex, Addr: addrOf(u.IP), MAC: u.HardwareAddr})
	}
	return nil
}

// Routes dumps the main and local tables (IPv4 and IPv6).
func (l *Linux) Routes() ([]RouteEntry, error) {
	var out []RouteEntry
	for _, table := range []int{unix.RT_TABLE_MAIN, unix.RT_TABLE_LOCAL} {
		filter := &netlink.Route{Table: table}
		routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("netctl: routes: %w", err)
		}
		for _, r := range routes {
			e := RouteEntry{Ifindex: r.LinkIndex, MTU: r.MTU, Local: r.Type == unix.RTN_LOCAL, Metric: r.Priority}
			if r.Type != unix.RTN_UNICAST && r.Type != unix.RTN_LOCAL {
				continue
			}
			if r.Dst != nil {
				ones, _ := r.Dst.Mask.Size()
				e.Dst = netip.PrefixFrom(addrOf(r.Dst.IP), ones)
			} else if r.Family == netlink.FAMILY_V6 {
				e.Dst = netip.MustParsePrefix("::/0")
			} else {
				e.Dst = netip.MustParsePrefix("0.0.0.0/0")
			}
			if r.Gw != nil {
				e.Gateway = addrOf(r.Gw)
			}
			if len(r.MultiPath) > 0 && r.MultiPath[0].Gw != nil {
				e.Gateway, e.Ifindex = addrOf(r.MultiPath[0].Gw), r.MultiPath[0].LinkIndex
			}
			if r.Src != nil {
				e.Src = addrOf(r.Src)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// Neighbors dumps the usable neighbour entries of every interface.
func (l *Linux) Neighbors() ([]Neighbor, error) {
	var out []Neighbor
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		list, err := netlink.NeighList(0, fam)
		if err != nil {
			return nil, fmt.Errorf("netctl: neighbours: %w", err)
		}
		for _, n := range list {
			if len(n.HardwareAddr) == 6 && usableNeigh(n.State) {
				out = append(out, Neighbor{Ifindex: n.LinkIndex, Addr: addrOf(n.IP), MAC: n.HardwareAddr})
			}
		}
	}
	return out, nil
}

// WatchRoutes calls fn on every route or address change.
func (l *Linux) WatchRoutes(ctx context.Context, fn func()) error {
	rch := make(chan netlink.RouteUpdate, 64)
	ach := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := netlink.RouteSubscribe(rch, done); err != nil {
		return fmt.Errorf("netctl: route subscription: %w", err)
	}
	if err := netlink.AddrSubscribe(ach, done); err != nil {
		close(done)
		return fmt.Errorf("netctl: address subscription: %w", err)
	}
	defer close(done)
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-rch:
			if !ok {
				return nil
			}
			fn()
		case _, ok := <-ach:
			if !ok {
				return nil
			}
			fn()
		}
	}
}

// IsLocal reports whether addr is configured on an interface here.
func (l *Linux) IsLocal(addr netip.Addr) bool {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if addrOf(a.IP) == addr {
			return true
		}
	}
	return false
}

func (l *Linux) nft(script string) error { return runNFT(l.NFT, script) }

// runNFT applies an nft script (one transaction) with the nft binary bin.
func runNFT(bin, script string) error {
	cmd := exec.Command(bin, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return fmt.Errorf("netctl: nft not found (install the nftables package): %w", err)
		}
		return fmt.Errorf("netctl: nft: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// ApplySteering replaces GVS's nftables tables in one transaction, then
// installs (or removes) the policy routing for local traffic.
func (l *Linux) ApplySteering(s Steering) error {
	if err := l.nft(s.Ruleset()); err != nil {
		return err
	}
	if s.Local == nil {
		return l.removeLocalRouting()
	}
	return l.setLocalRouting(*s.Local)
}

// RemoveSteering deletes GVS's tables and policy routing.
func (l *Linux) RemoveSteering() error {
	err := l.nft(Steering{}.Ruleset())
	return errors.Join(err, l.removeLocalRouting())
}

// LinkUp brings an interface up.
func (l *Linux) LinkUp(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("netctl: %s: %w", name, err)
	}
	return netlink.LinkSetUp(link)
}

// SetSysctl writes /proc/sys/<path>.
func (l *Linux) SetSysctl(path, value string) error {
	p := filepath.Join("/proc/sys", filepath.Clean("/"+path))
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("netctl: sysctl %s=%s: %w", path, value, err)
	}
	return nil
}
