package ipvs

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
)

// ServiceKey identifies a virtual service: (protocol, address, port), or a
// firewall mark when FWMark is non-zero (then Protocol, Addr and Port are unset).
type ServiceKey struct {
	Family   Family     `json:"family"`
	Protocol Protocol   `json:"protocol,omitempty"`
	Addr     netip.Addr `json:"addr,omitzero"`
	Port     uint16     `json:"port,omitempty"`
	FWMark   uint32     `json:"fwmark,omitempty"`
}

// IsFWMark reports whether the service is matched by firewall mark.
func (k ServiceKey) IsFWMark() bool { return k.FWMark != 0 }

// String formats the key the way ipvsadm names services ("TCP 10.0.0.1:80", "FWM 3").
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.Family == IPv6 {
			return fmt.Sprintf("FWM %d IPv6", k.FWMark)
		}
		return fmt.Sprintf("FWM %d", k.FWMark)
	}
	return fmt.Sprintf("%s %s", k.Protocol, netip.AddrPortFrom(k.Addr, k.Port))
}

// ServiceFlags are the kernel's IP_VS_SVC_F_* bits.
type ServiceFlags uint32

const (
	SvcPersistent ServiceFlags = 0x0001
	SvcHashed     ServiceFlags = 0x0002
	SvcOnePacket  ServiceFlags = 0x0004 // one-packet scheduling (UDP only)
	SvcSched1     ServiceFlags = 0x0008
	SvcSched2     ServiceFlags = 0x0010
	SvcSched3     ServiceFlags = 0x0020

	// Scheduler flag aliases, as ipvsadm -b names them.
	SvcSHFallback = SvcSched1
	SvcSHPort     = SvcSched2
	SvcMHFallback = SvcSched1
	SvcMHPort     = SvcSched2
)

// ServiceConfig is what an operator sets on a virtual service (ipvsadm -A/-E).
type ServiceConfig struct {
	ServiceKey
	Scheduler string       `json:"scheduler"`
	Flags     ServiceFlags `json:"flags"`
	Timeout   uint32       `json:"timeout"`      // persistence timeout in seconds
	Netmask   uint32       `json:"netmask"`      // persistence granularity: IPv4 mask (host order), IPv6 prefix length
	PE        string       `json:"pe,omitempty"` // persistence engine name ("" = none)
}

// serviceParams is the part of a service's configuration that edits change;
// it is published as one immutable value so the packet path reads it whole.
type serviceParams struct {
	schedName string
	flags     ServiceFlags
	timeout   uint32
	netmask   uint32
	pe        PersistenceEngine
	sched     Scheduler
}

// Service is a virtual service. Its destination list and parameters are
// copy-on-write snapshots, so packet workers read them without locks.
type Service struct {
	key   ServiceKey
	vaddr Addr
	id    uint32

	params atomic.Pointer[serviceParams]
	dests  atomic.Pointer[[]*Dest] // newest first, as the kernel keeps them

	// schedMu serializes schedulers that keep a position (rr, wrr, ...),
	// the kernel's svc->sched_lock. Only new connections take it.
	schedMu sync.Mutex
	// kernelPick is set while a kernel round robin schedules the
	// service (Engine.HandOver); under schedMu
	kernelPick KernelPicker

	stats statsBlock
}

// Key returns the service's identity.
func (s *Service) Key() ServiceKey { return s.key }

// ID is the service's index in the engine registry.
func (s *Service) ID() uint32 { return s.id }

// Family returns the service's address family.
func (s *Service) Family() Family { return s.key.Family }

// Protocol returns the service protocol (0 for firewall-mark services).
func (s *Service) Protocol() Protocol { return s.key.Protocol }

// Port returns the virtual port (0 for fwmark and port-zero services).
func (s *Service) Port() uint16 { return s.key.Port }

// FWMark returns the firewall mark (0 for address-based services).
func (s *Service) FWMark() uint32 { return s.key.FWMark }

// VAddr returns the virtual address in hot-path form.
func (s *Service) VAddr() Addr { return s.vaddr }

// Flags returns the service flags.
func (s *Service) Flags() ServiceFlags { return s.params.Load().flags }

// Timeout returns the persistence timeout in seconds.
func (s *Service) Timeout() uint32 { return s.params.Load().timeout }

// Netmask returns the persistence granularity (IPv4 mask or IPv6 prefix length).
func (s *Service) Netmask() uint32 { return s.params.Load().netmask }

// SchedulerName returns the scheduler's name.
func (s *Service) SchedulerName() string { return s.params.Load().schedName }

// Dests returns the current destination list, newest first. The slice is
// shared and must not be modified.
func (s *Service) Dests() []*Dest {
	if p := s.dests.Load(); p != nil {
		return *p
	}
	return nil
}

// Lock and Unlock guard scheduler state that cannot be updated atomically.
func (s *Service) Lock()   { s.schedMu.Lock() }
func (s *Service) Unlock() { s.schedMu.Unlock() }

// Config returns the service's settings as an operator would set them.
func (s *Service) Config() ServiceConfig {
	p := s.params.Load()
	pe := ""
	if p.pe != nil {
		pe = p.pe.Name()
	}
	return ServiceConfig{ServiceKey: s.key, Scheduler: p.schedName, Flags: p.flags, Timeout: p.timeout, Netmask: p.netmask, PE: pe}
}
