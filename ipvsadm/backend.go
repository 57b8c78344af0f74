package ipvsadm

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/govs/gvs/ipvs"
)

// Backend is everything gvsadm asks of the load balancer. It is data in,
// data out, one method per request, so that it maps 1:1 onto gvsd's HTTP
// API; LocalBackend implements it on an in-process *ipvs.Engine.
//
// Failures the kernel would report carry an *ipvs.Error (its Code is the
// errno ipvsadm words its message from) or, for an errno the engine has no
// Code for (a sync daemon's missing interface: ENODEV), a wrapped
// syscall.Errno; Restore wraps either in a *RestoreError. Any other error
// is a transport or backend failure, which gvsadm prints as it is (exit 2).
type Backend interface {
	// Info returns the IPVS version and connection table size for the
	// listing header.
	Info(ctx context.Context) (Info, error)

	AddService(ctx context.Context, svc ipvs.ServiceConfig) error
	EditService(ctx context.Context, svc ipvs.ServiceConfig) error
	DelService(ctx context.Context, key ipvs.ServiceKey) error
	// Flush deletes every service.
	Flush(ctx context.Context) error

	AddDest(ctx context.Context, key ipvs.ServiceKey, dest ipvs.DestConfig) error
	EditDest(ctx context.Context, key ipvs.ServiceKey, dest ipvs.DestConfig) error
	DelDest(ctx context.Context, key ipvs.ServiceKey, dest DestKey) error

	// Zero resets the counters of one service, or of all when key is nil.
	Zero(ctx context.Context, key *ipvs.ServiceKey) error

	// SetTimeouts sets the TCP, TCP FIN_WAIT and UDP timeouts; 0 keeps a value.
	SetTimeouts(ctx context.Context, t Timeouts) error
	Timeouts(ctx context.Context) (Timeouts, error)

	// Services lists every service with its destinations, counters and
	// rates, in the backend's order (GVS: creation order; destinations
	// newest first, as the kernel keeps them).
	Services(ctx context.Context) ([]ipvs.ServiceStatus, error)
	// Service returns one service (ESRCH when there is none).
	Service(ctx context.Context, key ipvs.ServiceKey) (ipvs.ServiceStatus, error)
	// Conns lists the connection table, persistence templates included.
	Conns(ctx context.Context) ([]Conn, error)

	StartDaemon(ctx context.Context, d DaemonConfig) error
	StopDaemon(ctx context.Context, state DaemonState) error
	// Daemons lists the running sync daemons, master first.
	Daemons(ctx context.Context) ([]DaemonConfig, error)

	// Restore applies ops in order, all or nothing: when one fails, nothing
	// has changed and the error is a *RestoreError naming it. OpSnapshot
	// entries take a copy of the state as it is at that point of the
	// sequence; they are returned in order.
	Restore(ctx context.Context, ops []RestoreOp) ([]Snapshot, error)
}

// Info is the IPVS version and the size of the connection table as the
// listing header shows them ("IP Virtual Server version 1.2.1 (size=4096)").
type Info struct {
	Version     uint32 `json:"version"` // 0x010201 for 1.2.1
	ConnTabSize uint32 `json:"conn_tab_size"`
}

// VersionString formats the version as "1.2.1".
func (i Info) VersionString() string {
	return fmt.Sprintf("%d.%d.%d", i.Version>>16&0xff, i.Version>>8&0xff, i.Version&0xff)
}

// DestKey names a destination of a service.
type DestKey struct {
	Addr netip.Addr `json:"addr"`
	Port uint16     `json:"port"`
}

// Timeouts are the three timeouts ipvsadm --set changes, in seconds.
type Timeouts struct {
	TCP    uint32 `json:"tcp"`
	TCPFin uint32 `json:"tcpfin"`
	UDP    uint32 `json:"udp"`
}

// DaemonState is a sync daemon's role.
type DaemonState int

const (
	DaemonMaster DaemonState = 1
	DaemonBackup DaemonState = 2
)

func (s DaemonState) String() string {
	switch s {
	case DaemonMaster:
		return "master"
	case DaemonBackup:
		return "backup"
	}
	return fmt.Sprintf("state%d", int(s))
}

// DaemonConfig is a connection-sync daemon's configuration. Zero values ask
// for the defaults when starting; listings return the values in effect.
type DaemonConfig struct {
	State     DaemonState `json:"state"`
	Interface string      `json:"mcast_interface"`
	SyncID    uint8       `json:"syncid"`
	MaxLen    uint16      `json:"maxlen,omitempty"` // sync message length; 0 = from the MTU
	Group     netip.Addr  `json:"group,omitzero"`   // multicast group; invalid = 224.0.0.81
	Port      uint16      `json:"port,omitempty"`   // 0 = 8848
	TTL       uint8       `json:"ttl,omitempty"`    // 0 = 1
}

// Conn is one connection entry as ipvsadm -Lc shows it.
type Conn struct {
	Protocol ipvs.Protocol  `json:"protocol"`
	Client   netip.AddrPort `json:"client"`
	Virtual  netip.AddrPort `json:"virtual"`
	Dest     netip.AddrPort `json:"dest"`
	FWMark   uint32         `json:"fwmark,omitempty"`
	State    string         `json:"state"`
	Expires  int64          `json:"expires_ns"` // time left
	Template bool           `json:"template,omitempty"`
	PEName   string         `json:"pe_name,omitempty"`
	PEData   string         `json:"pe_data,omitempty"`
}

// OpKind is what one RestoreOp does.
type OpKind string

const (
	OpAddService  OpKind = "add-service"
	OpEditService OpKind = "edit-service"
	OpDelService  OpKind = "delete-service"
	OpFlush       OpKind = "flush"
	OpAddDest     OpKind = "add-server"
	OpEditDest    OpKind = "edit-server"
	OpDelDest     OpKind = "delete-server"
	OpZero        OpKind = "zero"
	OpSetTimeouts OpKind = "set"
	OpStartDaemon OpKind = "start-daemon"
	OpStopDaemon  OpKind = "stop-daemon"
	// OpSnapshot records the state at this point (for -L and -S lines in a
	// restore stream). Without All, the snapshot holds one service, and its
	// absence fails the restore with ESRCH.
	OpSnapshot OpKind = "snapshot"
)

// RestoreOp is one step of a Restore. Which fields matter depends on Kind:
// add/edit-service take Service; delete-service, the server ops, zero and
// snapshot name their service by Service.ServiceKey; add/edit-server take
// Dest, delete-server its Addr and Port; set takes Timeouts; start-daemon
// takes Daemon, stop-daemon its State. All makes zero and snapshot cover
// every service.
type RestoreOp struct {
	Kind     OpKind             `json:"kind"`
	Service  ipvs.ServiceConfig `json:"service,omitzero"`
	All      bool               `json:"all,omitempty"`
	Dest     ipvs.DestConfig    `json:"dest,omitzero"`
	Timeouts Timeouts           `json:"timeouts,omitzero"`
	Daemon   DaemonConfig       `json:"daemon,omitzero"`
}

// Snapshot is the state captured by an OpSnapshot.
type Snapshot struct {
	Services []ipvs.ServiceStatus `json:"services"`
	Timeouts Timeouts             `json:"timeouts"`
	Daemons  []DaemonConfig       `json:"daemons"`
}

// RestoreError reports the restore step that failed; nothing was applied.
type RestoreError struct {
	Index int   // into the ops slice
	Err   error // usually an *ipvs.Error
}

func (e *RestoreError) Error() string { return fmt.Sprintf("restore step %d: %v", e.Index+1, e.Err) }
func (e *RestoreError) Unwrap() error { return e.Err }

// NewRemoteBackend connects to gvsd's API on a Unix socket. gvsd's API
// client sets it from its package's init; until then it is nil and gvsadm
// says so.
var NewRemoteBackend func(socket string) (Backend, error)

// DefaultSocket is where gvsd listens unless GVSD_SOCKET or --socket says otherwise.
const DefaultSocket = "/run/gvsd/gvsd.sock"
