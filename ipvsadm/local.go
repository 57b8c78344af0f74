package ipvsadm

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/govs/gvs/ipvs"
)

// LocalBackend runs gvsadm's requests on an in-process engine. It also
// keeps the sync daemons' configuration (GVS has no sync daemon of its own
// yet; the state answers --start-daemon, --stop-daemon and -L --daemon as
// the kernel does).
type LocalBackend struct {
	Engine *ipvs.Engine
	// ConnTabSize is the size shown in the listing header; 0 shows 4096,
	// the kernel's default (conn_tab_bits 12).
	ConnTabSize uint32
	// Interface looks up a sync daemon's multicast interface and returns
	// its MTU; nil uses the host's interfaces.
	Interface func(name string) (mtu int, ok bool)

	mu      sync.Mutex
	daemons [2]*DaemonConfig // master, backup
}

// NewLocalBackend wraps an engine.
func NewLocalBackend(e *ipvs.Engine) *LocalBackend { return &LocalBackend{Engine: e} }

var _ Backend = (*LocalBackend)(nil)

// IPVSVersion is the IPVS version GVS reports (the kernel's 1.2.1).
const IPVSVersion = 0x010201

// Info implements Backend.
func (b *LocalBackend) Info(context.Context) (Info, error) {
	size := b.ConnTabSize
	if size == 0 {
		size = 4096
	}
	return Info{Version: IPVSVersion, ConnTabSize: size}, nil
}

// AddService implements Backend.
func (b *LocalBackend) AddService(_ context.Context, svc ipvs.ServiceConfig) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Engine.AddService(svc)
}

// EditService implements Backend.
func (b *LocalBackend) EditService(_ context.Context, svc ipvs.ServiceConfig) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Engine.EditService(svc)
}

// DelService implements Backend.
func (b *LocalBackend) DelService(_ context.Context, key ipvs.ServiceKey) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Engine.DelService(key)
}

// Flush implements Backend.
func (b *LocalBackend) Flush(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Engine.Flush()
}

// AddDest implements Backend.
func (b *LocalBackend) AddDest(_ context.Context, key ipvs.ServiceKey, d ipvs.DestConfig) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := mixedFamilyCheck(b.Engine, &b.daemons, key, d); err != nil {
		return err
	}
	return b.Engine.AddDest(key, d)
}

// EditDest implements Backend.
func (b *LocalBackend) EditDest(_ context.Context, key ipvs.ServiceKey, d ipvs.DestConfig) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := mixedFamilyCheck(b.Engine, &b.daemons, key, d); err != nil {
		return err
	}
	return b.Engine.EditDest(key, d)
}

// DelDest implements Backend.
func (b *LocalBackend) DelDest(_ context.Context, key ipvs.ServiceKey, d DestKey) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Engine.DelDest(key, d.Addr, d.Port)
}

// Zero implements Backend.
func (b *LocalBackend) Zero(_ context.Context, key *ipvs.ServiceKey) error {
	return b.Engine.Zero(key)
}

// SetTimeouts implements Backend.
func (b *LocalBackend) SetTimeouts(_ context.Context, t Timeouts) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Engine.SetTimeouts(t.TCP, t.TCPFin, t.UDP)
}

// Timeouts implements Backend.
func (b *LocalBackend) Timeouts(context.Context) (Timeouts, error) {
	return timeoutsOf(b.Engine.Timeouts()), nil
}

func timeoutsOf(t ipvs.Timeouts) Timeouts {
	return Timeouts{TCP: t.TCP[ipvs.TCPEstablished], TCPFin: t.TCP[ipvs.TCPFinWait], UDP: t.UDP[ipvs.UDPNormal]}
}

// Services implements Backend.
func (b *LocalBackend) Services(context.Context) ([]ipvs.ServiceStatus, error) {
	return b.Engine.Services(), nil
}

// Service implements Backend.
func (b *LocalBackend) Service(_ context.Context, key ipvs.ServiceKey) (ipvs.ServiceStatus, error) {
	return b.Engine.ServiceStatus(key)
}

// Conns implements Backend.
func (b *LocalBackend) Conns(context.Context) ([]Conn, error) {
	var out []Conn
	b.Engine.Conns(func(c ipvs.ConnInfo) bool {
		out = append(out, Conn{
			Protocol: c.Protocol,
			Client:   netip.AddrPortFrom(c.Client.Netip(c.Family), c.ClientPort),
			Virtual:  netip.AddrPortFrom(c.Virtual.Netip(c.Family), c.VirtPort),
			Dest:     netip.AddrPortFrom(c.Dest.Netip(c.DestFamily), c.DestPort),
			FWMark:   c.FWMark,
			State:    c.State,
			Expires:  c.Expires,
			Template: c.Template,
			PEName:   c.PEName,
			PEData:   c.PEData,
		})
		return true
	})
	return out, nil
}

// StartDaemon implements Backend.
func (b *LocalBackend) StartDaemon(_ context.Context, d DaemonConfig) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return startDaemon(b.Engine.Services, &b.daemons, b.iface, d)
}

// StopDaemon implements Backend.
func (b *LocalBackend) StopDaemon(_ context.Context, s DaemonState) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return stopDaemon(&b.daemons, s)
}

// Daemons implements Backend.
func (b *LocalBackend) Daemons(context.Context) ([]DaemonConfig, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return daemonList(&b.daemons), nil
}

func (b *LocalBackend) iface(name string) (int, bool) {
	if b.Interface != nil {
		return b.Interface(name)
	}
	if name == "" {
		return 0, false
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, false
	}
	return ifi.MTU, true
}

func daemonList(ds *[2]*DaemonConfig) []DaemonConfig {
	var out []DaemonConfig
	for _, d := range ds {
		if d != nil {
			out = append(out, *d)
		}
	}
	return out
}

func stopDaemon(ds *[2]*DaemonConfig, s DaemonState) error {
	if s != DaemonMaster && s != DaemonBackup {
		return &ipvs.Error{Op: ipvs.OpStopDaemon, Code: ipvs.ErrInvalid, Msg: fmt.Sprintf("bad sync daemon state %d", int(s))}
	}
	if ds[s-1] == nil {
		return &ipvs.Error{Op: ipvs.OpStopDaemon, Code: ipvs.ErrNoService, Msg: fmt.Sprintf("no %s sync daemon is running", s)}
	}
	ds[s-1] = nil
	return nil
}

// mixedFamily reports whether any service has a destination of the other
// address family (the kernel refuses sync daemons then).
func mixedFamily(svcs []ipvs.ServiceStatus) bool {
	for _, s := range svcs {
		for _, d := range s.Dests {
			if d.Family != s.Family {
				return true
			}
		}
	}
	return false
}

// startDaemon applies the kernel's rules (ip_vs_genl_new_daemon and
// start_sync_thread): defaults, the interface, the message length from the
// MTU, one daemon per role.
func startDaemon(services func() []ipvs.ServiceStatus, ds *[2]*DaemonConfig, iface func(string) (int, bool), d DaemonConfig) error {
	if mixedFamily(services()) {
		return &ipvs.Error{Op: ipvs.OpStartDaemon, Code: ipvs.ErrInvalid, Msg: "a service has destinations of another address family"}
	}
	if d.State != DaemonMaster && d.State != DaemonBackup {
		return &ipvs.Error{Op: ipvs.OpStartDaemon, Code: ipvs.ErrInvalid, Msg: fmt.Sprintf("bad sync daemon state %d", int(d.State))}
	}
	if d.Group.IsValid() && !d.Group.IsMulticast() {
		return &ipvs.Error{Op: ipvs.OpStartDaemon, Code: ipvs.ErrInvalid, Msg: fmt.Sprintf("group %s is not multicast", d.Group)}
	}
	if !d.Group.IsValid() {
		d.Group = netip.AddrFrom4([4]byte{224, 0, 0, 81})
	}
	if d.Port == 0 {
		d.Port = 8848
	}
	if d.TTL == 0 {
		d.TTL = 1
	}
	mtu, ok := iface(d.Interface)
	if !ok {
		// the engine has no code for ENODEV: the errno itself, wrapped
		return fmt.Errorf("start %s sync daemon: interface %q: %w", d.State, d.Interface, syscall.ENODEV)
	}
	hlen := 20 + 8
	if d.Group.Is6() {
		hlen = 40 + 8
	}
	lim, minLen := 1500, 1
	if d.State == DaemonBackup {
		lim = min(max(mtu, 1500), 65535)
		minLen = 1024
	}
	if d.MaxLen != 0 {
		d.MaxLen = uint16(min(max(int(d.MaxLen), minLen), 65535-hlen))
	} else {
		d.MaxLen = uint16(lim - hlen)
	}
	if ds[d.State-1] != nil {
		return &ipvs.Error{Op: ipvs.OpStartDaemon, Code: ipvs.ErrExist, Msg: fmt.Sprintf("the %s sync daemon is already running", d.State)}
	}
	ds[d.State-1] = &d
	return nil
}

// mixedFamilyCheck: while a sync daemon runs, the kernel refuses a
// destination whose family differs from its service's (after checking the
// service exists).
func mixedFamilyCheck(e *ipvs.Engine, ds *[2]*DaemonConfig, key ipvs.ServiceKey, d ipvs.DestConfig) error {
	if ds[0] == nil && ds[1] == nil {
		return nil
	}
	svc, err := e.Service(key)
	if err != nil {
		return err
	}
	if ipvs.FamilyOf(d.Addr) != svc.Family() {
		return &ipvs.Error{Op: ipvs.OpAddDest, Code: ipvs.ErrInvalid, Msg: "a sync daemon is running: no destination of another address family"}
	}
	return nil
}
