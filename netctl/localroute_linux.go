//go:build linux

package netctl

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// localRulePriority places GVS's rule for marked local traffic before the
// main table (32766) and after the local table (0).
const localRulePriority = 4756

// setLocalRouting makes packets carrying l.Mark leave through lo: for IPv4 a
// unicast default route to lo (the kernel then picks the source address as
// for the real path), for IPv6 a local default route (IPv6 refuses unicast
// routes to lo) with l.Src6 as the source.
func (l *Linux) setLocalRouting(ls LocalSteering) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netctl: lo: %w", err)
	}
	l.localTable, l.localMark = ls.Table, ls.Mark
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		rule := l.localRule(fam)
		if err := netlink.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("netctl: ip rule fwmark 0x%x lookup %d: %w", ls.Mark, ls.Table, err)
		}
	}
	v4 := &netlink.Route{LinkIndex: lo.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
		Table: ls.Table, Scope: netlink.SCOPE_LINK, Family: unix.AF_INET}
	if err := netlink.RouteReplace(v4); err != nil {
		return fmt.Errorf("netctl: route default dev lo table %d: %w", ls.Table, err)
	}
	v6 := &netlink.Route{LinkIndex: lo.Attrs().Index, Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		Table: ls.Table, Type: unix.RTN_LOCAL, Family: unix.AF_INET6}
	if ls.Src6.IsValid() {
		v6.Src = net.IP(ls.Src6.AsSlice())
	}
	if err := netlink.RouteReplace(v6); err != nil {
		return fmt.Errorf("netctl: route local ::/0 dev lo table %d: %w", ls.Table, err)
	}
	return nil
}

func (l *Linux) localRule(family int) *netlink.Rule {
	r := netlink.NewRule()
	r.Family = family
	r.Mark = l.localMark
	r.Mask = ptr(uint32(0xffffffff))
	r.Table = l.localTable
	r.Priority = localRulePriority
	return r
}

func ptr[T any](v T) *T { return &v }

// removeLocalRouting undoes setLocalRouting; absent entries are fine.
func (l *Linux) removeLocalRouting() error {
	if l.localTable == 0 {
		return nil
	}
	var errs []error
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		if err := netlink.RuleDel(l.localRule(fam)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("netctl: delete ip rule: %w", err))
		}
		routes, err := netlink.RouteListFiltered(fam, &netlink.Route{Table: l.localTable}, netlink.RT_FILTER_TABLE)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range routes {
			if err := netlink.RouteDel(&routes[i]); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("netctl: delete route in table %d: %w", l.localTable, err))
			}
		}
	}
	l.localTable = 0
	return errors.Join(errs...)
}
