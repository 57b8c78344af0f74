package dataplane

import (
	"context"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/netctl"
	"github.com/govs/gvs/packet"
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
	srcAddr netip.Addr // the director's address on the path (tunnel source)
	local   bool       // the destination is an address of the director
	stale   atomic.Bool
	// held is set while the neighbour's link-layer address is being asked
	// for (dst is not known yet): frames for this destination wait there
	// instead of being dropped, as in the kernel's neighbour queue, so a
	// NAT reply to a client the director has not talked to yet (the first
	// SYN-ACK) is not lost to a one-second retransmission.
	held *heldFrames
}

// Bounds of the frames held for unresolved neighbours: per destination,
// and over all destinations (a scan of unresolved addresses holds at most
// this much memory).
const (
	maxHeldFramesPerHop = 16
	maxHeldBytesPerHop  = 64 << 10
	maxHeldBytes        = 4 << 20
)

// heldFrames are the frames (virtio-net header + Ethernet frame, copied)
// waiting for one next hop's neighbour.
type heldFrames struct {
	mu     sync.Mutex
	frames [][]byte
	bytes  int
	closed bool // released or given up: nothing may be added
}

// ifaceInfo is what the resolver needs to know of an attached interface.
type ifaceInfo struct {
	mac   [6]byte
	mtu   int
	addr4 netip.Addr
	addr6 netip.Addr
}

// nextHops routes destinations itself, from a copy of the kernel's main
// and local routing tables and of its neighbour table, so a new
// destination (a NAT reply to a client never seen before) is resolved in
// the packet's own worker without a system call. Link-layer addresses the
// kernel lacks are asked for with ARP or neighbour solicitation. Workers
// read through a private cache (hopCache) and take no lock on the way.
type nextHops struct {
	ctl     netctl.Controller
	ifaces  func(ifindex int) (ifaceInfo, bool)
	solicit func(ifindex int, src, target netip.Addr)
	// transmit sends held frames once their neighbour is known
	transmit func(ifindex int, frames [][]byte)

	fib    atomic.Pointer[[]netctl.RouteEntry] // longest prefix first
	neigh  sync.Map                            // neighKey -> [6]byte
	shared sync.Map                            // ipvs.Addr -> *nextHop
	reqs   chan netip.Addr

	mu      sync.Mutex
	pending map[netip.Addr]*pendingHop // destinations waiting for a neighbour

	heldBytes   atomic.Int64  // over all held frames
	heldSent    atomic.Uint64 // frames held, then sent when their neighbour answered
	heldDropped atomic.Uint64 // frames held, then dropped (queue full, or no answer)
}

type neighKey struct {
	ifindex int
	addr    netip.Addr
}

type pendingHop struct {
	dst, hop netip.Addr
	ifindex  int
	tries    int
	next     time.Time
}

func newNextHops(ctl netctl.Controller, ifaces func(int) (ifaceInfo, bool), solicit func(int, netip.Addr, netip.Addr), transmit func(int, [][]byte)) *nextHops {
	n := &nextHops{ctl: ctl, ifaces: ifaces, solicit: solicit, transmit: transmit, reqs: make(chan netip.Addr, 4096), pending: map[netip.Addr]*pendingHop{}}
	n.loadTables()
	return n
}

// loadTables refreshes the copies of the routing and neighbour tables.
func (n *nextHops) loadTables() {
	if routes, err := n.ctl.Routes(); err == nil {
		sort.SliceStable(routes, func(i, j int) bool {
			if routes[i].Dst.Bits() != routes[j].Dst.Bits() {
				return routes[i].Dst.Bits() > routes[j].Dst.Bits()
			}
			if routes[i].Local != routes[j].Local {
				return routes[i].Local // a local address wins over an equal prefix
			}
			return routes[i].Metric < routes[j].Metric
		})
		n.fib.Store(&routes)
	}
	if list, err := n.ctl.Neighbors(); err == nil {
		for _, nb := range list {
			n.neigh.Store(neighKey{nb.Ifindex, nb.Addr}, [6]byte(nb.MAC))
		}
	}
}

// route is a longest-prefix match on the copy of the kernel's tables.
func (n *nextHops) route(dst netip.Addr) (netctl.RouteEntry, bool) {
	p := n.fib.Load()
	if p == nil {
		return netctl.RouteEntry{}, false
	}
	for _, r := range *p {
		if r.Dst.Addr().Is4() == dst.Is4() && r.Dst.Contains(dst) {
			return r, true
		}
	}
	return netctl.RouteEntry{}, false
}

// resolve builds and publishes dst's next hop. When the route is known but
// the neighbour's link-layer address is not, it asks the neighbour and
// publishes an incomplete next hop that holds frames until the answer
// comes. nil: no route, or not through an interface GVS forwards on (the
// packet that asked is dropped and counted).
func (n *nextHops) resolve(dst netip.Addr) *nextHop {
	r, ok := n.route(dst)
	if !ok {
		return nil
	}
	info, ok := n.ifaces(r.Ifindex)
	if !ok {
		return nil // not an interface we forward on
	}
	src := r.Src
	if !src.IsValid() {
		if dst.Is4() {
			src = info.addr4
		} else {
			src = info.addr6
		}
	}
	mtu := r.MTU
	if mtu == 0 {
		mtu = info.mtu
	}
	if r.Local {
		h := &nextHop{ifindex: r.Ifindex, src: info.mac, mtu: mtu, srcAddr: src, local: true}
		n.publish(dst, h)
		return h
	}
	hop := dst
	if r.Gateway.IsValid() {
		hop = r.Gateway
	}
	if mac, ok := n.neigh.Load(neighKey{r.Ifindex, hop}); ok {
		h := &nextHop{ifindex: r.Ifindex, src: info.mac, dst: mac.([6]byte), hop: hop, mtu: mtu, srcAddr: src}
		n.publish(dst, h)
		return h
	}
	n.mu.Lock()
	p := n.pending[dst]
	fresh := p == nil
	if fresh {
		p = &pendingHop{dst: dst, hop: hop, ifindex: r.Ifindex, next: time.Now().Add(200 * time.Millisecond)}
		n.pending[dst] = p
	}
	n.mu.Unlock()
	if h := n.get(ipvs.AddrFrom(dst)); h != nil && h.held != nil && h.ifindex == r.Ifindex && h.hop == hop {
		return h // already waiting for this neighbour
	}
	h := &nextHop{ifindex: r.Ifindex, src: info.mac, hop: hop, mtu: mtu, srcAddr: src, held: &heldFrames{}}
	n.publish(dst, h)
	if fresh {
		n.solicit(r.Ifindex, src, hop)
	}
	return h
}

// hold keeps a copy of a frame (virtio-net header + Ethernet frame) for
// h's neighbour; false when it was dropped instead (the bounds are
// reached, or h was just completed or given up).
func (n *nextHops) hold(h *nextHop, vnetAndFrame []byte) bool {
	q := h.held
	size := len(vnetAndFrame)
	if n.heldBytes.Add(int64(size)) > maxHeldBytes {
		n.heldBytes.Add(-int64(size))
		n.heldDropped.Add(1)
		return false
	}
	q.mu.Lock()
	ok := !q.closed && len(q.frames) < maxHeldFramesPerHop && q.bytes+size <= maxHeldBytesPerHop
	if ok {
		q.frames = append(q.frames, append([]byte(nil), vnetAndFrame...))
		q.bytes += size
	}
	q.mu.Unlock()
	if !ok {
		n.heldBytes.Add(-int64(size))
		n.heldDropped.Add(1)
	}
	return ok
}

// retire marks old stale now that cur (nil: nothing) stands for its
// destination, and passes on the frames old held: sent with cur's MACs
// when cur is complete on the same link, held on by cur when it is still
// waiting, dropped otherwise.
func (n *nextHops) retire(old, cur *nextHop) {
	old.stale.Store(true)
	if old.held == nil {
		return
	}
	q := old.held
	q.mu.Lock()
	frames, size := q.frames, q.bytes
	q.frames, q.bytes, q.closed = nil, 0, true
	q.mu.Unlock()
	if len(frames) == 0 {
		return
	}
	n.heldBytes.Add(-int64(size))
	switch {
	case cur != nil && cur.held != nil:
		for _, f := range frames {
			n.hold(cur, f)
		}
	case cur != nil && !cur.local && cur.ifindex == old.ifindex && n.transmit != nil:
		for _, f := range frames {
			packet.RewriteMAC(f[vnetLen:], cur.dst, cur.src)
		}
		n.transmit(cur.ifindex, frames)
		n.heldSent.Add(uint64(len(frames)))
	default:
		n.heldDropped.Add(uint64(len(frames)))
	}
}

// request asks the resolver goroutine for dst, without blocking.
func (n *nextHops) request(dst netip.Addr) {
	select {
	case n.reqs <- dst:
	default:
	}
}

func (n *nextHops) get(a ipvs.Addr) *nextHop {
	if v, ok := n.shared.Load(a); ok {
		return v.(*nextHop)
	}
	return nil
}

func (n *nextHops) publish(dst netip.Addr, h *nextHop) {
	if old, ok := n.shared.Swap(ipvs.AddrFrom(dst), h); ok {
		n.retire(old.(*nextHop), h)
	}
}

// learnMaybe records a link-layer address seen on the wire (every ARP and
// neighbour message): cheap when nobody needs it.
func (n *nextHops) learnMaybe(ifindex int, addr netip.Addr, mac []byte) {
	if len(mac) != 6 {
		return
	}
	k := neighKey{ifindex, addr}
	if old, ok := n.neigh.Load(k); ok && old.([6]byte) == [6]byte(mac) {
		return
	}
	n.learn(ifindex, addr, mac)
}

// learn records a neighbour, completes the destinations waiting for it and
// moves the next hops that used its old address.
func (n *nextHops) learn(ifindex int, addr netip.Addr, mac []byte) {
	m := [6]byte(mac)
	n.neigh.Store(neighKey{ifindex, addr}, m)
	n.mu.Lock()
	var done []netip.Addr
	for dst, p := range n.pending {
		if p.hop == addr && p.ifindex == ifindex {
			done = append(done, dst)
			delete(n.pending, dst)
		}
	}
	n.mu.Unlock()
	for _, dst := range done {
		n.resolve(dst)
	}
	n.shared.Range(func(k, v any) bool {
		h := v.(*nextHop)
		if h.hop == addr && h.ifindex == ifindex && h.dst != m {
			a := k.(ipvs.Addr)
			n.publish(a.Netip(famOf(a)), &nextHop{ifindex: h.ifindex, src: h.src, dst: m, hop: h.hop, mtu: h.mtu, srcAddr: h.srcAddr})
		}
		return true
	})
}

func famOf(a ipvs.Addr) ipvs.Family {
	if a.Is4() {
		return ipvs.IPv4
	}
	return ipvs.IPv6
}

// run follows the kernel's tables and retries pending solicitations until ctx ends.
func (n *nextHops) run(ctx context.Context) {
	go func() {
		_ = n.ctl.WatchNeighbors(ctx, func(nb netctl.Neighbor) { n.learnMaybe(nb.Ifindex, nb.Addr, nb.MAC) })
	}()
	changed := make(chan struct{}, 1)
	go func() {
		_ = n.ctl.WatchRoutes(ctx, func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		})
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
		case <-changed:
			time.Sleep(50 * time.Millisecond) // let a burst of changes settle
			n.loadTables()
			n.refreshAll()
		case now := <-tick.C:
			n.retryPending(now)
			if now.After(refresh) {
				refresh = now.Add(10 * time.Second)
				n.loadTables()
				n.refreshAll()
			}
		}
	}
}

func (n *nextHops) retryPending(now time.Time) {
	n.mu.Lock()
	var again []*pendingHop
	var gaveUp []*nextHop
	for dst, p := range n.pending {
		if now.Before(p.next) {
			continue
		}
		p.tries++
		if p.tries > 5 {
			// give up: drop what was held; the next packet asks again
			delete(n.pending, dst)
			a := ipvs.AddrFrom(dst)
			if h := n.get(a); h != nil && h.held != nil && n.shared.CompareAndDelete(a, h) {
				gaveUp = append(gaveUp, h)
			}
			continue
		}
		p.next = now.Add(time.Duration(p.tries) * 200 * time.Millisecond)
		again = append(again, p)
	}
	n.mu.Unlock()
	for _, h := range gaveUp {
		n.retire(h, nil)
	}
	for _, p := range again {
		if nb, ok := n.ctl.Neighbor(p.ifindex, p.hop); ok {
			n.learn(p.ifindex, p.hop, nb.MAC)
			continue
		}
		if r, ok := n.route(p.dst); ok {
			src := r.Src
			if !src.IsValid() {
				if info, ok := n.ifaces(r.Ifindex); ok {
					if p.hop.Is4() {
						src = info.addr4
					} else {
						src = info.addr6
					}
				}
			}
			n.solicit(p.ifindex, src, p.hop)
		}
	}
}

// refreshAll re-resolves every published destination against the tables,
// replacing only those whose next hop changed.
func (n *nextHops) refreshAll() {
	n.shared.Range(func(k, v any) bool {
		a := k.(ipvs.Addr)
		old := v.(*nextHop)
		dst := a.Netip(famOf(a))
		r, ok := n.route(dst)
		if !ok {
			return true
		}
		hop := dst
		if r.Gateway.IsValid() {
			hop = r.Gateway
		}
		if r.Ifindex != old.ifindex || r.Local != old.local || (!r.Local && hop != old.hop) || (r.MTU != 0 && r.MTU != old.mtu) {
			if n.shared.CompareAndDelete(a, old) {
				n.retire(old, n.resolve(dst))
			}
		}
		return true
	})
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
		if h = c.n.resolve(a.Netip(fam)); h == nil {
			return nil
		}
	}
	if len(c.m) > 1<<16 {
		clear(c.m) // bounded: a scan of many client addresses cannot grow it forever
	}
	c.m[a] = h
	return h
}
