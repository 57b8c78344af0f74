package health

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

// svcPlan is one checked service, resolved and validated.
type svcPlan struct {
	key    ipvs.ServiceKey
	name   string
	health config.Health
	sorry  *ipvs.DestConfig
	dests  []destPlan
}

// destPlan is one real server of a checked service.
type destPlan struct {
	ap    netip.AddrPort
	cfg   ipvs.DestConfig
	rs    config.RealServer
	check *config.Check // effective check; nil: no check, always up
	set   checkSettings
}

// checkSettings are a check's timings with defaults applied.
type checkSettings struct {
	interval, timeout, retryDelay time.Duration
	retries, rise, fall           int
}

// Checked reports whether the Manager owns a service's destinations: it
// does when the service or any of its real servers has a check.
func Checked(s *config.Service) bool {
	if s.Check != nil {
		return true
	}
	for i := range s.RealServers {
		if s.RealServers[i].Check != nil {
			return true
		}
	}
	return false
}

func lineErr(line int, format string, a ...any) error {
	return &config.LineError{Line: line, Msg: fmt.Sprintf(format, a...)}
}

// plan resolves the checked services; newChecker validates each check.
func plan(services []config.Service, newChecker func(*config.Check) (Checker, error)) ([]svcPlan, error) {
	if newChecker == nil {
		newChecker = NewChecker
	}
	var out []svcPlan
	seen := map[ipvs.ServiceKey]bool{}
	for i := range services {
		s := &services[i]
		if !Checked(s) {
			continue
		}
		_, dests, err := s.Engine()
		if err != nil {
			return nil, err
		}
		key := normKey(s.Key())
		if seen[key] {
			return nil, lineErr(s.Line, "service %s is defined twice", key)
		}
		seen[key] = true
		h := s.Health
		switch strings.ToLower(h.OnFailure) {
		case "", "remove", "inhibit":
		default:
			return nil, lineErr(s.Line, "health.on_failure %q must be remove or inhibit", h.OnFailure)
		}
		switch strings.ToLower(h.FailedConns) {
		case "", "keep", "expire":
		default:
			return nil, lineErr(s.Line, "health.failed_conns %q must be keep or expire", h.FailedConns)
		}
		if h.Quorum < 0 || h.Hysteresis < 0 {
			return nil, lineErr(s.Line, "health.quorum and health.hysteresis must not be negative")
		}
		p := svcPlan{key: key, name: s.Name, health: h}
		if h.Sorry != nil {
			d, err := h.Sorry.Engine()
			if err != nil {
				return nil, err
			}
			if !key.IsFWMark() && (d.Port == 0 || d.Method == ipvs.Route || d.Method == ipvs.Tunnel) {
				d.Port = key.Port
			}
			d.Addr = d.Addr.Unmap()
			p.sorry = &d
		}
		have := map[netip.AddrPort]bool{}
		for j, d := range dests {
			rs := s.RealServers[j]
			d.Addr = d.Addr.Unmap()
			ap := netip.AddrPortFrom(d.Addr, d.Port)
			if have[ap] {
				return nil, lineErr(rs.Line, "real server %s is listed twice", ap)
			}
			have[ap] = true
			if p.sorry != nil && p.sorry.Addr == d.Addr && p.sorry.Port == d.Port {
				return nil, lineErr(h.Sorry.Line, "the sorry server %s is also a real server", ap)
			}
			dp := destPlan{ap: ap, cfg: d, rs: rs, check: rs.Check}
			if dp.check == nil {
				dp.check = s.Check
			}
			if dp.check != nil {
				c := *dp.check
				dp.check = &c
				if err := validateCheck(&c, key, d, newChecker); err != nil {
					line := c.Line
					if line == 0 {
						line = rs.Line
					}
					return nil, lineErr(line, "check of %s: %v", ap, err)
				}
				dp.set = settings(&c)
			}
			p.dests = append(p.dests, dp)
		}
		out = append(out, p)
	}
	return out, nil
}

func validateCheck(c *config.Check, key ipvs.ServiceKey, d ipvs.DestConfig, newChecker func(*config.Check) (Checker, error)) error {
	if _, err := newChecker(c); err != nil {
		return err
	}
	if c.Rise < 0 || c.Fall < 0 || c.Retries < 0 {
		return fmt.Errorf("rise, fall and retries must not be negative")
	}
	if c.ViaVIP {
		if key.IsFWMark() {
			return fmt.Errorf("via_vip needs a service with an address (not a fwmark service)")
		}
		if d.Method != ipvs.Route && d.Method != ipvs.Tunnel {
			return fmt.Errorf("via_vip is for direct routing and tunnel real servers")
		}
	}
	if needsPort(c.Type) {
		port := c.Port
		if port == 0 {
			port = d.Port
			if c.ViaVIP {
				port = key.Port
			}
		}
		if port == 0 {
			return fmt.Errorf("a %s check needs a port: set check.port", c.Type)
		}
	}
	return nil
}

func settings(c *config.Check) checkSettings {
	s := checkSettings{
		interval: time.Duration(c.Interval), timeout: time.Duration(c.Timeout),
		retryDelay: time.Duration(c.RetryDelay), retries: c.Retries, rise: c.Rise, fall: c.Fall,
	}
	if s.interval <= 0 {
		s.interval = DefaultInterval
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.retryDelay <= 0 {
		s.retryDelay = min(DefaultRetryDelay, s.interval)
	}
	s.rise, s.fall = max(s.rise, 1), max(s.fall, 1)
	return s
}

// sameCheck reports whether a reload left a destination's check as it was.
func sameCheck(a, b *config.Check, fa, fb ipvs.Forwarding) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	x, y := *a, *b
	x.Line, y.Line = 0, 0
	if !reflect.DeepEqual(x, y) {
		return false
	}
	return !x.ViaVIP || fa == fb
}

// normKey returns the key as the engine stores it.
func normKey(k ipvs.ServiceKey) ipvs.ServiceKey {
	if k.FWMark != 0 {
		if k.Family != ipvs.IPv6 {
			k.Family = ipvs.IPv4
		}
		return ipvs.ServiceKey{Family: k.Family, FWMark: k.FWMark}
	}
	k.Addr = k.Addr.Unmap()
	k.Family = ipvs.FamilyOf(k.Addr)
	return k
}
