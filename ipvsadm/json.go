package ipvsadm

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/govs/gvs/ipvs"
)

// --json (GVS's addition; ipvsadm has none) prints listings as one JSON
// document, for programs instead of eyes. The shape is stable: fields are
// only ever added. Addresses are always numeric; services and destinations
// come in the same order as the text listing (sorted as ipvsadm sorts,
// unless --nosort).
//
//	ipvsadm -L --json            {"version", "conn_tab_size", "services": [...]}
//	ipvsadm -L -t ... --json     the same with one service
//	ipvsadm -L -c --json         {"connections": [...]}
//	ipvsadm -L --timeout --json  {"timeout": {"tcp", "tcpfin", "udp"}}
//	ipvsadm -L --daemon --json   {"daemons": [...]}

// JSONListing is the document of a service listing.
type JSONListing struct {
	Version     string        `json:"version"`
	ConnTabSize uint32        `json:"conn_tab_size"`
	Services    []JSONService `json:"services"`
}

// JSONService is one virtual service.
type JSONService struct {
	Protocol     string        `json:"protocol"` // TCP, UDP, SCTP or FWM
	Family       string        `json:"family"`   // inet or inet6
	Address      string        `json:"address,omitempty"`
	Port         uint16        `json:"port"`
	FWMark       uint32        `json:"fwmark,omitempty"`
	Scheduler    string        `json:"scheduler"`
	SchedFlags   []string      `json:"sched_flags,omitempty"`
	Persistent   bool          `json:"persistent"`
	Timeout      uint32        `json:"timeout,omitempty"`       // persistence timeout, s
	Netmask      string        `json:"netmask,omitempty"`       // IPv4 persistence granularity
	PrefixLength uint32        `json:"prefix_length,omitempty"` // IPv6 persistence granularity
	OnePacket    bool          `json:"one_packet"`
	PE           string        `json:"pe,omitempty"`
	Stats        ipvs.Counters `json:"stats"`
	Rates        ipvs.Rates    `json:"rates"`
	Destinations []JSONDest    `json:"destinations"`
}

// JSONDest is one real server.
type JSONDest struct {
	Address         string        `json:"address"`
	Port            uint16        `json:"port"`
	Family          string        `json:"family"`
	Forward         string        `json:"forward"` // Masq, Local, Tunnel or Route
	Tunnel          *JSONTunnel   `json:"tunnel,omitempty"`
	Weight          int32         `json:"weight"`
	UpperThreshold  uint32        `json:"upper_threshold"`
	LowerThreshold  uint32        `json:"lower_threshold"`
	ActiveConns     int32         `json:"active_conns"`
	InactiveConns   int32         `json:"inactive_conns"`
	PersistentConns int32         `json:"persistent_conns"`
	Stats           ipvs.Counters `json:"stats"`
	Rates           ipvs.Rates    `json:"rates"`
}

// JSONTunnel is a tunnel destination's encapsulation.
type JSONTunnel struct {
	Type     string `json:"type"` // ipip, gue or gre
	Port     uint16 `json:"port,omitempty"`
	Checksum string `json:"checksum"` // nocsum, csum or remcsum
}

// JSONConn is one connection entry.
type JSONConn struct {
	Protocol    string `json:"protocol"`
	Client      string `json:"client"`
	Virtual     string `json:"virtual"`
	Destination string `json:"destination"`
	State       string `json:"state"`
	Expires     int64  `json:"expires"` // seconds left
	Template    bool   `json:"template,omitempty"`
	FWMark      uint32 `json:"fwmark,omitempty"`
	PEName      string `json:"pe_name,omitempty"`
	PEData      string `json:"pe_data,omitempty"`
}

func familyName(af int) string {
	if af == afInet6 {
		return "inet6"
	}
	return "inet"
}

func jsonService(s *service, l *lister) JSONService {
	st := s.st
	j := JSONService{
		Family:     familyName(s.e.af),
		Scheduler:  st.Scheduler,
		Persistent: uint32(st.Flags)&svcFPersistent != 0,
		OnePacket:  uint32(st.Flags)&svcFOnePacket != 0,
		PE:         st.PE,
		Stats:      st.Stats,
		Rates:      st.Rates,
	}
	if s.e.fwmark != 0 {
		j.Protocol, j.FWMark = "FWM", s.e.fwmark
	} else {
		j.Protocol = protocolName(s.e.protocol)
		j.Address = ntop(s.e.addr.netip(s.e.af))
		j.Port = st.Port
	}
	if f := schedFlagsString(st); f != "" {
		j.SchedFlags = strings.Split(f, ",")
	}
	if j.Persistent {
		j.Timeout = st.Timeout
		if s.e.af == afInet6 {
			j.PrefixLength = st.Netmask
		} else {
			j.Netmask = maskString(st.Netmask)
		}
	}
	dests := s.dests
	if l.format&fmtNoSort == 0 {
		dests = append([]dest(nil), dests...)
		msort(dests, func(a, b *dest) int { return cmpDests(&a.e, &b.e) })
	}
	j.Destinations = make([]JSONDest, 0, len(dests))
	for _, d := range dests {
		e := d.st
		jd := JSONDest{
			Address: ntop(d.e.addr.netip(d.e.af)), Port: e.Port, Family: familyName(d.e.af),
			Forward: fwdName(e.Method), Weight: e.Weight,
			UpperThreshold: e.UThreshold, LowerThreshold: e.LThreshold,
			ActiveConns: e.ActiveConns, InactiveConns: e.InactConns, PersistentConns: e.PersistConns,
			Stats: e.Stats, Rates: e.Rates,
		}
		if e.Method == ipvs.Tunnel {
			t := &JSONTunnel{Type: ipvs.TunnelType(e.TunnelType).String(), Checksum: "nocsum"}
			if e.TunnelType == ipvs.TunnelGUE {
				t.Port = e.TunnelPort
			}
			switch e.TunnelFlags {
			case ipvs.TunnelCsum:
				t.Checksum = "csum"
			case ipvs.TunnelRemCsum:
				t.Checksum = "remcsum"
			}
			jd.Tunnel = t
		}
		j.Destinations = append(j.Destinations, jd)
	}
	return j
}

func jsonConn(c *Conn) JSONConn {
	secs := c.Expires / 1e9
	if secs < 0 {
		secs = 0
	}
	ap := func(a interface{ String() string }) string { return a.String() }
	return JSONConn{
		Protocol: c.Protocol.String(), Client: ap(c.Client), Virtual: ap(c.Virtual), Destination: ap(c.Dest),
		State: c.State, Expires: secs, Template: c.Template, FWMark: c.FWMark, PEName: c.PEName, PEData: c.PEData,
	}
}

func writeJSON(out *strings.Builder, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	out.Write(b)
	out.WriteByte('\n')
}

func (c *CLI) servicesJSON(ctx context.Context, ce *Command, sts []ipvs.ServiceStatus, out *strings.Builder) error {
	info, err := c.Backend.Info(ctx)
	if err != nil {
		return kernelError(fnNone, err, 2)
	}
	l := &lister{r: c.Resolver, format: ce.format}
	var svcs []service
	if ce.options&bit(optService) != 0 {
		svcs = []service{newService(&sts[0])}
	} else {
		svcs = l.services(sts)
	}
	doc := JSONListing{Version: info.VersionString(), ConnTabSize: info.ConnTabSize, Services: make([]JSONService, 0, len(svcs))}
	for i := range svcs {
		doc.Services = append(doc.Services, jsonService(&svcs[i], l))
	}
	writeJSON(out, doc)
	return nil
}

// listJSON is -L --json.
func (c *CLI) listJSON(ctx context.Context, ce *Command, out *strings.Builder) error {
	b := c.Backend
	switch {
	case ce.options&bit(optConnection) != 0:
		conns, err := b.Conns(ctx)
		if err != nil {
			return kernelError(fnNone, err, 1)
		}
		js := make([]JSONConn, 0, len(conns))
		for i := range conns {
			js = append(js, jsonConn(&conns[i]))
		}
		writeJSON(out, struct {
			Connections []JSONConn `json:"connections"`
		}{js})
		return nil
	case ce.options&bit(optTimeout) != 0:
		t, err := b.Timeouts(ctx)
		if err != nil {
			return kernelError(fnGetTimeout, err, 1)
		}
		writeJSON(out, struct {
			Timeout Timeouts `json:"timeout"`
		}{t})
		return nil
	case ce.options&bit(optDaemon) != 0:
		ds, err := b.Daemons(ctx)
		if err != nil {
			return kernelError(fnGetDaemon, err, 1)
		}
		writeDaemonsJSON(out, ds)
		return nil
	case ce.options&bit(optService) != 0:
		st, err := b.Service(ctx, ce.svc.key())
		if err != nil {
			return kernelError(fnGetService, err, 1)
		}
		return c.servicesJSON(ctx, ce, []ipvs.ServiceStatus{st}, out)
	}
	sts, err := b.Services(ctx)
	if err != nil {
		return kernelError(fnGetServices, err, 1)
	}
	return c.servicesJSON(ctx, ce, sts, out)
}

// JSONDaemon is one sync daemon.
type JSONDaemon struct {
	State     string `json:"state"`
	Interface string `json:"mcast_interface"`
	SyncID    uint8  `json:"syncid"`
	MaxLen    uint16 `json:"maxlen"`
	Group     string `json:"group"`
	Port      uint16 `json:"port"`
	TTL       uint8  `json:"ttl"`
}

func writeDaemonsJSON(out *strings.Builder, ds []DaemonConfig) {
	js := make([]JSONDaemon, 0, len(ds))
	for _, d := range ds {
		g := ""
		if d.Group.IsValid() {
			g = ntop(d.Group)
		}
		js = append(js, JSONDaemon{State: d.State.String(), Interface: d.Interface, SyncID: d.SyncID, MaxLen: d.MaxLen, Group: g, Port: d.Port, TTL: d.TTL})
	}
	writeJSON(out, struct {
		Daemons []JSONDaemon `json:"daemons"`
	}{js})
}

// snapshotJSON prints a --json listing line of a restore stream.
func (c *CLI) snapshotJSON(ctx context.Context, ce *Command, s *Snapshot, out *strings.Builder) error {
	switch {
	case ce.options&bit(optTimeout) != 0:
		writeJSON(out, struct {
			Timeout Timeouts `json:"timeout"`
		}{s.Timeouts})
		return nil
	case ce.options&bit(optDaemon) != 0:
		writeDaemonsJSON(out, s.Daemons)
		return nil
	}
	return c.servicesJSON(ctx, ce, s.Services, out)
}
