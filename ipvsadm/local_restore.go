package ipvsadm

import (
	"context"
	"fmt"

	"github.com/govs/gvs/ipvs"
)

// Restore implements Backend: all or nothing.
//
// The ops are first replayed on a scratch engine that holds copies of only
// the services they touch (so validation costs what the ops cost, not what
// the whole table costs), with the engine's own checks deciding every
// error. Only when all of them pass are they applied to the real engine,
// under the backend's lock. Should the real engine still refuse a step
// (someone changed it directly in between), the steps already applied are
// undone from an undo log before the error is returned.
func (b *LocalBackend) Restore(_ context.Context, ops []RestoreOp) ([]Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.validate(ops); err != nil {
		return nil, err
	}
	return b.apply(ops)
}

// normKey is the engine's identity of a service key (see ipvs.normalizeKey).
func normKey(k ipvs.ServiceKey) ipvs.ServiceKey {
	if k.FWMark != 0 {
		if k.Family != ipvs.IPv4 && k.Family != ipvs.IPv6 {
			k.Family = ipvs.IPv4
		}
		return ipvs.ServiceKey{Family: k.Family, FWMark: k.FWMark}
	}
	if k.Addr.IsValid() {
		k.Addr = k.Addr.Unmap()
		k.Family = ipvs.FamilyOf(k.Addr)
	}
	return k
}

// copyService adds a service and its destinations (oldest first, so the
// list ends up newest first as before) to an engine.
func copyService(e *ipvs.Engine, st ipvs.ServiceStatus) error {
	cfg := st.ServiceConfig
	cfg.Flags &^= ipvs.SvcHashed
	if err := e.AddService(cfg); err != nil {
		return err
	}
	for i := len(st.Dests) - 1; i >= 0; i-- {
		if err := e.AddDest(cfg.ServiceKey, st.Dests[i].DestConfig); err != nil {
			return err
		}
	}
	return nil
}

// stage is the scratch copy used to validate a restore.
type stage struct {
	real    *ipvs.Engine
	scratch *ipvs.Engine
	flushed bool                     // the real services no longer count
	touched map[ipvs.ServiceKey]bool // copied into scratch (or known absent)
	daemons [2]*DaemonConfig
}

// touch makes scratch hold the real service k, if there is one and the
// restore has not already decided its fate.
func (s *stage) touch(k ipvs.ServiceKey) error {
	k = normKey(k)
	if s.flushed || s.touched[k] {
		return nil
	}
	s.touched[k] = true
	st, err := s.real.ServiceStatus(k)
	if err != nil {
		return nil
	}
	if err := copyService(s.scratch, st); err != nil {
		return fmt.Errorf("restore: copying %s for validation: %w", k, err)
	}
	return nil
}

// services is the staged view of every service (order does not matter here).
func (s *stage) services() []ipvs.ServiceStatus {
	out := s.scratch.Services()
	if s.flushed {
		return out
	}
	for _, st := range s.real.Services() {
		if !s.touched[normKey(st.ServiceKey)] {
			out = append(out, st)
		}
	}
	return out
}

func (b *LocalBackend) validate(ops []RestoreOp) error {
	scratch, err := ipvs.New(ipvs.Config{MaxConns: 1024, HashSeed: 1})
	if err != nil {
		return err
	}
	scratch.SetAllTimeouts(b.Engine.Timeouts())
	s := &stage{real: b.Engine, scratch: scratch, touched: map[ipvs.ServiceKey]bool{}, daemons: b.daemons}
	for i, op := range ops {
		if err := s.step(op, b.iface); err != nil {
			return &RestoreError{Index: i, Err: err}
		}
	}
	return nil
}

func (s *stage) step(op RestoreOp, iface func(string) (int, bool)) error {
	key := op.Service.ServiceKey
	switch op.Kind {
	case OpFlush:
		s.flushed = true
		return s.scratch.Flush()
	case OpSetTimeouts:
		return s.scratch.SetTimeouts(op.Timeouts.TCP, op.Timeouts.TCPFin, op.Timeouts.UDP)
	case OpStartDaemon:
		return startDaemon(s.services, &s.daemons, iface, op.Daemon)
	case OpStopDaemon:
		return stopDaemon(&s.daemons, op.Daemon.State)
	case OpZero:
		if op.All {
			return nil
		}
	}
	if err := s.touch(key); err != nil {
		return err
	}
	switch op.Kind {
	case OpAddService:
		return s.scratch.AddService(op.Service)
	case OpEditService:
		return s.scratch.EditService(op.Service)
	case OpDelService:
		return s.scratch.DelService(key)
	case OpAddDest:
		if err := mixedFamilyCheck(s.scratch, &s.daemons, key, op.Dest); err != nil {
			return err
		}
		return s.scratch.AddDest(key, op.Dest)
	case OpEditDest:
		if err := mixedFamilyCheck(s.scratch, &s.daemons, key, op.Dest); err != nil {
			return err
		}
		return s.scratch.EditDest(key, op.Dest)
	case OpDelDest:
		return s.scratch.DelDest(key, op.Dest.Addr, op.Dest.Port)
	case OpZero:
		return s.scratch.Zero(&key)
	case OpSnapshot:
		if op.All {
			return nil
		}
		_, err := s.scratch.Service(key)
		return err
	}
	return fmt.Errorf("restore: unknown operation %q", op.Kind)
}

func findDestConfig(st ipvs.ServiceStatus, d ipvs.DestConfig) (ipvs.DestConfig, bool) {
	a := d.Addr.Unmap()
	for _, x := range st.Dests {
		if x.Addr.Unmap() == a && x.Port == d.Port {
			return x.DestConfig, true
		}
	}
	return ipvs.DestConfig{}, false
}

func (b *LocalBackend) apply(ops []RestoreOp) ([]Snapshot, error) {
	e := b.Engine
	savedDaemons := b.daemons
	var undo []func()
	var snaps []Snapshot
	rollback := func(i int, err error) ([]Snapshot, error) {
		for j := len(undo) - 1; j >= 0; j-- {
			undo[j]()
		}
		b.daemons = savedDaemons
		return nil, &RestoreError{Index: i, Err: err}
	}
	for i, op := range ops {
		key := op.Service.ServiceKey
		var err error
		switch op.Kind {
		case OpAddService:
			if err = e.AddService(op.Service); err == nil {
				undo = append(undo, func() { _ = e.DelService(key) })
			}
		case OpEditService:
			old, gerr := e.ServiceStatus(key)
			if err = e.EditService(op.Service); err == nil && gerr == nil {
				undo = append(undo, func() { _ = e.EditService(old.ServiceConfig) })
			}
		case OpDelService:
			old, gerr := e.ServiceStatus(key)
			if err = e.DelService(key); err == nil && gerr == nil {
				undo = append(undo, func() { _ = copyService(e, old) })
			}
		case OpFlush:
			old := e.Services()
			if err = e.Flush(); err == nil {
				undo = append(undo, func() {
					for _, st := range old {
						_ = copyService(e, st)
					}
				})
			}
		case OpAddDest:
			if err = mixedFamilyCheck(e, &b.daemons, key, op.Dest); err == nil {
				if err = e.AddDest(key, op.Dest); err == nil {
					d := op.Dest
					undo = append(undo, func() { _ = e.DelDest(key, d.Addr, d.Port) })
				}
			}
		case OpEditDest:
			st, _ := e.ServiceStatus(key)
			old, found := findDestConfig(st, op.Dest)
			if err = mixedFamilyCheck(e, &b.daemons, key, op.Dest); err == nil {
				if err = e.EditDest(key, op.Dest); err == nil && found {
					undo = append(undo, func() { _ = e.EditDest(key, old) })
				}
			}
		case OpDelDest:
			st, _ := e.ServiceStatus(key)
			old, found := findDestConfig(st, op.Dest)
			if err = e.DelDest(key, op.Dest.Addr, op.Dest.Port); err == nil && found {
				undo = append(undo, func() { _ = e.AddDest(key, old) })
			}
		case OpZero:
			if op.All {
				err = e.Zero(nil)
			} else {
				err = e.Zero(&key)
			}
		case OpSetTimeouts:
			old := e.Timeouts()
			if err = e.SetTimeouts(op.Timeouts.TCP, op.Timeouts.TCPFin, op.Timeouts.UDP); err == nil {
				undo = append(undo, func() { e.SetAllTimeouts(old) })
			}
		case OpStartDaemon:
			err = startDaemon(e.Services, &b.daemons, b.iface, op.Daemon)
		case OpStopDaemon:
			err = stopDaemon(&b.daemons, op.Daemon.State)
		case OpSnapshot:
			snap := Snapshot{Timeouts: timeoutsOf(e.Timeouts()), Daemons: daemonList(&b.daemons)}
			if op.All {
				snap.Services = e.Services()
			} else {
				var st ipvs.ServiceStatus
				if st, err = e.ServiceStatus(key); err == nil {
					snap.Services = []ipvs.ServiceStatus{st}
				}
			}
			if err == nil {
				snaps = append(snaps, snap)
			}
		default:
			err = fmt.Errorf("restore: unknown operation %q", op.Kind)
		}
		if err != nil {
			return rollback(i, err)
		}
	}
	return snaps, nil
}
