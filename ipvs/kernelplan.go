package ipvs

import (
	"fmt"
	"net/netip"
)

// KernelPlan is a service whose new connections a kernel program may
// schedule on the engine's behalf: round robin over Slots (one weighted
// cycle), each connection then reported to the engine with its
// destination (PacketInfo.KernelDest).
type KernelPlan struct {
	Key ServiceKey
	// Timeout is the TCP established timeout, for the kernel's entry.
	Timeout uint32
	Slots   []KernelSlot
}

// KernelSlot is one position of a plan's cycle.
type KernelSlot struct {
	DestID uint32
	Addr   netip.Addr
	Port   uint16
	Fwd    Forwarding
}

// KernelPlans returns the services a kernel round-robin scheduler can
// schedule exactly as the engine would, up to maxSlots positions each:
// IPv4 TCP services (not firewall marks) whose scheduler states its
// cycle (Cycler: rr, wrr),
// without persistence, whose destinations are all IPv4 direct routing,
// masquerading (NAT: the kernel writes the reply's entry as well) or
// tunnels (the data path decides which tunnels it can write) without
// connection thresholds, at least one with a weight, while no
// per-source limit or packet-dropping defense is on (those need the
// engine to see each SYN first). Any other service keeps scheduling in
// the engine.
func (e *Engine) KernelPlans(maxSlots int) []KernelPlan {
	opts := e.opts.Load()
	if opts.PerSourceLimit != 0 || opts.DropPacket != 0 {
		return nil
	}
	e.mu.Lock()
	svcs := append([]*Service(nil), e.svcOrder...)
	e.mu.Unlock()
	est := e.Timeouts().TCP[TCPEstablished]
	var out []KernelPlan
	for _, s := range svcs {
		s.Lock()
		slots := kernelSlots(s, maxSlots)
		s.Unlock()
		if len(slots) > 0 {
			out = append(out, KernelPlan{Key: s.key, Timeout: est, Slots: slots})
		}
	}
	return out
}

// KernelPicker takes the next position of a service's kernel round and
// returns its destination's id; false when there is no round.
type KernelPicker func() (destID uint32, ok bool)

// HandOver gives service k's new connections to a kernel round robin
// exactly where the engine's stands. Under the service's scheduling lock
// it states the plan from the scheduler's next pick (as KernelPlans) and
// calls install with it; when install succeeds, the engine's own picks
// for the service (a SYN that reached gvsd anyway: one already on its
// way, a retransmission) take the kernel's next position through the
// picker install returns, until TakeBack. No engine pick falls between
// the plan and the kernel's table, and every pick after it, the
// kernel's or the engine's, takes one position of the one round, so the
// round continues exactly across the hand-over.
func (e *Engine) HandOver(k ServiceKey, maxSlots int, install func(KernelPlan) (KernelPicker, error)) error {
	svc, err := e.Service(k)
	if err != nil {
		return err
	}
	est := e.Timeouts().TCP[TCPEstablished]
	svc.Lock()
	defer svc.Unlock()
	slots := kernelSlots(svc, maxSlots)
	if len(slots) == 0 {
		return fmt.Errorf("ipvs: service %s can no longer be scheduled by a kernel round robin", k)
	}
	pick, err := install(KernelPlan{Key: svc.key, Timeout: est, Slots: slots})
	if err != nil {
		return err
	}
	svc.kernelPick = pick
	return nil
}

// TakeBack ends a HandOver: the service's scheduler picks by itself again,
// from where the kernel's round stands (the engine makes each pick the
// kernel made as well: Cycler.Advance). A service that is gone is no
// error.
func (e *Engine) TakeBack(k ServiceKey) {
	svc, err := e.Service(k)
	if err != nil {
		return
	}
	svc.Lock()
	svc.kernelPick = nil
	svc.Unlock()
}

// KernelPick is for schedulers that state a cycle (Cycler), called with
// the service locked: the destination the kernel's round gives the next
// connection while the kernel schedules the service (HandOver); nil
// otherwise, and the scheduler picks by itself.
func (s *Service) KernelPick() *Dest {
	if s.kernelPick == nil {
		return nil
	}
	id, ok := s.kernelPick()
	if !ok {
		return nil
	}
	for _, d := range s.Dests() {
		if d.id == id && d.Available() && d.Weight() > 0 {
			return d // not one a change since the table made quiescent or removed
		}
	}
	return nil
}

// kernelSlots is called with s locked (the scheduler's position).
func kernelSlots(s *Service, maxSlots int) []KernelSlot {
	k := s.key
	p := s.params.Load()
	cyc, ok := p.sched.(Cycler)
	if !ok || k.FWMark != 0 || k.Protocol != ProtoTCP || !k.Addr.Is4() || k.Port == 0 ||
		p.flags&SvcPersistent != 0 || p.pe != nil {
		return nil
	}
	for _, d := range s.Dests() {
		c := d.Config()
		if (c.Method != Route && c.Method != Tunnel && c.Method != Masq) || d.family != IPv4 || c.UThreshold != 0 || c.LThreshold != 0 || !d.Available() {
			return nil
		}
	}
	cycle := cyc.Cycle(s, maxSlots)
	if len(cycle) == 0 {
		return nil
	}
	out := make([]KernelSlot, len(cycle))
	for i, d := range cycle {
		port := d.port
		if port == 0 {
			port = k.Port // as the engine's own scheduling takes it
		}
		out[i] = KernelSlot{DestID: d.id, Addr: d.addr.Netip(d.family), Port: port, Fwd: *d.fwd.Load()}
	}
	return out
}
