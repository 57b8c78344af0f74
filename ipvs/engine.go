package ipvs

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config sizes an engine.
type Config struct {
	// MaxConns caps connection entries, templates included (the hard
	// memory bound: about 120 bytes each). Default 4 Mi.
	MaxConns int64
	// Options are the sysctl-like knobs; nil means DefaultOptions().
	Options *Options
	// Timeouts; nil means DefaultTimeouts().
	Timeouts *Timeouts
	// HashSeed seeds the connection hash; 0 picks a random seed.
	HashSeed uint64
}

// DefaultMaxConns is the default connection-table cap.
const DefaultMaxConns = 4 << 20

// Engine is the IPVS engine: virtual services, real servers, schedulers and
// the connection table. Configuration methods serialize on one mutex; the
// packet path (Worker) takes no engine-wide lock.
type Engine struct {
	mu       sync.Mutex
	services map[ServiceKey]*Service
	svcOrder []*Service // creation order, for stable listings
	trash    []*Dest    // deleted destinations still referenced by connections
	tout     Timeouts

	index     atomic.Pointer[serviceIndex]
	svcReg    registry[Service]
	destReg   registry[Dest]
	timeouts  atomic.Pointer[timeoutTable]
	opts      atomic.Pointer[Options]
	workers   atomic.Pointer[[]*Worker]
	workersMu sync.Mutex

	table   *Table
	defense defense
	sources sourceLimiter
	total   statsBlock
	epoch   time.Time

	lastEstimate int64
}

// New creates an engine with no services.
func New(cfg Config) (*Engine, error) {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	opts := DefaultOptions()
	if cfg.Options != nil {
		opts = *cfg.Options
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	tout := DefaultTimeouts()
	if cfg.Timeouts != nil {
		tout = *cfg.Timeouts
	}
	seed := cfg.HashSeed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	e := &Engine{
		services: map[ServiceKey]*Service{},
		tout:     tout,
		table:    newTable(cfg.MaxConns, seed),
		epoch:    time.Now(),
	}
	e.opts.Store(&opts)
	e.timeouts.Store(tout.table())
	e.index.Store(newServiceIndex())
	e.workers.Store(&[]*Worker{})
	return e, nil
}

// Now returns the engine clock: monotonic nanoseconds since New.
func (e *Engine) Now() int64 { return int64(time.Since(e.epoch)) }

// MaxConns returns the connection-table cap.
func (e *Engine) MaxConns() int64 { return e.table.max }

// ConnCount returns the number of entries (connections and templates).
func (e *Engine) ConnCount() int64 { return e.table.count.Load() }

// Options returns the current knobs.
func (e *Engine) Options() Options { return *e.opts.Load() }

// SetOptions replaces the knobs.
func (e *Engine) SetOptions(o Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.opts.Store(&o)
	return nil
}

// dest returns the destination registered under id (0 and unknown give nil).
func (e *Engine) dest(id uint32) *Dest {
	if id == 0 {
		return nil
	}
	return e.destReg.get(id)
}

// lookupService finds the service for a new flow, in the kernel's order:
// firewall mark, then protocol/address/port, then the port-zero service.
func (e *Engine) lookupService(f *Flow) *Service {
	ix := e.index.Load()
	if f.Mark != 0 {
		var zero Addr
		if s := ix.find(f.Family, 0, 0, f.Mark, &zero); s != nil {
			return s
		}
	}
	if s := ix.find(f.Family, f.Protocol, f.DstPort, 0, &f.Dst); s != nil {
		return s
	}
	if ix.zeroPort.Load() > 0 {
		return ix.find(f.Family, f.Protocol, 0, 0, &f.Dst)
	}
	return nil
}

// MatchesService reports whether a new flow like f would find a virtual
// service (the data path asks when a packet could be either a client's or
// a real server's reply, e.g. a director-local client using the VIP as
// its source address).
func (e *Engine) MatchesService(f *Flow) bool { return e.lookupService(f) != nil }

// IsVirtualAddress reports whether any service listens on addr (for the data
// path's ARP/NDP answers and steering).
func (e *Engine) IsVirtualAddress(af Family, addr Addr) bool {
	found := false
	e.index.Load().each(func(s *Service) bool {
		found = s.key.FWMark == 0 && s.key.Family == af && s.vaddr == addr
		return !found
	})
	return found
}

func normalizeKey(k ServiceKey) (ServiceKey, error) {
	if k.FWMark != 0 {
		if k.Family != IPv4 && k.Family != IPv6 {
			k.Family = IPv4
		}
		return ServiceKey{Family: k.Family, FWMark: k.FWMark}, nil
	}
	if !k.Addr.IsValid() {
		return k, &Error{Code: ErrInvalid, Msg: "service address missing"}
	}
	k.Addr = k.Addr.Unmap()
	k.Family = FamilyOf(k.Addr)
	switch k.Protocol {
	case ProtoTCP, ProtoUDP, ProtoSCTP:
	default:
		return k, &Error{Code: ErrProtocol, Msg: "protocol must be TCP, UDP or SCTP"}
	}
	return k, nil
}

// ---- services ----

func (e *Engine) newSchedulerParams(op Op, svc *Service, cfg ServiceConfig) (*serviceParams, error) {
	name := cfg.Scheduler
	if name == "" {
		name = "wlc"
	}
	factory, ok := lookupScheduler(name)
	if !ok && name != NoScheduler {
		return nil, errf(op, ErrNotFound, "scheduler %q not found", name)
	}
	var pe PersistenceEngine
	if cfg.PE != "" {
		if pe, ok = lookupPE(cfg.PE); !ok {
			return nil, errf(op, ErrNotFound, "persistence engine %q not found", cfg.PE)
		}
	}
	netmask := cfg.Netmask
	if svc.key.Family == IPv6 {
		if netmask == 0 {
			netmask = 128
		}
		if netmask > 128 {
			return nil, errf(op, ErrInvalid, "IPv6 prefix length %d out of 1..128", netmask)
		}
	}
	p := &serviceParams{schedName: name, flags: cfg.Flags | SvcHashed, timeout: cfg.Timeout, netmask: netmask, pe: pe}
	if old := svc.params.Load(); old != nil && old.schedName == name {
		p.sched = old.sched // same scheduler: keep its state, as the kernel does
		return p, nil
	}
	if name == NoScheduler {
		return p, nil // no scheduler: new connections are refused
	}
	s, err := factory(svc)
	if err != nil {
		return nil, errf(op, ErrInvalid, "scheduler %s: %v", name, err)
	}
	p.sched = s
	return p, nil
}

// AddService creates a virtual service (ipvsadm -A).
func (e *Engine) AddService(cfg ServiceConfig) error {
	key, err := normalizeKey(cfg.ServiceKey)
	if err != nil {
		return withOp(err, OpAddService)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.services[key] != nil {
		return errf(OpAddService, ErrExist, "service %s already exists", key)
	}
	svc := &Service{key: key}
	if key.FWMark == 0 {
		svc.vaddr = AddrFrom(key.Addr)
	}
	p, err := e.newSchedulerParams(OpAddService, svc, cfg)
	if err != nil {
		return err
	}
	svc.params.Store(p)
	svc.dests.Store(&[]*Dest{})
	if svc.id, err = e.allocServiceID(svc); err != nil {
		return err
	}
	svc.stats.reset(e.rawServiceCounters(svc.id))
	e.services[key] = svc
	e.svcOrder = append(e.svcOrder, svc)
	e.updateScheduler(svc)
	e.index.Load().insert(svc)
	return nil
}

// EditService changes a service's scheduler, flags, persistence or
// persistence engine (ipvsadm -E).
func (e *Engine) EditService(cfg ServiceConfig) error {
	key, err := normalizeKey(cfg.ServiceKey)
	if err != nil {
		return withOp(err, OpEditService)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	svc := e.services[key]
	if svc == nil {
		return errf(OpEditService, ErrNoService, "no service %s", key)
	}
	p, err := e.newSchedulerParams(OpEditService, svc, cfg)
	if err != nil {
		return err
	}
	prev := svc.params.Load()
	svc.params.Store(p)
	if prev == nil || p.sched != prev.sched {
		e.updateScheduler(svc) // a new scheduler learns the destinations; the same one keeps its state, as in the kernel
	}
	return nil
}

// DelService removes a service and its destinations (ipvsadm -D).
func (e *Engine) DelService(k ServiceKey) error {
	key, err := normalizeKey(k)
	if err != nil {
		return withOp(err, OpDelService)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	svc := e.services[key]
	if svc == nil {
		return errf(OpDelService, ErrNoService, "no service %s", key)
	}
	e.unlinkService(svc)
	return nil
}

func (e *Engine) unlinkService(svc *Service) {
	for _, d := range svc.Dests() {
		e.unlinkDest(d)
	}
	svc.dests.Store(&[]*Dest{})
	delete(e.services, svc.key)
	e.index.Load().remove(svc)
	for i, s := range e.svcOrder {
		if s == svc {
			e.svcOrder = append(e.svcOrder[:i:i], e.svcOrder[i+1:]...)
			break
		}
	}
	e.freeServiceID(svc.id)
}

// Flush removes every service (ipvsadm -C).
func (e *Engine) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, svc := range append([]*Service(nil), e.svcOrder...) {
		e.unlinkService(svc)
	}
	e.index.Store(newServiceIndex())
	return nil
}

// Service returns the live service for key.
func (e *Engine) Service(k ServiceKey) (*Service, error) {
	key, err := normalizeKey(k)
	if err != nil {
		return nil, withOp(err, OpGetService)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	svc := e.services[key]
	if svc == nil {
		return nil, errf(OpGetService, ErrNoService, "no service %s", key)
	}
	return svc, nil
}

func withOp(err error, op Op) error {
	if ee, ok := err.(*Error); ok {
		c := *ee
		c.Op = op
		return &c
	}
	return err
}

func (e *Engine) allocServiceID(svc *Service) (uint32, error) {
	id, ok := e.svcReg.alloc(svc, e.Now())
	if !ok {
		return 0, errf(OpAddService, ErrNoMemory, "too many services")
	}
	return id, nil
}

func (e *Engine) freeServiceID(id uint32) { e.svcReg.release(id, e.Now()) }

// updateScheduler tells the scheduler the destination list changed.
func (e *Engine) updateScheduler(svc *Service) {
	if u, ok := svc.params.Load().sched.(DestUpdater); ok {
		u.UpdateDests(svc)
	}
}

// ---- destinations ----

func checkDestAddr(op Op, a netip.Addr) error {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errf(op, ErrInvalid, "destination address %s is not unicast", a)
	case a.Is6() && a.IsLinkLocalUnicast():
		return errf(op, ErrInvalid, "link-local destination %s", a)
	}
	return nil
}

func (e *Engine) checkDest(op Op, svc *Service, cfg *DestConfig) error {
	if cfg.Weight < 0 {
		return errf(op, ErrRange, "weight %d below zero", cfg.Weight)
	}
	if cfg.LThreshold > cfg.UThreshold {
		return errf(op, ErrRange, "lower threshold %d above upper threshold %d", cfg.LThreshold, cfg.UThreshold)
	}
	if err := checkDestAddr(op, cfg.Addr); err != nil {
		return err
	}
	if FamilyOf(cfg.Addr) != svc.key.Family && cfg.Method != Tunnel {
		return errf(op, ErrInvalid, "a destination of another address family must use tunneling")
	}
	if cfg.Method > Route {
		return errf(op, ErrInvalid, "unknown forwarding method %d", cfg.Method)
	}
	if cfg.Method == Tunnel {
		switch cfg.TunnelType {
		case TunnelIPIP, TunnelGRE:
		case TunnelGUE:
			if cfg.TunnelPort == 0 {
				return errf(op, ErrInvalid, "GUE tunnel needs a port")
			}
		default:
			return errf(op, ErrInvalid, "unknown tunnel type %d", cfg.TunnelType)
		}
	}
	return nil
}

func findDest(list []*Dest, addr Addr, port uint16) *Dest {
	for _, d := range list {
		if d.addr == addr && d.port == port {
			return d
		}
	}
	return nil
}

// AddDest adds a real server to a service (ipvsadm -a).
func (e *Engine) AddDest(k ServiceKey, cfg DestConfig) error {
	key, err := normalizeKey(k)
	if err != nil {
		return withOp(err, OpAddDest)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	svc := e.services[key]
	if svc == nil {
		return errf(OpAddDest, ErrNoService, "no service %s", key)
	}
	if err := e.checkDest(OpAddDest, svc, &cfg); err != nil {
		return err
	}
	addr := AddrFrom(cfg.Addr.Unmap())
	if findDest(svc.Dests(), addr, cfg.Port) != nil {
		return errf(OpAddDest, ErrExist, "destination %s already exists", netip.AddrPortFrom(cfg.Addr, cfg.Port))
	}
	// A destination deleted while connections still use it comes back whole.
	var d *Dest
	for i, t := range e.trash {
		if t.svc == svc && t.addr == addr && t.port == cfg.Port {
			d = t
			e.trash = append(e.trash[:i:i], e.trash[i+1:]...)
			break
		}
	}
	if d == nil {
		d = &Dest{svc: svc, family: FamilyOf(cfg.Addr), addr: addr, port: cfg.Port, naddr: cfg.Addr.Unmap()}
		var err error
		if d.id, err = e.allocDestID(d); err != nil {
			return err
		}
		d.stats.reset(e.rawDestCounters(d.id))
	}
	e.applyDest(d, &cfg, true)
	d.setFlag(DestAvailable)
	list := append([]*Dest{d}, svc.Dests()...) // newest first, as the kernel
	svc.dests.Store(&list)
	e.updateScheduler(svc)
	return nil
}

// applyDest sets the operator's values (__ip_vs_update_dest).
func (e *Engine) applyDest(d *Dest, cfg *DestConfig, add bool) {
	if add || cfg.Weight != 0 {
		d.lastWeight.Store(cfg.Weight)
	}
	d.weight.Store(cfg.Weight)
	d.uThreshold.Store(cfg.UThreshold)
	d.lThreshold.Store(cfg.LThreshold)
	fwd := cfg.Forwarding
	d.fwd.Store(&fwd)
	d.updateOverload()
	if u := d.uThreshold.Load(); u != 0 && d.totalConns() >= u {
		d.setFlag(DestOverload)
	}
}

// EditDest changes a real server's weight, thresholds or forwarding (ipvsadm -e).
func (e *Engine) EditDest(k ServiceKey, cfg DestConfig) error {
	key, err := normalizeKey(k)
	if err != nil {
		return withOp(err, OpEditDest)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	svc := e.services[key]
	if svc == nil {
		return errf(OpEditDest, ErrNoService, "no service %s", key)
	}
	if err := e.checkDest(OpEditDest, svc, &cfg); err != nil {
		return err
	}
	d := findDest(svc.Dests(), AddrFrom(cfg.Addr.Unmap()), cfg.Port)
	if d == nil {
		return errf(OpEditDest, ErrNotFound, "no destination %s", netip.AddrPortFrom(cfg.Addr, cfg.Port))
	}
	e.applyDest(d, &cfg, false)
	e.updateScheduler(svc)
	return nil
}

// SetWeight changes only a destination's weight (health checks use it).
func (e *Engine) SetWeight(k ServiceKey, addr netip.Addr, port uint16, weight int32) error {
	svc, err := e.Service(k)
	if err != nil {
		return withOp(err, OpEditDest)
	}
	d := findDest(svc.Dests(), AddrFrom(addr.Unmap()), port)
	if d == nil {
		return errf(OpEditDest, ErrNotFound, "no destination %s", netip.AddrPortFrom(addr, port))
	}
	cfg := d.Config()
	cfg.Weight = weight
	return e.EditDest(k, cfg)
}

// DelDest removes a real server (ipvsadm -d).
func (e *Engine) DelDest(k ServiceKey, addr netip.Addr, port uint16) error {
	key, err := normalizeKey(k)
	if err != nil {
		return withOp(err, OpDelDest)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	svc := e.services[key]
	if svc == nil {
		return errf(OpDelDest, ErrNoService, "no service %s", key)
	}
	d := findDest(svc.Dests(), AddrFrom(addr.Unmap()), port)
	if d == nil {
		return errf(OpDelDest, ErrNotFound, "no destination %s", netip.AddrPortFrom(addr, port))
	}
	e.unlinkDest(d)
	list := make([]*Dest, 0, len(svc.Dests()))
	for _, x := range svc.Dests() {
		if x != d {
			list = append(list, x)
		}
	}
	svc.dests.Store(&list)
	e.updateScheduler(svc)
	return nil
}

// unlinkDest marks d deleted; it waits in the trash while connections use it.
// With ExpireNodestConn its connections are expired now, so no packet is
// sent to a server the operator removed.
func (e *Engine) unlinkDest(d *Dest) {
	d.clearFlag(DestAvailable)
	if e.opts.Load().ExpireNodestConn {
		e.expireDestConns(d)
	}
	if d.refs() > 0 {
		e.trash = append(e.trash, d)
		return
	}
	e.freeDestID(d.id)
}

func (e *Engine) allocDestID(d *Dest) (uint32, error) {
	id, ok := e.destReg.alloc(d, e.Now())
	if !ok {
		return 0, errf(OpAddDest, ErrNoMemory, "too many destinations")
	}
	return id, nil
}

func (e *Engine) freeDestID(id uint32) { e.destReg.release(id, e.Now()) }

// reapTrash frees deleted destinations no connection uses any more.
func (e *Engine) reapTrash() {
	e.mu.Lock()
	defer e.mu.Unlock()
	kept := e.trash[:0]
	for _, d := range e.trash {
		if d.refs() > 0 {
			kept = append(kept, d)
			continue
		}
		e.freeDestID(d.id)
	}
	clear(e.trash[len(kept):])
	e.trash = kept
}

// ---- timeouts ----

// SetTimeouts sets the TCP established, TCP FIN_WAIT and UDP timeouts in
// seconds; 0 leaves a value unchanged (ipvsadm --set).
func (e *Engine) SetTimeouts(tcp, tcpFin, udp uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tout
	if tcp != 0 {
		t.TCP[TCPEstablished] = tcp
	}
	if tcpFin != 0 {
		t.TCP[TCPFinWait] = tcpFin
	}
	if udp != 0 {
		t.UDP[UDPNormal] = udp
	}
	e.tout = t
	e.timeouts.Store(t.table())
	return nil
}

// SetAllTimeouts replaces every per-state timeout.
func (e *Engine) SetAllTimeouts(t Timeouts) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tout = t
	e.timeouts.Store(t.table())
}

// Timeouts returns every per-state timeout.
func (e *Engine) Timeouts() Timeouts {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tout
}

// ---- listing ----

// DestStatus is a destination's configuration, counters and rates.
type DestStatus struct {
	DestConfig
	Family       Family   `json:"family"`
	ActiveConns  int32    `json:"active_conns"`
	InactConns   int32    `json:"inact_conns"`
	PersistConns int32    `json:"persist_conns"`
	Overloaded   bool     `json:"overloaded,omitempty"`
	Stats        Counters `json:"stats"`
	Rates        Rates    `json:"rates"`
}

// ServiceStatus is a service's configuration, counters, rates and destinations
// (newest first, as the kernel lists them; ipvsadm sorts).
type ServiceStatus struct {
	ServiceConfig
	Stats Counters     `json:"stats"`
	Rates Rates        `json:"rates"`
	Dests []DestStatus `json:"dests"`
}

// Services returns every service in creation order.
func (e *Engine) Services() []ServiceStatus {
	e.mu.Lock()
	svcs := append([]*Service(nil), e.svcOrder...)
	e.mu.Unlock()
	out := make([]ServiceStatus, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, e.serviceStatus(s))
	}
	return out
}

// ServiceStatus returns one service's status.
func (e *Engine) ServiceStatus(k ServiceKey) (ServiceStatus, error) {
	svc, err := e.Service(k)
	if err != nil {
		return ServiceStatus{}, err
	}
	return e.serviceStatus(svc), nil
}

func (e *Engine) serviceStatus(s *Service) ServiceStatus {
	st := ServiceStatus{ServiceConfig: s.Config()}
	st.Stats, st.Rates = s.stats.snapshot(e.rawServiceCounters(s.id))
	for _, d := range s.Dests() {
		ds := DestStatus{
			DestConfig: d.Config(), Family: d.family,
			ActiveConns: d.ActiveConns(), InactConns: d.InactConns(), PersistConns: d.PersistConns(),
			Overloaded: d.Overloaded(),
		}
		ds.Stats, ds.Rates = d.stats.snapshot(e.rawDestCounters(d.id))
		st.Dests = append(st.Dests, ds)
	}
	return st
}

// TotalStats returns the engine-wide counters and rates.
func (e *Engine) TotalStats() (Counters, Rates) {
	return e.total.snapshot(e.rawTotalCounters())
}

// Zero resets counters and rates of one service and its destinations, or of
// everything when key is nil (ipvsadm -Z).
func (e *Engine) Zero(k *ServiceKey) error {
	if k != nil {
		svc, err := e.Service(*k)
		if err != nil {
			return withOp(err, OpZero)
		}
		e.zeroService(svc)
		return nil
	}
	e.mu.Lock()
	svcs := append([]*Service(nil), e.svcOrder...)
	e.mu.Unlock()
	for _, s := range svcs {
		e.zeroService(s)
	}
	e.total.reset(e.rawTotalCounters())
	return nil
}

func (e *Engine) zeroService(s *Service) {
	s.stats.reset(e.rawServiceCounters(s.id))
	for _, d := range s.Dests() {
		d.stats.reset(e.rawDestCounters(d.id))
	}
}

// ExpireDestConns ends every connection of one destination at once (health
// checks with failed_conns: expire), leaving the destination in place.
func (e *Engine) ExpireDestConns(k ServiceKey, addr netip.Addr, port uint16) error {
	svc, err := e.Service(k)
	if err != nil {
		return withOp(err, OpEditDest)
	}
	d := findDest(svc.Dests(), AddrFrom(addr.Unmap()), port)
	if d == nil {
		return errf(OpEditDest, ErrNotFound, "no destination %s", netip.AddrPortFrom(addr, port))
	}
	e.expireDestConns(d)
	return nil
}
