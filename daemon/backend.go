package daemon

import (
	"context"

	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/ipvsadm"
)

// syncedBackend is the engine's ipvsadm.Backend with the daemon's rules on
// top: changes are serialized with reloads, and each successful change is
// pushed to the data path.
type syncedBackend struct {
	*ipvsadm.LocalBackend
	d *Daemon
}

func (b syncedBackend) change(fn func() error) error {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	if err := fn(); err != nil {
		return err
	}
	b.d.syncDataplane()
	return nil
}

func (b syncedBackend) AddService(ctx context.Context, s ipvs.ServiceConfig) error {
	return b.change(func() error { return b.LocalBackend.AddService(ctx, s) })
}

func (b syncedBackend) EditService(ctx context.Context, s ipvs.ServiceConfig) error {
	return b.change(func() error { return b.LocalBackend.EditService(ctx, s) })
}

func (b syncedBackend) DelService(ctx context.Context, k ipvs.ServiceKey) error {
	return b.change(func() error { return b.LocalBackend.DelService(ctx, k) })
}

func (b syncedBackend) Flush(ctx context.Context) error {
	return b.change(func() error { return b.LocalBackend.Flush(ctx) })
}

func (b syncedBackend) AddDest(ctx context.Context, k ipvs.ServiceKey, dc ipvs.DestConfig) error {
	return b.change(func() error { return b.LocalBackend.AddDest(ctx, k, dc) })
}

func (b syncedBackend) EditDest(ctx context.Context, k ipvs.ServiceKey, dc ipvs.DestConfig) error {
	return b.change(func() error { return b.LocalBackend.EditDest(ctx, k, dc) })
}

func (b syncedBackend) DelDest(ctx context.Context, k ipvs.ServiceKey, dk ipvsadm.DestKey) error {
	return b.change(func() error { return b.LocalBackend.DelDest(ctx, k, dk) })
}

func (b syncedBackend) Restore(ctx context.Context, ops []ipvsadm.RestoreOp) ([]ipvsadm.Snapshot, error) {
	var snaps []ipvsadm.Snapshot
	err := b.change(func() error {
		var err error
		snaps, err = b.LocalBackend.Restore(ctx, ops)
		return err
	})
	return snaps, err
}
