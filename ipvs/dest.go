package ipvs

import (
	"net/netip"
	"sync/atomic"
)

// ForwardMethod is how packets reach a real server, with the kernel's
// IP_VS_CONN_F_* values.
type ForwardMethod uint8

const (
	Masq   ForwardMethod = 0 // NAT: rewrite the destination, and the source of replies
	Local  ForwardMethod = 1 // deliver to a socket on the director itself
	Tunnel ForwardMethod = 2 // encapsulate (ipip, gue, gre); replies go straight to the client
	Route  ForwardMethod = 3 // direct routing: rewrite the MAC only
	Bypass ForwardMethod = 4 // cache bypass: forward to the original destination
)

// String returns the name ipvsadm's listing uses.
func (m ForwardMethod) String() string {
	switch m {
	case Local:
		return "Local"
	case Tunnel:
		return "Tunnel"
	case Route:
		return "Route"
	case Bypass:
		return "Bypass"
	}
	return "Masq"
}

// TunnelType is the encapsulation used by the Tunnel method (IP_VS_CONN_F_TUNNEL_TYPE_*).
type TunnelType uint8

const (
	TunnelIPIP TunnelType = 0
	TunnelGUE  TunnelType = 1
	TunnelGRE  TunnelType = 2
)

func (t TunnelType) String() string {
	switch t {
	case TunnelGUE:
		return "gue"
	case TunnelGRE:
		return "gre"
	}
	return "ipip"
}

// TunnelFlags are the encapsulation checksum options (IP_VS_TUNNEL_ENCAP_FLAG_*).
type TunnelFlags uint16

const (
	TunnelNoCsum  TunnelFlags = 0
	TunnelCsum    TunnelFlags = 1 << 0
	TunnelRemCsum TunnelFlags = 1 << 1
)

// Forwarding is everything the data path needs to send a packet to one real
// server. It is immutable once published; edits swap in a new value.
type Forwarding struct {
	Method      ForwardMethod `json:"method"`
	TunnelType  TunnelType    `json:"tunnel_type,omitempty"`
	TunnelPort  uint16        `json:"tunnel_port,omitempty"` // GUE destination port
	TunnelFlags TunnelFlags   `json:"tunnel_flags,omitempty"`
}

// DestConfig is what an operator sets on a real server (ipvsadm -a/-e).
type DestConfig struct {
	Addr       netip.Addr `json:"addr"`
	Port       uint16     `json:"port"`
	Weight     int32      `json:"weight"`                // kernel accepts 0..INT_MAX; 0 = quiescent
	UThreshold uint32     `json:"u_threshold,omitempty"` // upper connection threshold, 0 = none
	LThreshold uint32     `json:"l_threshold,omitempty"` // lower connection threshold, 0 = none
	Forwarding
}

// Dest flags (IP_VS_DEST_F_*).
const (
	DestAvailable uint32 = 0x0001 // in a service's list; cleared when deleted
	DestOverload  uint32 = 0x0002 // upper threshold reached, not yet below the lower one
)

// Dest is a real server of one service. The packet path reads it without
// locks: counters and flags are atomics, forwarding is an immutable pointer.
type Dest struct {
	svc    *Service
	id     uint32 // index in the engine's destination registry
	family Family
	addr   Addr
	port   uint16
	naddr  netip.Addr

	weight     atomic.Int32
	lastWeight atomic.Int32 // latest non-zero weight (mh keeps quiescent servers in its table)
	flags      atomic.Uint32
	uThreshold atomic.Uint32
	lThreshold atomic.Uint32
	fwd        atomic.Pointer[Forwarding]

	activeConns  atomic.Int32
	inactConns   atomic.Int32
	persistConns atomic.Int32

	stats statsBlock
}

// Service returns the service the destination belongs (or belonged) to.
func (d *Dest) Service() *Service { return d.svc }

// ID is the destination's index in the engine registry; stable while it lives.
func (d *Dest) ID() uint32 { return d.id }

// Family is the destination's address family (may differ from the service's for tunnels).
func (d *Dest) Family() Family { return d.family }

// Addr returns the real server's address in hot-path form.
func (d *Dest) Addr() Addr { return d.addr }

// NetAddr returns the real server's address.
func (d *Dest) NetAddr() netip.Addr { return d.naddr }

// Port returns the real server's port (0 = use the packet's destination port).
func (d *Dest) Port() uint16 { return d.port }

// Weight returns the current weight.
func (d *Dest) Weight() int32 { return d.weight.Load() }

// LastWeight returns the most recent non-zero weight.
func (d *Dest) LastWeight() int32 { return d.lastWeight.Load() }

// Flags returns DestAvailable / DestOverload bits.
func (d *Dest) Flags() uint32 { return d.flags.Load() }

// Overloaded reports whether the upper threshold stops new connections.
func (d *Dest) Overloaded() bool { return d.flags.Load()&DestOverload != 0 }

// Available reports whether the destination is still part of its service.
func (d *Dest) Available() bool { return d.flags.Load()&DestAvailable != 0 }

// ActiveConns is IPVS's ActiveConn: connections in an active protocol state.
func (d *Dest) ActiveConns() int32 { return d.activeConns.Load() }

// InactConns is IPVS's InActConn.
func (d *Dest) InactConns() int32 { return d.inactConns.Load() }

// PersistConns counts persistence templates bound to the destination.
func (d *Dest) PersistConns() int32 { return d.persistConns.Load() }

// ConnOverhead is the load estimate lc/wlc/lblc use: active connections
// weigh 256 times an inactive one (ip_vs_dest_conn_overhead).
func (d *Dest) ConnOverhead() int64 {
	return int64(d.activeConns.Load())<<8 + int64(d.inactConns.Load())
}

// totalConns is what thresholds compare against.
func (d *Dest) totalConns() uint32 {
	return uint32(d.activeConns.Load() + d.inactConns.Load())
}

// Thresholds returns the upper and lower connection thresholds.
func (d *Dest) Thresholds() (upper, lower uint32) {
	return d.uThreshold.Load(), d.lThreshold.Load()
}

// Forwarding returns the forwarding settings.
func (d *Dest) Forwarding() Forwarding { return *d.fwd.Load() }

// Config returns the destination's settings as an operator would set them.
func (d *Dest) Config() DestConfig {
	u, l := d.Thresholds()
	return DestConfig{Addr: d.naddr, Port: d.port, Weight: d.Weight(), UThreshold: u, LThreshold: l, Forwarding: d.Forwarding()}
}

// bindConn accounts a new connection or template to the destination, as
// ip_vs_bind_dest does, and raises the overload flag at the upper threshold.
func (d *Dest) bindConn(template, inactive bool) {
	switch {
	case template:
		d.persistConns.Add(1)
	case inactive:
		d.inactConns.Add(1)
	default:
		d.activeConns.Add(1)
	}
	if u := d.uThreshold.Load(); u != 0 && d.totalConns() >= u {
		d.setFlag(DestOverload)
	}
}

// unbindConn is the reverse (ip_vs_unbind_dest), with IPVS's hysteresis: the
// overload flag clears below the lower threshold, or below 3/4 of the upper
// one when no lower threshold is set.
func (d *Dest) unbindConn(template, inactive bool) {
	switch {
	case template:
		d.persistConns.Add(-1)
	case inactive:
		d.inactConns.Add(-1)
	default:
		d.activeConns.Add(-1)
	}
	d.updateOverload()
}

func (d *Dest) updateOverload() {
	u, l := d.Thresholds()
	total := d.totalConns()
	switch {
	case l != 0:
		if total < l {
			d.clearFlag(DestOverload)
		}
	case u != 0:
		if uint64(total)*4 < uint64(u)*3 {
			d.clearFlag(DestOverload)
		}
	default:
		d.clearFlag(DestOverload)
	}
}

// setActive moves one connection between the active and inactive counts.
func (d *Dest) setActive(active bool) {
	if active {
		d.inactConns.Add(-1)
		d.activeConns.Add(1)
	} else {
		d.activeConns.Add(-1)
		d.inactConns.Add(1)
	}
}

func (d *Dest) setFlag(f uint32)   { d.flags.Or(f) }
func (d *Dest) clearFlag(f uint32) { d.flags.And(^f) }

// refs is the number of connection entries and templates bound to the destination.
func (d *Dest) refs() int32 {
	return d.activeConns.Load() + d.inactConns.Load() + d.persistConns.Load()
}
