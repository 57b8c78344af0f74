package netctl

import (
	"context"
	"net"
	"net/netip"
)

// Interface is one network interface of the director.
type Interface struct {
	Name  string
	Index int
	MAC   net.HardwareAddr
	MTU   int
	Up    bool
	Loop  bool
	Addrs []netip.Prefix
}

// Route is the kernel's answer to "how do I reach this address".
type Route struct {
	Ifindex int
	Gateway netip.Addr // invalid when the destination is on-link
	Src     netip.Addr // preferred source address
	MTU     int        // path MTU if the route has one, else the interface MTU
	Local   bool       // the destination is an address of this host
}

// NextHop returns the address whose link-layer address frames must carry.
func (r Route) NextHop(dst netip.Addr) netip.Addr {
	if r.Gateway.IsValid() {
		return r.Gateway
	}
	return dst
}

// RouteEntry is one route of the kernel's main (or local) table.
type RouteEntry struct {
	Dst     netip.Prefix
	Gateway netip.Addr
	Ifindex int
	Src     netip.Addr
	MTU     int
	Local   bool // a local address (RTN_LOCAL)
	Metric  int
}

// Neighbor is a resolved link-layer address.
type Neighbor struct {
	Ifindex int
	Addr    netip.Addr
	MAC     net.HardwareAddr
}

// Controller is what GVS asks of the kernel.
type Controller interface {
	// Interfaces lists the interfaces of the director's network namespace.
	Interfaces() ([]Interface, error)
	// RouteTo looks a destination up in the kernel's routing table.
	RouteTo(dst netip.Addr) (Route, error)
	// Neighbor returns the kernel's neighbour entry for addr on ifindex,
	// if it has a usable one.
	Neighbor(ifindex int, addr netip.Addr) (Neighbor, bool)
	// WatchNeighbors calls fn for every neighbour the kernel learns or
	// changes, until ctx ends.
	WatchNeighbors(ctx context.Context, fn func(Neighbor)) error
	// Routes dumps the main and local routing tables, so the data path can
	// route new destinations itself without a system call per packet.
	Routes() ([]RouteEntry, error)
	// Neighbors dumps the usable neighbour entries.
	Neighbors() ([]Neighbor, error)
	// WatchRoutes calls fn whenever a route or an address changes, until ctx ends.
	WatchRoutes(ctx context.Context, fn func()) error
	// IsLocal reports whether addr is an address of this host.
	IsLocal(addr netip.Addr) bool
	// ApplySteering installs (replacing) the rules for the current services.
	ApplySteering(s Steering) error
	// RemoveSteering removes every rule GVS installed.
	RemoveSteering() error
	// SetSysctl writes a /proc/sys value (e.g. net/ipv4/conf/eth0/accept_local).
	SetSysctl(path, value string) error
	// LinkUp brings an interface up.
	LinkUp(name string) error
}
