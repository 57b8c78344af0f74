package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/govs/gvs/ipvs"
	"go.yaml.in/yaml/v3"
)

// Addr is an IP address in YAML.
type Addr netip.Addr

func (a *Addr) UnmarshalYAML(n *yaml.Node) error {
	v, err := netip.ParseAddr(strings.Trim(n.Value, "[]"))
	if err != nil {
		return &LineError{Line: n.Line, Msg: fmt.Sprintf("%q is not an IP address", n.Value)}
	}
	*a = Addr(v.Unmap())
	return nil
}

func (a Addr) MarshalYAML() (any, error) { return netip.Addr(a).String(), nil }

// IsZero lets omitempty skip unset addresses.
func (a Addr) IsZero() bool { return !netip.Addr(a).IsValid() }

func (a Addr) String() string { return netip.Addr(a).String() }

// Prefix is an address or a CIDR prefix in YAML.
type Prefix netip.Prefix

func (p *Prefix) UnmarshalYAML(n *yaml.Node) error {
	if v, err := netip.ParsePrefix(n.Value); err == nil {
		*p = Prefix(v.Masked())
		return nil
	}
	if v, err := netip.ParseAddr(n.Value); err == nil {
		*p = Prefix(netip.PrefixFrom(v.Unmap(), v.Unmap().BitLen()))
		return nil
	}
	return &LineError{Line: n.Line, Msg: fmt.Sprintf("%q is neither an IP address nor a prefix", n.Value)}
}

func (p Prefix) MarshalYAML() (any, error) { return netip.Prefix(p).String(), nil }

// Protocol is tcp, udp or sctp in YAML.
type Protocol ipvs.Protocol

func (p *Protocol) set(s string) error {
	switch strings.ToLower(s) {
	case "tcp":
		*p = Protocol(ipvs.ProtoTCP)
	case "udp":
		*p = Protocol(ipvs.ProtoUDP)
	case "sctp":
		*p = Protocol(ipvs.ProtoSCTP)
	default:
		return fmt.Errorf("unknown protocol %q (want tcp, udp or sctp)", s)
	}
	return nil
}

func (p *Protocol) UnmarshalYAML(n *yaml.Node) error {
	if err := p.set(n.Value); err != nil {
		return &LineError{Line: n.Line, Msg: err.Error()}
	}
	return nil
}

func (p Protocol) MarshalYAML() (any, error) { return strings.ToLower(ipvs.Protocol(p).String()), nil }

// IsZero makes an unset protocol (any, in a firewall-mark match) vanish
// from marshalled files instead of becoming a name no parser accepts.
func (p Protocol) IsZero() bool { return p == 0 }

// Forward is a forwarding method in YAML: masq (nat), route (dr, gate), tunnel (ipip, tun), local.
type Forward ipvs.ForwardMethod

func (f *Forward) UnmarshalYAML(n *yaml.Node) error {
	switch strings.ToLower(n.Value) {
	case "masq", "nat", "masquerading", "":
		*f = Forward(ipvs.Masq)
	case "route", "dr", "gate", "gatewaying", "direct":
		*f = Forward(ipvs.Route)
	case "tunnel", "tun", "ipip":
		*f = Forward(ipvs.Tunnel)
	case "local":
		*f = Forward(ipvs.Local)
	default:
		return &LineError{Line: n.Line, Msg: fmt.Sprintf("unknown forwarding method %q (want masq, route, tunnel or local)", n.Value)}
	}
	return nil
}

func (f Forward) MarshalYAML() (any, error) {
	return strings.ToLower(ipvs.ForwardMethod(f).String()), nil
}

// Keep the line of each service and real server for later errors.

func (s *Service) UnmarshalYAML(n *yaml.Node) error {
	type plain Service
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.Line = n.Line
	return nil
}

func (r *RealServer) UnmarshalYAML(n *yaml.Node) error {
	type plain RealServer
	if err := n.Decode((*plain)(r)); err != nil {
		return err
	}
	r.Line = n.Line
	return nil
}

func (m *FWMarkRule) UnmarshalYAML(n *yaml.Node) error {
	type plain FWMarkRule
	if err := n.Decode((*plain)(m)); err != nil {
		return err
	}
	m.Line = n.Line
	return nil
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if v, err := time.ParseDuration(n.Value); err == nil {
		if v < 0 {
			return &LineError{Line: n.Line, Msg: fmt.Sprintf("duration %q is negative", n.Value)}
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if _, err := fmt.Sscanf(n.Value, "%g", &secs); err == nil && secs >= 0 {
		*d = Duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	return &LineError{Line: n.Line, Msg: fmt.Sprintf("%q is not a duration (e.g. 5s, 200ms)", n.Value)}
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (c *Check) UnmarshalYAML(n *yaml.Node) error {
	type plain Check
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.Line = n.Line
	return nil
}
