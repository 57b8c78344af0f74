package ipvs

import (
	"sort"
	"sync"
)

// Flow is the five-tuple (plus firewall mark) of a packet as the engine
// sees it. The data path fills one per packet; nothing in it points to the heap.
type Flow struct {
	Family   Family
	Protocol Protocol
	Src      Addr
	Dst      Addr
	SrcPort  uint16
	DstPort  uint16
	Mark     uint32
}

// Scheduler picks the real server for a new connection of one service. One
// instance exists per service; Schedule runs concurrently on every packet
// worker, so an implementation either reads only atomics or takes svc.Lock.
type Scheduler interface {
	// Schedule returns the chosen destination, or nil when none may take
	// the connection. now is the engine clock in nanoseconds.
	Schedule(svc *Service, f *Flow, now int64) *Dest
}

// Cycler is implemented by schedulers whose picks repeat one fixed
// cycle while the destinations do not change (rr, wrr). A kernel program
// may then schedule for the service (Engine.KernelPlans, HandOver).
//
// Cycle, called with svc locked, returns the destinations of one full
// cycle in the order the scheduler will take them from its next pick on,
// without moving it, or nil when there is none or it is longer than
// limit. Advance moves the scheduler on by one pick, as if it had made
// it: the engine calls it for each connection the kernel scheduled, so
// its position stays the kernel's. While the kernel schedules the
// service, Schedule takes the kernel's next position instead of its own
// (Service.KernelPick) and moves on with it.
type Cycler interface {
	Scheduler
	Cycle(svc *Service, limit int) []*Dest
	Advance(svc *Service)
}

// DestUpdater is implemented by schedulers that precompute state from the
// destination list (the kernel's add_dest/del_dest/upd_dest hooks). The
// engine calls it, under its configuration lock, after every change to the
// list or to a destination's weight, flags or thresholds.
type DestUpdater interface {
	UpdateDests(svc *Service)
}

// SchedulerTicker is implemented by schedulers that age state (lblc, lblcr);
// the engine calls Tick from its housekeeping goroutine.
type SchedulerTicker interface {
	Tick(svc *Service, now int64)
}

// NoScheduler is the kernel's "none": a service that schedules nothing
// (new connections are refused), for directors that only take over
// connections synchronized from a peer.
const NoScheduler = "none"

// SchedulerFactory creates the scheduler instance for a service (the kernel's init_service).
type SchedulerFactory func(svc *Service) (Scheduler, error)

var (
	schedMu       sync.RWMutex
	schedRegistry = map[string]SchedulerFactory{}
)

// RegisterScheduler makes a scheduler available by name. Package sched
// registers the kernel's schedulers from its init function.
func RegisterScheduler(name string, f SchedulerFactory) {
	schedMu.Lock()
	defer schedMu.Unlock()
	schedRegistry[name] = f
}

// lookupScheduler returns the factory registered under name.
func lookupScheduler(name string) (SchedulerFactory, bool) {
	schedMu.RLock()
	defer schedMu.RUnlock()
	f, ok := schedRegistry[name]
	return f, ok
}

// Schedulers lists the registered scheduler names, sorted.
func Schedulers() []string {
	schedMu.RLock()
	defer schedMu.RUnlock()
	names := make([]string, 0, len(schedRegistry))
	for n := range schedRegistry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PersistenceEngine customizes the persistence template key (the kernel's
// ip_vs_pe, used by the SIP Call-ID engine). Fill returns extra key bytes for
// the template, or ok=false to drop the packet (e.g. a SIP packet without a
// Call-ID). GVS ships none yet; this is the seam.
type PersistenceEngine interface {
	Name() string
	Fill(f *Flow, payload []byte) (key []byte, ok bool)
}

var (
	peMu       sync.RWMutex
	peRegistry = map[string]PersistenceEngine{}
)

// RegisterPersistenceEngine makes a persistence engine available by name (ipvsadm --pe).
func RegisterPersistenceEngine(pe PersistenceEngine) {
	peMu.Lock()
	defer peMu.Unlock()
	peRegistry[pe.Name()] = pe
}

func lookupPE(name string) (PersistenceEngine, bool) {
	peMu.RLock()
	defer peMu.RUnlock()
	pe, ok := peRegistry[name]
	return pe, ok
}
