package ipvsadm

import (
	"context"

	"github.com/govs/gvs/ipvs"
)

// UnavailableBackend is a Backend whose every request fails with err; gvsadm
// uses it when it cannot reach gvsd, so that -h and -v still work and every
// other command reports why it cannot.
func UnavailableBackend(err error) Backend { return unavailable{err} }

type unavailable struct{ err error }

func (u unavailable) Info(context.Context) (Info, error)                   { return Info{}, u.err }
func (u unavailable) AddService(context.Context, ipvs.ServiceConfig) error { return u.err }
func (u unavailable) EditService(context.Context, ipvs.ServiceConfig) error {
	return u.err
}
func (u unavailable) DelService(context.Context, ipvs.ServiceKey) error { return u.err }
func (u unavailable) Flush(context.Context) error                       { return u.err }
func (u unavailable) AddDest(context.Context, ipvs.ServiceKey, ipvs.DestConfig) error {
	return u.err
}
func (u unavailable) EditDest(context.Context, ipvs.ServiceKey, ipvs.DestConfig) error {
	return u.err
}
func (u unavailable) DelDest(context.Context, ipvs.ServiceKey, DestKey) error { return u.err }
func (u unavailable) Zero(context.Context, *ipvs.ServiceKey) error            { return u.err }
func (u unavailable) SetTimeouts(context.Context, Timeouts) error             { return u.err }
func (u unavailable) Timeouts(context.Context) (Timeouts, error)              { return Timeouts{}, u.err }
func (u unavailable) Services(context.Context) ([]ipvs.ServiceStatus, error)  { return nil, u.err }
func (u unavailable) Service(context.Context, ipvs.ServiceKey) (ipvs.ServiceStatus, error) {
	return ipvs.ServiceStatus{}, u.err
}
func (u unavailable) Conns(context.Context) ([]Conn, error)                    { return nil, u.err }
func (u unavailable) StartDaemon(context.Context, DaemonConfig) error          { return u.err }
func (u unavailable) StopDaemon(context.Context, DaemonState) error            { return u.err }
func (u unavailable) Daemons(context.Context) ([]DaemonConfig, error)          { return nil, u.err }
func (u unavailable) Restore(context.Context, []RestoreOp) ([]Snapshot, error) { return nil, u.err }

// SocketFromArgs takes gvsadm's own --socket PATH (or --socket=PATH) out of
// an argument vector; ipvsadm has no such option. It returns def when the
// option is absent.
func SocketFromArgs(args []string, def string) (string, []string) {
	socket := def
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case i > 0 && a == "--socket" && i+1 < len(args):
			socket = args[i+1]
			i++
			continue
		case i > 0 && len(a) > len("--socket=") && a[:len("--socket=")] == "--socket=":
			socket = a[len("--socket="):]
			continue
		}
		out = append(out, a)
	}
	return socket, out
}
