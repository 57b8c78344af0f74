package dataplane

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/netctl"
)

// nextHop is how to put a frame for one destination address on the wire:
// the egress interface, the MACs and the path MTU. Values are immutable
// once published; a change publishes a new value and marks the old stale.
type nextHop struct {
	ifindex int
	src     [6]byte
	dst     [6]byte
	hop     netip.Addr // the neighbour whose MAC dst is (gateway or destination)
	mtu     int
	srcAddr netip.Addr // the director's address on the path (tunnel source, ICMP source)
	local   bool       // the destination is an address of the director
	stale   atomic.Bool
}

// nextHops resolves destinations through the kernel's routing and
// neighbour tables, asking for link-layer addresses itself (ARP, neighbour
// solicitation) when the kernel has none yet. Workers read through a
// private cache (hopCache), so the packet path takes no lock.
type nextHops struct {
	ctl     netctl.Controller
	ifaces  func(ifindex int) (mac [6]byte, ok bool)
	solicit func(ifindex int, src, target netip.Addr) // send ARP request / NS

	shared sync.Map // ipvs.Addr -> *nextHop
	reqs   chan netip.Addr

	mu         sync.Mutex
	pending    map[netip.Addr]*pendingHop // waiting for a neighbour
	hopsInUse  map[netip.Addr]bool        // neighbours of published next hops
	unresolved atomic.Uint64
}

type pendingHop struct {
	dst, hop netip.Addr
	route    netctl.Route
	tries    int
	next     time.Time
}

func newNextHops(ctl netctl.Controller, ifaces func(int) ([6]byte, bool), solicit func(int, netip.Addr, netip.Addr)) *nextHops {
	return &nextHops{ctl: ctl, ifaces: ifaces, solicit: solicit, reqs: make(chan netip.Addr, 4096),
		pending: map[netip.Addr]*pendingHop{}, hopsInUse: map[netip.Addr]bool{}}
}

// request asks for dst to be resolved, without blocking the caller.
func (n *nextHops) request(dst netip.Addr) {
	select {
	case n.reqs <- dst:
	default: // resolver busy: the next packet asks again
	}
}

// get returns the published next hop for a, or nil.
func (n *nextHops) get(a ipvs.Addr) *nextHop {
	if v, ok := n.shared.Load(a); ok {
		return v.(*nextHop)
	}
	return nil
}

// run resolves requests until ctx ends; it also follows the kernel's
// neighbour updates and re-resolves everything periodically, so route
// changes are picked up.
func (n *nextHops) run(ctx context.Context) {
	go func() {
		_ = n.ctl.WatchNeighbors(ctx, func(nb netctl.Neighbor) { n.learn(nb.Ifindex, nb.Addr, nb.MAC) })
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	refresh := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case dst := <-n.reqs:
			if n.get(ipvs.AddrFrom(dst)) == nil {
				n.resolve(dst)
			}
		case now := <-tick.C:
			n.retryPending(now)
			if now.After(refresh) {
				refresh = now.Add(10 * time.Second)
				n.refreshAll()
			}
		}
	}
}

func (n *nextHops) resolve(dst netip.Addr) {
	r, err := n.ctl.RouteTo(dst)
	if err != nil {
		n.unresolved.Add(1)
		return
	}
	src, ok := n.ifaces(r.Ifindex)
	if !ok {
		return // not an interface we forward on
	}
	if r.Local {
		n.publish(dst, &nextHop{ifindex: r.Ifindex, src: src, mtu: r.MTU, srcAddr: r.Src, local: true})
		return
	}
	hop := r.NextHop(dst)
	if nb, ok := n.ctl.Neighbor(r.Ifindex, hop); ok {
		var mac [6]byte
		copy(mac[:], nb.MAC)
		n.publish(dst, &nextHop{ifindex: r.Ifindex, src: src, dst: mac, hop: hop, mtu: r.MTU, srcAddr: r.Src})
		return
	}
	n.mu.Lock()
	p := n.pending[dst]
	if p == nil {
		p = &pendingHop{dst: dst, hop: hop, route: r}
		n.pending[dst] = p
	}
	n.mu.Unlock()
	n.solicit(r.Ifindex, r.Src, hop)
}

// learnMaybe is learn for addresses seen in passing (every ARP and
// neighbour message on the wire): it does work only when addr is a next
// hop someone waits for or uses.
func (n *nextHops) learnMaybe(ifindex int, addr netip.Addr, mac []byte) {
	n.mu.Lock()
	interesting := n.hopsInUse[addr]
	for _, p := range n.pending {
		if p.hop == addr {
			interesting = true
			break
		}
	}
	n.mu.Unlock()
	if interesting {
		n.learn(ifindex, addr, mac)
	}
}

// learn records a link-layer address seen on the wire or in the kernel's
// table and completes every pending destination that waits for it.
func (n *nextHops) learn(ifindex int, addr netip.Addr, mac []byte) {
	if len(mac) != 6 {
		return
	}
	n.mu.Lock()
	var done []*pendingHop
	for dst, p := range n.pending {
		if p.hop == addr && p.route.Ifindex == ifindex {
			done = append(done, p)
			delete(n.pending, dst)
		}
	}
	n.mu.Unlock()
	for _, p := range done {
		src, _ := n.ifaces(p.route.Ifindex)
		var m [6]byte
		copy(m[:], mac)
		n.publish(p.dst, &nextHop{ifindex: p.route.Ifindex, src: src, dst: m, hop: p.hop, mtu: p.route.MTU, srcAddr: p.route.Src})
	}
	// A known next hop whose neighbour changed MAC follows it.
	n.shared.Range(func(k, v any) bool {
		h := v.(*nextHop)
		if h.hop == addr && h.ifindex == ifindex && h.dst != [6]byte(mac) {
			c := h.with([6]byte(mac))
			a := k.(ipvs.Addr)
			n.publish(a.Netip(famOf(a)), c)
		}
		return true
	})
}

// with returns a copy of h with another neighbour MAC.
func (h *nextHop) with(mac [6]byte) *nextHop {
	return &nextHop{ifindex: h.ifindex, src: h.src, dst: mac, hop: h.hop, mtu: h.mtu, srcAddr: h.srcAddr, local: h.local}
}

func famOf(a ipvs.Addr) ipvs.Family {
	if a.Is4() {
		return ipvs.IPv4
	}
	return ipvs.IPv6
}

func (n *nextHops) publish(dst netip.Addr, h *nextHop) {
	if h.hop.IsValid() {
		n.mu.Lock()
		n.hopsInUse[h.hop] = true
		n.mu.Unlock()
	}
	if old, ok := n.shared.Swap(ipvs.AddrFrom(dst), h); ok {
		old.(*nextHop).stale.Store(true)
	}
}

func (n *nextHops) retryPending(now time.Time) {
	n.mu.Lock()
	var again []*pendingHop
	for dst, p := range n.pending {
		if now.Before(p.next) {
			continue
		}
		p.tries++
		if p.tries > 5 {
			delete(n.pending, dst) // give up; the next packet asks again
			n.unresolved.Add(1)
			continue
		}
		p.next = now.Add(time.Duration(p.tries) * 200 * time.Millisecond)
		again = append(again, p)
	}
	n.mu.Unlock()
	for _, p := range again {
		if nb, ok := n.ctl.Neighbor(p.route.Ifindex, p.hop); ok {
			n.learn(p.route.Ifindex, p.hop, nb.MAC)
			continue
		}
		n.solicit(p.route.Ifindex, p.route.Src, p.hop)
	}
}

// refreshAll re-resolves every published destination against the current
// routes and neighbours.
func (n *nextHops) refreshAll() {
	n.shared.Range(func(k, v any) bool {
		a := k.(ipvs.Addr)
		n.resolveRefresh(a.Netip(famOf(a)), v.(*nextHop))
		return true
	})
}

func (n *nextHops) resolveRefresh(dst netip.Addr, old *nextHop) {
	r, err := n.ctl.RouteTo(dst)
	if err != nil {
		return
	}
	src, ok := n.ifaces(r.Ifindex)
	if !ok {
		return
	}
	if r.Local {
		if !old.local || old.ifindex != r.Ifindex {
			n.publish(dst, &nextHop{ifindex: r.Ifindex, src: src, mtu: r.MTU, srcAddr: r.Src, local: true})
		}
		return
	}
	hop := r.NextHop(dst)
	nb, ok := n.ctl.Neighbor(r.Ifindex, hop)
	if !ok {
		return // keep the old one until the kernel's entry comes back
	}
	var mac [6]byte
	copy(mac[:], nb.MAC)
	if old.ifindex != r.Ifindex || old.dst != mac || old.mtu != r.MTU || old.src != src || old.hop != hop {
		n.publish(dst, &nextHop{ifindex: r.Ifindex, src: src, dst: mac, hop: hop, mtu: r.MTU, srcAddr: r.Src})
	}
}

// hopCache is a worker's private view of the next hops.
type hopCache struct {
	n *nextHops
	m map[ipvs.Addr]*nextHop
}

func (c *hopCache) lookup(a ipvs.Addr, fam ipvs.Family) *nextHop {
	if h := c.m[a]; h != nil && !h.stale.Load() {
		return h
	}
	h := c.n.get(a)
	if h == nil {
		c.n.request(a.Netip(fam))
		return nil
	}
	if len(c.m) > 1<<16 {
		clear(c.m) // bounded: a scan of many client addresses cannot grow it forever
	}
	c.m[a] = h
	return h
}
