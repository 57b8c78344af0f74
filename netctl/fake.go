package netctl

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
)

// Fake is an in-memory Controller for tests of the layers above.
type Fake struct {
	mu          sync.Mutex
	Ifaces      []Interface
	RouteMap    map[netip.Addr]Route
	NeighborMap map[netip.Addr]Neighbor
	Local       map[netip.Addr]bool
	Applied     []Steering
	Sysctls     map[string]string
	neighWatch  []func(Neighbor)
}

// NewFake returns an empty fake.
func NewFake() *Fake {
	return &Fake{RouteMap: map[netip.Addr]Route{}, NeighborMap: map[netip.Addr]Neighbor{}, Local: map[netip.Addr]bool{}, Sysctls: map[string]string{}}
}

func (f *Fake) Interfaces() ([]Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Interface(nil), f.Ifaces...), nil
}

func (f *Fake) RouteTo(dst netip.Addr) (Route, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.RouteMap[dst]; ok {
		return r, nil
	}
	if r, ok := f.RouteMap[netip.Addr{}]; ok { // default route
		return r, nil
	}
	return Route{}, fmt.Errorf("no route to %s", dst)
}

func (f *Fake) Neighbor(ifindex int, addr netip.Addr) (Neighbor, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.NeighborMap[addr]
	return n, ok && n.Ifindex == ifindex
}

// Learn adds a neighbour and tells watchers, as the kernel would.
func (f *Fake) Learn(n Neighbor) {
	f.mu.Lock()
	f.NeighborMap[n.Addr] = n
	watchers := make([]func(Neighbor), len(f.neighWatch))
	copy(watchers, f.neighWatch)
	f.mu.Unlock()
	for _, w := range watchers {
		w(n)
	}
}

func (f *Fake) WatchNeighbors(ctx context.Context, fn func(Neighbor)) error {
	f.mu.Lock()
	f.neighWatch = append(f.neighWatch, fn)
	f.mu.Unlock()
	<-ctx.Done()
	return nil
}

// Routes returns the fake's routes as table entries (default route: the zero Addr key).
func (f *Fake) Routes() ([]RouteEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RouteEntry
	for a, r := range f.RouteMap {
		p := netip.PrefixFrom(a, a.BitLen())
		if !a.IsValid() {
			p = netip.MustParsePrefix("0.0.0.0/0")
		}
		out = append(out, RouteEntry{Dst: p, Gateway: r.Gateway, Ifindex: r.Ifindex, Src: r.Src, MTU: r.MTU, Local: r.Local})
	}
	return out, nil
}

// Neighbors returns the fake's neighbours.
func (f *Fake) Neighbors() ([]Neighbor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Neighbor
	for _, n := range f.NeighborMap {
		out = append(out, n)
	}
	return out, nil
}

// WatchRoutes waits for ctx (the fake's routes do not change by themselves).
func (f *Fake) WatchRoutes(ctx context.Context, fn func()) error {
	<-ctx.Done()
	return nil
}

func (f *Fake) IsLocal(addr netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Local[addr]
}

func (f *Fake) ApplySteering(s Steering) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Applied = append(f.Applied, s)
	return nil
}

func (f *Fake) RemoveSteering() error { return f.ApplySteering(Steering{}) }

func (f *Fake) LinkUp(string) error { return nil }

func (f *Fake) SetSysctl(path, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Sysctls[path] = value
	return nil
}
