package daemon

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

// Change is one step of a reconciliation, logged as it is applied.
type Change struct {
	Op      string // add-service, edit-service, del-service, add-dest, edit-dest, del-dest
	Service ipvs.ServiceKey
	Dest    netip.AddrPort
}

// Reconcile makes the engine's services match the configuration, touching
// only what differs: an unchanged service keeps its scheduler state and
// connections, an unchanged destination its counters. Options and timeouts
// are replaced whole. The configuration must already be validated.
//
// The destinations of services with health checks (health.Checked) are
// left alone: the health Manager owns them (it adds the healthy ones, at
// their current weight, and removes the failed ones), so Reconcile only
// creates, edits and deletes such services themselves.
func Reconcile(eng *ipvs.Engine, cfg *config.Config, log *slog.Logger) ([]Change, error) {
	var changes []Change
	note := func(c Change) {
		changes = append(changes, c)
		if log != nil {
			attrs := []any{"op", c.Op, "service", c.Service.String()}
			if c.Dest.IsValid() {
				attrs = append(attrs, "dest", c.Dest.String())
			}
			log.Info("service change", attrs...)
		}
	}
	if err := eng.SetOptions(cfg.EngineOptions()); err != nil {
		return changes, err
	}
	tout, err := cfg.EngineTimeouts()
	if err != nil {
		return changes, err
	}
	eng.SetAllTimeouts(tout)

	checked := checkedServices(cfg)
	want := map[ipvs.ServiceKey]bool{}
	current := map[ipvs.ServiceKey]ipvs.ServiceStatus{}
	for _, st := range eng.Services() {
		current[st.ServiceKey] = st
	}
	for i := range cfg.Services {
		svc, dests, err := cfg.Services[i].Engine()
		if err != nil {
			return changes, err
		}
		key := normalized(svc.ServiceKey)
		want[key] = true
		cur, exists := current[key]
		switch {
		case !exists:
			if err := eng.AddService(svc); err != nil {
				return changes, fmt.Errorf("add service %s: %w", key, err)
			}
			note(Change{Op: "add-service", Service: key})
		case !sameService(cur.ServiceConfig, svc):
			if err := eng.EditService(svc); err != nil {
				return changes, fmt.Errorf("edit service %s: %w", key, err)
			}
			note(Change{Op: "edit-service", Service: key})
		}
		if checked[key] {
			continue // the health Manager's
		}
		curDests := map[netip.AddrPort]ipvs.DestConfig{}
		for _, d := range cur.Dests {
			curDests[netip.AddrPortFrom(d.Addr, d.Port)] = d.DestConfig
		}
		wantDests := map[netip.AddrPort]bool{}
		for _, d := range dests {
			ap := netip.AddrPortFrom(d.Addr.Unmap(), d.Port)
			wantDests[ap] = true
			old, had := curDests[ap]
			switch {
			case !had:
				if err := eng.AddDest(key, d); err != nil {
					return changes, fmt.Errorf("add destination %s to %s: %w", ap, key, err)
				}
				note(Change{Op: "add-dest", Service: key, Dest: ap})
			case old != d:
				if err := eng.EditDest(key, d); err != nil {
					return changes, fmt.Errorf("edit destination %s of %s: %w", ap, key, err)
				}
				note(Change{Op: "edit-dest", Service: key, Dest: ap})
			}
		}
		for ap := range curDests {
			if !wantDests[ap] {
				if err := eng.DelDest(key, ap.Addr(), ap.Port()); err != nil {
					return changes, fmt.Errorf("delete destination %s of %s: %w", ap, key, err)
				}
				note(Change{Op: "del-dest", Service: key, Dest: ap})
			}
		}
	}
	for key := range current {
		if !want[key] {
			if err := eng.DelService(key); err != nil {
				return changes, fmt.Errorf("delete service %s: %w", key, err)
			}
			note(Change{Op: "del-service", Service: key})
		}
	}
	return changes, nil
}

// normalized returns the key as the engine stores it.
func normalized(k ipvs.ServiceKey) ipvs.ServiceKey {
	if k.FWMark != 0 {
		return ipvs.ServiceKey{Family: k.Family, FWMark: k.FWMark}
	}
	k.Addr = k.Addr.Unmap()
	k.Family = ipvs.FamilyOf(k.Addr)
	return k
}

func sameService(a, b ipvs.ServiceConfig) bool {
	const userFlags = ^ipvs.SvcHashed
	return a.Scheduler == b.Scheduler && a.Flags&userFlags == b.Flags&userFlags &&
		a.Timeout == b.Timeout && a.Netmask == b.Netmask && a.PE == b.PE
}
