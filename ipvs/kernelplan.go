package ipvs

import "net/netip"

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
		if slots := kernelSlots(s, maxSlots); len(slots) > 0 {
			out = append(out, KernelPlan{Key: s.key, Timeout: est, Slots: slots})
		}
	}
	return out
}

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
