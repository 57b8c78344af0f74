package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/govs/gvs/ipvs"
)

// Config is a whole gvsd configuration file.
type Config struct {
	// Interfaces gvsd attaches to; empty means every up, non-loopback one.
	Interfaces []string `yaml:"interfaces,omitempty"`
	// Workers is the number of packet workers; 0 means one per CPU.
	Workers int `yaml:"workers,omitempty"`
	// BusyPoll is how long a packet worker keeps polling its rings after
	// the last packet before it sleeps (a packet in that window costs no
	// wake-up); unset or 0 is off (gvsd's default: it only pays off with
	// CPUs to spare, see bench/results/profile.md).
	BusyPoll *Duration `yaml:"busy_poll,omitempty"`
	// Fanout is how received frames are spread over the packet workers:
	// "flow" (the default: all frames of a flow to one worker) or "cpu"
	// (to the worker of the CPU that received them).
	Fanout string `yaml:"fanout,omitempty"`
	// KernelScheduling lets the kernel fast path schedule new connections
	// of IPv4 TCP rr or wrr services (DR, TUN or NAT) with no persistence
	// or thresholds, so a SYN does not wait for gvsd (docs/dataplane.md,
	// "Kernel scheduling"). On when unset (KernelSchedulingOn); needs
	// the flow fanout.
	KernelScheduling *bool    `yaml:"kernel_scheduling,omitempty"`
	API              API      `yaml:"api,omitempty"`
	Metrics          Metrics  `yaml:"metrics,omitempty"`
	Options          Options  `yaml:"options,omitempty"`
	Timeouts         Timeouts `yaml:"timeouts,omitempty"`
	// VIPs gvsd owns without them being configured on an interface: it
	// answers ARP and neighbour solicitations for them and announces them.
	VIPs     []Addr       `yaml:"vips,omitempty"`
	FWMarks  []FWMarkRule `yaml:"fwmarks,omitempty"`
	Services []Service    `yaml:"services,omitempty"`
}

// KernelSchedulingOn reports kernel_scheduling: on unless set to false.
func (c *Config) KernelSchedulingOn() bool {
	return c.KernelScheduling == nil || *c.KernelScheduling
}

// API configures gvsd's control API.
type API struct {
	Socket    string `yaml:"socket,omitempty"`     // Unix socket (default /run/gvsd/gvsd.sock)
	TCP       string `yaml:"tcp,omitempty"`        // optional TCP listener, needs a token
	TokenFile string `yaml:"token_file,omitempty"` // bearer token for the TCP listener
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Listen string `yaml:"listen,omitempty"` // e.g. 127.0.0.1:9102; empty = off
}

// Options are the engine's knobs; unset ones keep GVS's defaults.
type Options struct {
	MaxConns                int64    `yaml:"max_conns,omitempty"`
	ExpireNodestConn        *bool    `yaml:"expire_nodest_conn,omitempty"`
	ExpireQuiescentTemplate *bool    `yaml:"expire_quiescent_template,omitempty"`
	ConnReuseMode           *int     `yaml:"conn_reuse_mode,omitempty"`
	SloppyTCP               *bool    `yaml:"sloppy_tcp,omitempty"`
	SloppySCTP              *bool    `yaml:"sloppy_sctp,omitempty"`
	SecureTCP               *int     `yaml:"secure_tcp,omitempty"`
	DropEntry               *int     `yaml:"drop_entry,omitempty"`
	DropPacket              *int     `yaml:"drop_packet,omitempty"`
	AmDropRate              *int     `yaml:"am_droprate,omitempty"`
	LoadThreshold           *float64 `yaml:"load_threshold,omitempty"`
	PerSourceLimit          *uint32  `yaml:"per_source_limit,omitempty"`
	ScheduleICMP            *bool    `yaml:"schedule_icmp,omitempty"`
	NATIcmpSend             *bool    `yaml:"nat_icmp_send,omitempty"`
	CacheBypass             *bool    `yaml:"cache_bypass,omitempty"`
}

// Timeouts are in seconds; 0 keeps the default. States maps a protocol's
// state names (as ipvsadm -Lc prints them) to timeouts.
type Timeouts struct {
	TCP    uint32                       `yaml:"tcp,omitempty"`
	TCPFin uint32                       `yaml:"tcpfin,omitempty"`
	UDP    uint32                       `yaml:"udp,omitempty"`
	States map[string]map[string]uint32 `yaml:"states,omitempty"` // e.g. {tcp: {SYN_RECV: 30}}
}

// FWMarkRule gives packets a firewall mark, the way an iptables MARK rule
// does for kernel IPVS (GVS sees packets before the kernel's mangle table).
type FWMarkRule struct {
	Mark  uint32      `yaml:"mark"`
	Match []MarkMatch `yaml:"match"`
	Line  int         `yaml:"-"`
}

// MarkMatch is one match of a firewall-mark rule.
type MarkMatch struct {
	Protocol Protocol `yaml:"protocol,omitempty"` // empty: TCP, UDP and SCTP
	Address  Prefix   `yaml:"address"`
	Ports    []uint16 `yaml:"ports,omitempty"` // empty: every port
}

// Service is one virtual service and its real servers.
type Service struct {
	Name      string   `yaml:"name,omitempty"`
	Protocol  Protocol `yaml:"protocol,omitempty"`
	Address   Addr     `yaml:"address,omitempty"`
	Port      uint16   `yaml:"port,omitempty"`
	FWMark    uint32   `yaml:"fwmark,omitempty"`
	IPv6      bool     `yaml:"ipv6,omitempty"` // fwmark services: the family they apply to
	Scheduler string   `yaml:"scheduler,omitempty"`
	// SchedFlags are ipvsadm -b flags: sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3.
	SchedFlags []string `yaml:"sched_flags,omitempty"`
	// Persistent is the persistence timeout in seconds; 0 = not persistent.
	Persistent  uint32       `yaml:"persistent,omitempty"`
	Netmask     string       `yaml:"netmask,omitempty"` // IPv4 mask or IPv6 prefix length
	OnePacket   bool         `yaml:"one_packet,omitempty"`
	PE          string       `yaml:"pe,omitempty"`
	RealServers []RealServer `yaml:"real_servers,omitempty"`
	// Check is the health check of the real servers (each may override it).
	Check  *Check `yaml:"check,omitempty"`
	Health Health `yaml:"health,omitempty"`
	Line   int    `yaml:"-"`
}

// RealServer is one destination.
type RealServer struct {
	Address    Addr    `yaml:"address"`
	Port       uint16  `yaml:"port,omitempty"`
	Weight     *int32  `yaml:"weight,omitempty"` // default 1
	Forward    Forward `yaml:"forward,omitempty"`
	Tunnel     Tunnel  `yaml:"tunnel,omitempty"`
	UThreshold uint32  `yaml:"u_threshold,omitempty"`
	LThreshold uint32  `yaml:"l_threshold,omitempty"`
	Check      *Check  `yaml:"check,omitempty"` // overrides the service's
	// NotifyUp/NotifyDown run when this server changes state.
	NotifyUp   []string `yaml:"notify_up,omitempty"`
	NotifyDown []string `yaml:"notify_down,omitempty"`
	Line       int      `yaml:"-"`
}

// Tunnel holds the encapsulation settings of forward: tunnel.
type Tunnel struct {
	Type     string `yaml:"type,omitempty"`     // ipip (default), gue, gre
	Port     uint16 `yaml:"port,omitempty"`     // GUE port
	Checksum string `yaml:"checksum,omitempty"` // none (default), csum, remcsum
}

// Key returns the engine key of the service.
func (s *Service) Key() ipvs.ServiceKey {
	if s.FWMark != 0 {
		f := ipvs.IPv4
		if s.IPv6 {
			f = ipvs.IPv6
		}
		return ipvs.ServiceKey{FWMark: s.FWMark, Family: f}
	}
	a := netip.Addr(s.Address)
	return ipvs.ServiceKey{Protocol: ipvs.Protocol(s.Protocol), Addr: a, Port: s.Port, Family: ipvs.FamilyOf(a)}
}

var schedFlagBits = map[string]ipvs.ServiceFlags{
	"sh-fallback": ipvs.SvcSHFallback, "sh-port": ipvs.SvcSHPort,
	"mh-fallback": ipvs.SvcMHFallback, "mh-port": ipvs.SvcMHPort,
	"flag-1": ipvs.SvcSched1, "flag-2": ipvs.SvcSched2, "flag-3": ipvs.SvcSched3,
}

// Engine translates the service into the engine's configuration.
func (s *Service) Engine() (ipvs.ServiceConfig, []ipvs.DestConfig, error) {
	key := s.Key()
	cfg := ipvs.ServiceConfig{ServiceKey: key, Scheduler: s.Scheduler, PE: s.PE}
	if cfg.Scheduler == "" {
		cfg.Scheduler = "wlc"
	}
	for _, f := range s.SchedFlags {
		bit, ok := schedFlagBits[f]
		if !ok {
			return cfg, nil, s.errf("unknown scheduler flag %q (want sh-fallback, sh-port, mh-fallback, mh-port)", f)
		}
		cfg.Flags |= bit
	}
	if s.OnePacket {
		cfg.Flags |= ipvs.SvcOnePacket
	}
	cfg.Netmask = 0xffffffff
	if key.Family == ipvs.IPv6 {
		cfg.Netmask = 128
	}
	if s.Persistent > 0 {
		cfg.Flags |= ipvs.SvcPersistent
		cfg.Timeout = s.Persistent
	}
	if s.Netmask != "" {
		m, err := parseNetmask(s.Netmask, key.Family)
		if err != nil {
			return cfg, nil, s.errf("%v", err)
		}
		cfg.Netmask = m
	}
	var dests []ipvs.DestConfig
	for i := range s.RealServers {
		d, err := s.RealServers[i].Engine()
		if err != nil {
			return cfg, nil, err
		}
		// DR and TUN cannot change the port: as ipvsadm does, the real
		// server's port is the service's (fwmark services keep theirs)
		if key.FWMark == 0 && (d.Method == ipvs.Route || d.Method == ipvs.Tunnel) {
			d.Port = key.Port
		}
		dests = append(dests, d)
	}
	return cfg, dests, nil
}

func parseNetmask(s string, f ipvs.Family) (uint32, error) {
	if f == ipvs.IPv6 {
		var n uint32
		if _, err := fmt.Sscanf(strings.TrimPrefix(s, "/"), "%d", &n); err != nil || n < 1 || n > 128 {
			return 0, fmt.Errorf("IPv6 netmask %q must be a prefix length 1..128", s)
		}
		return n, nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		b := a.As4()
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
	}
	var n uint32
	if _, err := fmt.Sscanf(strings.TrimPrefix(s, "/"), "%d", &n); err == nil && n <= 32 {
		if n == 0 {
			return 0, nil
		}
		return ^uint32(0) << (32 - n), nil
	}
	return 0, fmt.Errorf("netmask %q is neither a dotted mask nor a prefix length", s)
}

// Engine translates the real server into a destination.
func (r *RealServer) Engine() (ipvs.DestConfig, error) {
	d := ipvs.DestConfig{Addr: netip.Addr(r.Address), Port: r.Port, Weight: 1,
		UThreshold: r.UThreshold, LThreshold: r.LThreshold}
	if r.Weight != nil {
		d.Weight = *r.Weight
	}
	d.Method = ipvs.ForwardMethod(r.Forward)
	if d.Method == ipvs.Tunnel {
		switch r.Tunnel.Type {
		case "", "ipip":
			d.TunnelType = ipvs.TunnelIPIP
		case "gue":
			d.TunnelType = ipvs.TunnelGUE
		case "gre":
			d.TunnelType = ipvs.TunnelGRE
		default:
			return d, r.errf("unknown tunnel type %q (want ipip, gue or gre)", r.Tunnel.Type)
		}
		d.TunnelPort = r.Tunnel.Port
		switch r.Tunnel.Checksum {
		case "", "none":
		case "csum":
			d.TunnelFlags = ipvs.TunnelCsum
		case "remcsum":
			d.TunnelFlags = ipvs.TunnelRemCsum
		default:
			return d, r.errf("unknown tunnel checksum %q (want none, csum or remcsum)", r.Tunnel.Checksum)
		}
		if d.TunnelType == ipvs.TunnelGUE && d.TunnelPort == 0 {
			return d, r.errf("a gue tunnel needs tunnel.port")
		}
	} else if r.Tunnel != (Tunnel{}) {
		return d, r.errf("tunnel settings need forward: tunnel")
	}
	return d, nil
}

// LineError is a configuration error at a line of the file.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (s *Service) errf(format string, a ...any) error {
	return &LineError{Line: s.Line, Msg: fmt.Sprintf(format, a...)}
}

func (r *RealServer) errf(format string, a ...any) error {
	return &LineError{Line: r.Line, Msg: fmt.Sprintf(format, a...)}
}

// EngineOptions applies the file's knobs over GVS's defaults.
func (c *Config) EngineOptions() ipvs.Options {
	o := ipvs.DefaultOptions()
	x := c.Options
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setI := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setB(&o.ExpireNodestConn, x.ExpireNodestConn)
	setB(&o.ExpireQuiescentTemplate, x.ExpireQuiescentTemplate)
	setI(&o.ConnReuseMode, x.ConnReuseMode)
	setB(&o.SloppyTCP, x.SloppyTCP)
	setB(&o.SloppySCTP, x.SloppySCTP)
	setI(&o.SecureTCP, x.SecureTCP)
	setI(&o.DropEntry, x.DropEntry)
	setI(&o.DropPacket, x.DropPacket)
	setI(&o.AmDropRate, x.AmDropRate)
	if x.LoadThreshold != nil {
		o.LoadThreshold = *x.LoadThreshold
	}
	if x.PerSourceLimit != nil {
		o.PerSourceLimit = *x.PerSourceLimit
	}
	setB(&o.ScheduleICMP, x.ScheduleICMP)
	setB(&o.NATIcmpSend, x.NATIcmpSend)
	setB(&o.CacheBypass, x.CacheBypass)
	return o
}

// EngineTimeouts applies the file's timeouts over the defaults.
func (c *Config) EngineTimeouts() (ipvs.Timeouts, error) {
	t := ipvs.DefaultTimeouts()
	if c.Timeouts.TCP != 0 {
		t.TCP[ipvs.TCPEstablished] = c.Timeouts.TCP
	}
	if c.Timeouts.TCPFin != 0 {
		t.TCP[ipvs.TCPFinWait] = c.Timeouts.TCPFin
	}
	if c.Timeouts.UDP != 0 {
		t.UDP[ipvs.UDPNormal] = c.Timeouts.UDP
	}
	for proto, states := range c.Timeouts.States {
		var p ipvs.Protocol
		if err := (*Protocol)(&p).set(proto); err != nil {
			return t, &LineError{Msg: "timeouts.states: " + err.Error()}
		}
		for st, v := range states {
			if err := t.SetStateTimeout(p, strings.ToUpper(st), v); err != nil {
				return t, &LineError{Msg: "timeouts.states: " + err.Error()}
			}
		}
	}
	return t, nil
}
