package ipvsadm

import (
	"context"
	"io"
	"strings"

	"github.com/govs/gvs/ipvs"
)

// CLI runs ipvsadm command lines against a Backend.
type CLI struct {
	Backend  Backend
	Resolver Resolver // nil: NewSystemResolver()
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
}

// Run executes one command line (argv[0] is the program name, which
// ipvsadm's messages repeat) and returns the exit status ipvsadm 1.31 would.
func (c *CLI) Run(ctx context.Context, argv []string) int {
	if c.Resolver == nil {
		c.Resolver = NewSystemResolver()
	}
	if len(argv) == 0 {
		argv = []string{"ipvsadm"}
	}
	var out strings.Builder
	code := c.run(ctx, argv, &out)
	io.WriteString(c.Stdout, out.String())
	return code
}

func (c *CLI) run(ctx context.Context, argv []string, out *strings.Builder) int {
	if len(argv) == 1 {
		l := &lister{r: c.Resolver}
		return c.report(out, c.listAll(ctx, l, out))
	}
	ce, err := ParseArgs(argv, c.Resolver)
	if err != nil {
		return c.report(out, err)
	}
	switch ce.cmd {
	case cmdHelp:
		writeUsage(out, ce.prog)
		return 0
	case cmdVersion:
		out.WriteString(Version + "\n")
		return 0
	case cmdRestore:
		return c.restore(ctx, ce.prog, out)
	}
	return c.report(out, c.execute(ctx, ce, out))
}

// report prints a failure's message and returns its exit status.
func (c *CLI) report(_ *strings.Builder, err error) int {
	if err == nil {
		return 0
	}
	ee, ok := err.(*ExitError)
	if !ok {
		ee = &ExitError{Code: 2, Stderr: err.Error() + "\n"}
	}
	io.WriteString(c.Stderr, ee.Stderr)
	return ee.Code
}

// ---- conversions from ipvsadm's structures to the engine's ----

func family(af int) ipvs.Family {
	if af == afInet6 {
		return ipvs.IPv6
	}
	return ipvs.IPv4
}

func (s *svcSpec) key() ipvs.ServiceKey {
	if s.fwmark != 0 {
		return ipvs.ServiceKey{Family: family(s.af), FWMark: s.fwmark}
	}
	return ipvs.ServiceKey{Family: family(s.af), Protocol: ipvs.Protocol(s.protocol), Addr: s.addr.netip(s.af), Port: s.port}
}

func (s *svcSpec) config() ipvs.ServiceConfig {
	return ipvs.ServiceConfig{
		ServiceKey: s.key(),
		Scheduler:  s.sched,
		Flags:      ipvs.ServiceFlags(s.flags),
		Timeout:    s.timeout,
		Netmask:    s.netmask,
		PE:         s.pe,
	}
}

func (d *destSpec) config() ipvs.DestConfig {
	return ipvs.DestConfig{
		Addr:       d.addr.netip(d.af),
		Port:       d.port,
		Weight:     int32(d.weight),
		UThreshold: uint32(d.uThreshold),
		LThreshold: uint32(d.lThreshold),
		Forwarding: ipvs.Forwarding{
			Method:      ipvs.ForwardMethod(d.connFlags),
			TunnelType:  ipvs.TunnelType(d.tunType),
			TunnelPort:  d.tunPort,
			TunnelFlags: ipvs.TunnelFlags(d.tunFlags),
		},
	}
}

func (d *daemonSpec) config() DaemonConfig {
	c := DaemonConfig{
		State:     DaemonState(d.state),
		Interface: d.ifn,
		SyncID:    uint8(d.syncID),
		MaxLen:    uint16(d.maxLen),
		Port:      uint16(d.port),
		TTL:       uint8(d.ttl),
	}
	if d.mcastAF != afUnspec {
		c.Group = d.group
	}
	return c
}

// op is the restore step a changing command stands for.
func (ce *Command) op() (RestoreOp, bool) {
	o := RestoreOp{Service: ce.svc.config()}
	switch ce.cmd {
	case cmdAdd:
		o.Kind = OpAddService
	case cmdEdit:
		o.Kind = OpEditService
	case cmdDel:
		o.Kind = OpDelService
	case cmdFlush:
		o.Kind = OpFlush
	case cmdAddDest:
		o.Kind, o.Dest = OpAddDest, ce.dest.config()
	case cmdEditDest:
		o.Kind, o.Dest = OpEditDest, ce.dest.config()
	case cmdDelDest:
		o.Kind, o.Dest = OpDelDest, ce.dest.config()
	case cmdZero:
		o.Kind, o.All = OpZero, ce.options&bit(optService) == 0
	case cmdTimeout:
		o.Kind, o.Timeouts = OpSetTimeouts, ce.tout
	case cmdStartDaemon:
		o.Kind, o.Daemon = OpStartDaemon, ce.daemon.config()
	case cmdStopDaemon:
		o.Kind, o.Daemon = OpStopDaemon, DaemonConfig{State: DaemonState(ce.daemon.state)}
	default:
		return o, false
	}
	return o, true
}

// execute runs a parsed command (the switch at the end of ipvsadm's
// process_options).
func (c *CLI) execute(ctx context.Context, ce *Command, out *strings.Builder) error {
	b := c.Backend
	l := &lister{r: c.Resolver, format: ce.format}
	switch ce.cmd {
	case cmdList:
		switch {
		case ce.options&bit(optHealth) != 0:
			return c.listHealth(ctx, ce, out)
		case ce.format&fmtJSON != 0:
			return c.listJSON(ctx, ce, out)
		case ce.options&bit(optConnection) != 0:
			conns, err := b.Conns(ctx)
			if err != nil {
				return kernelError(fnNone, err, 1)
			}
			l.listConns(out, conns)
		case ce.options&bit(optService) != 0:
			st, err := b.Service(ctx, ce.svc.key())
			if err != nil {
				return kernelError(fnGetService, err, 1)
			}
			l.listService(out, &st)
		case ce.options&bit(optTimeout) != 0:
			t, err := b.Timeouts(ctx)
			if err != nil {
				return kernelError(fnGetTimeout, err, 1)
			}
			listTimeout(out, t)
		case ce.options&bit(optDaemon) != 0:
			ds, err := b.Daemons(ctx)
			if err != nil {
				return kernelError(fnGetDaemon, err, 1)
			}
			listDaemons(out, ds)
		default:
			return c.listAll(ctx, l, out)
		}
		return nil
	case cmdSave:
		l.format |= fmtRule
		return c.listAll(ctx, l, out)
	}
	var err error
	switch ce.cmd {
	case cmdFlush:
		err = b.Flush(ctx)
	case cmdAdd:
		err = b.AddService(ctx, ce.svc.config())
	case cmdEdit:
		err = b.EditService(ctx, ce.svc.config())
	case cmdDel:
		err = b.DelService(ctx, ce.svc.key())
	case cmdZero:
		if ce.options&bit(optService) != 0 {
			k := ce.svc.key()
			err = b.Zero(ctx, &k)
		} else {
			err = b.Zero(ctx, nil)
		}
	case cmdAddDest:
		err = b.AddDest(ctx, ce.svc.key(), ce.dest.config())
	case cmdEditDest:
		err = b.EditDest(ctx, ce.svc.key(), ce.dest.config())
	case cmdDelDest:
		d := ce.dest.config()
		err = b.DelDest(ctx, ce.svc.key(), DestKey{Addr: d.Addr, Port: d.Port})
	case cmdTimeout:
		err = b.SetTimeouts(ctx, ce.tout)
	case cmdStartDaemon:
		err = b.StartDaemon(ctx, ce.daemon.config())
	case cmdStopDaemon:
		err = b.StopDaemon(ctx, DaemonState(ce.daemon.state))
	}
	if err != nil {
		return kernelError(commandFunc(ce.cmd), err, 255)
	}
	return nil
}

// listAll prints the header (not for -S) and every service.
func (c *CLI) listAll(ctx context.Context, l *lister, out *strings.Builder) error {
	if l.format&fmtRule == 0 {
		info, err := c.Backend.Info(ctx)
		if err != nil {
			return kernelError(fnNone, err, 2)
		}
		out.WriteString(header(info))
	}
	sts, err := c.Backend.Services(ctx)
	if err != nil {
		return kernelError(fnGetServices, err, 1)
	}
	l.listAll(out, sts)
	return nil
}
