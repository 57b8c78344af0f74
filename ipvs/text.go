package ipvs

import (
	"fmt"
	"strings"
)

// Text forms of the engine's enumerations, used by JSON (the API) and
// configuration files. Each accepts what it prints, case-insensitively.

func parseEnum(kind, s string, names map[string]uint8) (uint8, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown %s %q", kind, s)
}

var familyNames = map[string]uint8{"ipv4": uint8(IPv4), "ipv6": uint8(IPv6), "inet": uint8(IPv4), "inet6": uint8(IPv6)}

func (f Family) MarshalText() ([]byte, error) {
	switch f {
	case IPv4:
		return []byte("ipv4"), nil
	case IPv6:
		return []byte("ipv6"), nil
	case 0:
		return []byte(""), nil
	}
	return nil, fmt.Errorf("unknown family %d", uint8(f))
}

func (f *Family) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*f = 0
		return nil
	}
	v, err := parseEnum("address family", string(b), familyNames)
	*f = Family(v)
	return err
}

var protocolNames = map[string]uint8{"": 0, "ip": 0, "tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58}

func (p Protocol) MarshalText() ([]byte, error) {
	if p == ProtoIP {
		return []byte(""), nil
	}
	return []byte(strings.ToLower(p.String())), nil
}

func (p *Protocol) UnmarshalText(b []byte) error {
	v, err := parseEnum("protocol", string(b), protocolNames)
	*p = Protocol(v)
	return err
}

var methodNames = map[string]uint8{"masq": 0, "local": 1, "tunnel": 2, "route": 3, "bypass": 4}

func (m ForwardMethod) MarshalText() ([]byte, error) { return []byte(strings.ToLower(m.String())), nil }

func (m *ForwardMethod) UnmarshalText(b []byte) error {
	v, err := parseEnum("forwarding method", string(b), methodNames)
	*m = ForwardMethod(v)
	return err
}

var tunnelNames = map[string]uint8{"ipip": 0, "gue": 1, "gre": 2}

func (t TunnelType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

func (t *TunnelType) UnmarshalText(b []byte) error {
	v, err := parseEnum("tunnel type", string(b), tunnelNames)
	*t = TunnelType(v)
	return err
}
