//go:build linux

package dataplane

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govs/gvs/dataplane/flowhash"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/netctl"
	"github.com/govs/gvs/packet"
)

// Config sets up a data path.
type Config struct {
	// Interfaces to attach to; empty means every up, non-loopback interface.
	Interfaces []string
	// Workers is the number of packet workers; 0 means GOMAXPROCS.
	Workers int
	// VIPs the director owns without having them on an interface.
	VIPs []netip.Addr
	// MarkRules give packets firewall marks for fwmark services.
	MarkRules []MarkRule
	// BusyPoll is how long a worker keeps polling its rings without
	// sleeping after the last frame it received, before it blocks in
	// poll: packets that arrive within the window cost no wake-up. 0 (the
	// default) is off: on the 2-vCPU VM of bench/results it cost latency
	// and throughput (the spinning worker takes CPU from the machine's
	// other work; see bench/results/profile.md). For directors with CPUs
	// to spare.
	BusyPoll time.Duration
	// Fanout is how a received frame is given to a worker.
	Fanout Fanout
	// KernelScheduling lets the kernel fast path schedule the new
	// connections of the services a kernel round robin can schedule as
	// the engine would (ipvs.Engine.KernelPlans: IPv4 TCP, rr or wrr,
	// DR, TUN or NAT, no persistence or thresholds): a SYN is forwarded
	// at once, without a wake-up of gvsd, and the engine records the
	// connection from a copy (ksched.go). gvsd turns it on unless
	// configured off; it stays off with FanoutByCPU, which does not keep
	// a flow's frames in order.
	KernelScheduling bool
	Logger           *slog.Logger
}

// Fanout is how received frames are spread over the workers.
type Fanout uint8

const (
	// FanoutByFlow (the default) gives all frames of a flow (symmetric
	// hash) to one worker wherever they are received: a flow's packets
	// are handled in order by one worker, and the kernel's scheduler may
	// run that worker on whichever CPU is free.
	FanoutByFlow Fanout = iota
	// FanoutByCPU gives each frame to the worker of the CPU that received
	// it (PACKET_FANOUT_CPU: worker i takes CPUs i, i+n, ...) and keeps
	// each worker's thread on its CPUs: the wake-up for a frame is local,
	// and a NAT reply the real server's kernel sends back inline during a
	// worker's transmission lands in that running worker. A flow is then
	// ordered by the CPU it arrives on (as in the kernel's own per-CPU
	// processing, and as a NIC's receive-side scaling keeps it); the
	// connection table is shared, so any worker can take any packet. On
	// the bench VM it measured no better than FanoutByFlow
	// (docs/dataplane.md).
	FanoutByCPU
)

// iface is an attached interface.
type iface struct {
	name  string
	index int
	mac   [6]byte
	mtu   int
	addrs []netip.Prefix
	loop  bool // lo: local processes' packets to virtual services arrive here
}

// Dataplane is a running packet path.
type Dataplane struct {
	eng  *ipvs.Engine
	ctl  netctl.Controller
	cfg  Config
	log  *slog.Logger
	ifs  []*iface
	byIx map[int]*iface
	lo   *iface // receive-only, for the director's own clients; nil without local delivery

	hops    *nextHops
	workers []*worker
	state   atomic.Pointer[dpState]
	marks   atomic.Pointer[[]MarkRule]
	tun     localSink         // local delivery (the TUN device); nil when unavailable
	frags   *packet.FragCache // ports of first fragments, for the later ones
	ctrl    *worker           // sends ARP/NDP requests and announcements outside the workers

	closers []func() error // the TUN device, the kernel encapsulation
	kenc    kernelEncap    // encapsulation of tunnelled super-frames in TC; nil: none (kencap.go)
	off     *offloader     // the kernel fast path for established connections; nil: none (offload.go)
	syns    *synRecords    // the SYNs the kernel scheduled, for the workers to record; nil: none (ksched.go)
	// flowHash picks a frame's worker by flow; nil: the kernel's hash fanout (flowhash.go)
	flowHash *flowhash.Program

	mu           sync.Mutex // Sync
	cancel       context.CancelFunc
	releaseProcs func() // the Ps Start reserved for blocking workers
	wg           sync.WaitGroup
	closed       atomic.Bool
}

// New attaches to the interfaces and prepares the workers; Start runs them.
func New(eng *ipvs.Engine, ctl netctl.Controller, cfg Config) (*Dataplane, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = baseProcs()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Dataplane{eng: eng, ctl: ctl, cfg: cfg, log: cfg.Logger, byIx: map[int]*iface{}}
	all, err := ctl.Interfaces()
	if err != nil {
		return nil, err
	}
	var lo *iface
	for _, ifc := range all {
		if ifc.Loop && ifc.Up && lo == nil {
			lo = &iface{name: ifc.Name, index: ifc.Index, mtu: ifc.MTU, addrs: ifc.Addrs, loop: true}
		}
		if len(cfg.Interfaces) > 0 {
			if !slices.Contains(cfg.Interfaces, ifc.Name) {
				continue
			}
			if !ifc.Up {
				return nil, fmt.Errorf("dataplane: interface %s is down", ifc.Name)
			}
		} else if !ifc.Up || ifc.Loop || len(ifc.MAC) != 6 {
			continue
		}
		x := &iface{name: ifc.Name, index: ifc.Index, mtu: ifc.MTU, addrs: ifc.Addrs}
		copy(x.mac[:], ifc.MAC)
		d.ifs = append(d.ifs, x)
		d.byIx[x.index] = x
	}
	for _, want := range cfg.Interfaces {
		if !slices.ContainsFunc(d.ifs, func(x *iface) bool { return x.name == want }) {
			return nil, fmt.Errorf("dataplane: no interface %s", want)
		}
	}
	if len(d.ifs) == 0 {
		return nil, errors.New("dataplane: no usable interface (up, not loopback, Ethernet)")
	}
	d.state.Store(&dpState{})
	rules := append([]MarkRule(nil), cfg.MarkRules...)
	d.marks.Store(&rules)
	d.hops = newNextHops(ctl, d.ifaceInfo, d.solicit, d.transmitHeld)
	d.frags = packet.NewFragCache(fragSlots, fragTimeout)
	if tun, err := openTun(tunName); err != nil {
		d.log.Warn("local delivery unavailable (no TUN device)", "err", err)
	} else {
		d.tun = tun
		d.closers = append(d.closers, tun.close)
		d.lo = lo
		for _, kv := range [][2]string{
			{"net/ipv4/conf/" + tunName + "/rp_filter", "0"},
			{"net/ipv4/conf/" + tunName + "/accept_local", "1"},
			{"net/ipv4/conf/all/rp_filter", "0"},
		} {
			if err := ctl.SetSysctl(kv[0], kv[1]); err != nil {
				d.log.Warn("sysctl", "err", err)
			}
		}
		if err := ctl.LinkUp(tunName); err != nil {
			d.log.Warn("local delivery device", "err", err)
		}
	}
	d.openKernelEncap()
	d.openFastPath()
	d.openFlowHash()
	for i := 0; i < cfg.Workers; i++ {
		w, err := d.openWorker(i, true)
		if err != nil {
			d.closeWorkers()
			d.closeTun()
			return nil, err
		}
		d.workers = append(d.workers, w)
	}
	ctrl, err := d.openWorker(-1, false)
	if err != nil {
		d.closeWorkers()
		d.closeTun()
		return nil, err
	}
	d.ctrl = ctrl
	return d, nil
}

// tunName is the device GVS delivers local traffic through.
const tunName = "gvs0"

// The fragment cache: 16 Ki datagrams in flight (1 MiB), entries kept as
// long as the kernel's ipfrag_time.
const (
	fragSlots   = 1 << 14
	fragTimeout = 30 * time.Second
)

// fanoutGroup derives a PACKET_FANOUT group id per interface and protocol
// that does not collide with another process's groups.
func fanoutGroup(ifindex int, proto uint16) uint16 {
	h := fnv.New32a()
	fmt.Fprintf(h, "gvs/%d/%d/%d", os.Getpid(), ifindex, proto)
	g := uint16(h.Sum32())
	if g == 0 {
		g = 1
	}
	return g
}

func (d *Dataplane) ifaceInfo(ifindex int) (ifaceInfo, bool) {
	x := d.byIx[ifindex]
	if x == nil {
		return ifaceInfo{}, false
	}
	return ifaceInfo{mac: x.mac, mtu: x.mtu, addr4: x.addrOf(true), addr6: x.addrOf(false)}, true
}

// Interfaces returns the names of the attached interfaces.
func (d *Dataplane) Interfaces() []string {
	out := make([]string, len(d.ifs))
	for i, x := range d.ifs {
		out[i] = x.name
	}
	return out
}

// Start runs the workers and the next-hop resolver until Close or ctx ends.
func (d *Dataplane) Start(ctx context.Context) error {
	ctx, d.cancel = context.WithCancel(ctx)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.hops.run(ctx)
	}()
	if d.off != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.off.run(ctx)
		}()
	}
	blocking := 0
	for _, w := range d.workers {
		if w.wait != nil {
			blocking++ // it sleeps in ppoll (procs.go)
		}
		d.wg.Add(1)
		go func(w *worker) {
			defer d.wg.Done()
			w.run(ctx)
		}(w)
	}
	d.releaseProcs = reserveProcs(blocking)
	return d.Sync()
}

// SetMarkRules replaces the firewall-mark rules.
func (d *Dataplane) SetMarkRules(rules []MarkRule) {
	r := append([]MarkRule(nil), rules...)
	d.marks.Store(&r)
	_ = d.Sync()
}

// SetVIPs replaces the VIPs owned without an interface address.
func (d *Dataplane) SetVIPs(vips []netip.Addr) {
	d.mu.Lock()
	d.cfg.VIPs = append([]netip.Addr(nil), vips...)
	d.mu.Unlock()
}

// Sync brings the kernel rules, the owned VIPs and the next-hop cache in
// line with the engine's services. The daemon calls it after every change.
func (d *Dataplane) Sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	services := d.eng.Services()
	st := netctl.Steering{Interfaces: d.Interfaces()}
	owned := map[ipvs.Addr]bool{}
	vips := map[ipvs.Addr]bool{}
	natSrc := map[ipvs.Addr]bool{}
	localSrc := map[ipvs.Addr]bool{}
	var localNAT []netctl.Endpoint
	for _, v := range d.cfg.VIPs {
		owned[ipvs.AddrFrom(v.Unmap())] = true
	}
	marks := *d.marks.Load()
	for _, s := range services {
		var protos []ipvs.Protocol
		var vports []uint16
		if s.FWMark == 0 {
			st.Services = append(st.Services, netctl.Endpoint{Addr: s.Addr, Protocol: uint8(s.Protocol), Port: s.Port})
			vips[ipvs.AddrFrom(s.Addr)] = true
			if !d.ctl.IsLocal(s.Addr) {
				owned[ipvs.AddrFrom(s.Addr)] = true
			}
			protos, vports = []ipvs.Protocol{s.Protocol}, []uint16{s.Port}
		} else {
			for _, r := range marks {
				if r.Mark != s.FWMark || !r.Prefix.IsSingleIP() {
					continue
				}
				rp := []ipvs.Protocol{r.Protocol}
				if r.Protocol == 0 {
					rp = []ipvs.Protocol{ipvs.ProtoTCP, ipvs.ProtoUDP, ipvs.ProtoSCTP}
				}
				ports := r.Ports
				if len(ports) == 0 {
					ports = []uint16{0}
				}
				for _, p := range rp {
					for _, port := range ports {
						st.Services = append(st.Services, netctl.Endpoint{Addr: r.Prefix.Addr(), Protocol: uint8(p), Port: port})
					}
					protos = append(protos, p)
				}
				vports = append(vports, ports...)
				if !d.ctl.IsLocal(r.Prefix.Addr()) {
					owned[ipvs.AddrFrom(r.Prefix.Addr())] = true
				}
			}
		}
		for _, ds := range s.Dests {
			d.hops.request(ds.Addr)
			if ds.Method != ipvs.Masq {
				continue
			}
			natSrc[ipvs.AddrFrom(ds.Addr)] = true
			local := d.ctl.IsLocal(ds.Addr)
			if local {
				localSrc[ipvs.AddrFrom(ds.Addr)] = true
			}
			for _, p := range protos {
				ports := vports // port-less destination: replies come from the virtual port
				if ds.Port != 0 {
					ports = []uint16{ds.Port}
				}
				for _, port := range ports {
					ep := netctl.Endpoint{Addr: ds.Addr, Protocol: uint8(p), Port: port}
					if local {
						localNAT = append(localNAT, ep)
					} else {
						st.NATReplies = append(st.NATReplies, ep)
					}
				}
			}
		}
	}
	if d.lo != nil {
		st.Local = &netctl.LocalSteering{Mark: netctl.DefaultLocalMark, Table: netctl.DefaultLocalTable, NAT: localNAT}
		for _, x := range d.ifs {
			if a := x.addrOf(false); a.IsValid() && !a.IsLinkLocalUnicast() {
				st.Local.Src6 = a
				break
			}
		}
	}
	if err := d.ctl.ApplySteering(st); err != nil {
		return err
	}
	d.flushFastPath() // services, destinations or their settings may have changed
	old := d.state.Load().owned
	d.state.Store(&dpState{vips: vips, natSrc: natSrc, localSrc: localSrc, owned: owned, marks: marks, steered: steeredSet(&st)})
	for v := range owned {
		if !old[v] {
			d.announce(v)
		}
	}
	return nil
}

// Close stops the workers and removes the kernel rules.
func (d *Dataplane) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	if d.releaseProcs != nil {
		d.releaseProcs()
	}
	d.closeWorkers()
	d.closeTun()
	return d.ctl.RemoveSteering()
}

func (d *Dataplane) closeTun() {
	for _, c := range d.closers {
		c()
	}
	d.closers = nil
}

func (d *Dataplane) closeWorkers() {
	for _, w := range append(d.workers[:len(d.workers):len(d.workers)], d.ctrl) {
		if w != nil {
			w.close()
		}
	}
}
