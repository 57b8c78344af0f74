package health

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

// Health is a destination's health as listings show it.
type Health string

const (
	Unknown Health = "unknown" // no check has concluded yet
	Up      Health = "up"      // the server answered as it should
	Down    Health = "down"    // the server failed its check
	Error   Health = "error"   // the checker itself failed: says nothing about the server
)

// Result is the verdict of one check attempt.
type Result struct {
	Health Health // Up, Down or Error
	Err    error  // why Down or Error
	// Weight, when HasWeight, is the weight the server asks for (exec with
	// dynamic, agent): absolute, already scaled against the configured one.
	Weight    int32
	HasWeight bool
}

func up() Result { return Result{Health: Up} }

func down(err error) Result { return Result{Health: Down, Err: err} }

func downf(format string, a ...any) Result { return down(fmt.Errorf(format, a...)) }

func internal(err error) Result { return Result{Health: Error, Err: err} }

// Endpoint is what one check looks at, fully resolved from the
// configuration: where to connect, from where, and about which server.
type Endpoint struct {
	Addr      netip.Addr // address to check (the real server's, check.address, or the VIP with via_vip)
	Port      uint16     // port to check (check.port, else the real server's)
	Source    netip.Addr // bind to this source address (IP_FREEBIND, so it need not be up yet)
	Interface string     // bind to this interface (SO_BINDTODEVICE)
	Mark      uint32     // socket mark (SO_MARK) steering via_vip checks
	// About the destination, for exec's environment and agent percentages.
	Service    ipvs.ServiceKey
	ServerAddr netip.Addr
	ServerPort uint16
	Weight     int32 // configured weight
}

// AddrPort is the address and port the check connects to.
func (e Endpoint) AddrPort() netip.AddrPort { return netip.AddrPortFrom(e.Addr, e.Port) }

// Checker performs one check attempt. It must return once ctx is done (the
// Manager gives every attempt a context with the check's timeout) and may
// be called concurrently for different endpoints.
type Checker interface {
	Check(ctx context.Context, e Endpoint) Result
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context, e Endpoint) Result

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, e Endpoint) Result { return f(ctx, e) }

// Defaults applied to unset check settings.
const (
	DefaultInterval   = 5 * time.Second
	DefaultTimeout    = 3 * time.Second
	DefaultRetryDelay = time.Second
)

// Types lists the check types NewChecker knows.
var Types = []string{"tcp", "http", "https", "smtp", "dns", "udp", "icmp", "rpc", "exec", "agent"}

// NewChecker builds the checker a configuration block describes, checking
// its settings.
func NewChecker(c *config.Check) (Checker, error) {
	if c == nil {
		return nil, errors.New("no check")
	}
	switch strings.ToLower(c.Type) {
	case "tcp":
		return TCPChecker{}, nil
	case "http", "https":
		return newHTTPChecker(c)
	case "smtp":
		return newSMTPChecker(c)
	case "dns":
		return newDNSChecker(c)
	case "udp":
		return newUDPChecker(c)
	case "icmp", "ping":
		return ICMPChecker{}, nil
	case "rpc":
		return newRPCChecker(c)
	case "exec":
		return newExecChecker(c)
	case "agent":
		return newAgentChecker(c)
	case "":
		return nil, errors.New("check needs a type (" + strings.Join(Types, ", ") + ")")
	}
	return nil, fmt.Errorf("unknown check type %q (want %s)", c.Type, strings.Join(Types, ", "))
}

// needsPort reports whether the check type connects to a port.
func needsPort(typ string) bool {
	switch strings.ToLower(typ) {
	case "icmp", "ping", "exec", "agent", "rpc":
		return false
	}
	return true
}

// Validate checks every health check of the services the way Update would,
// without starting anything, so the daemon can reject a configuration whole.
func Validate(services []config.Service) error {
	_, err := plan(services, nil)
	return err
}

// errLocal marks failures of the director's own side (socket options,
// binding the source): they make a check an Error, never a Down.
type errLocal struct{ err error }

func (e *errLocal) Error() string { return e.err.Error() }
func (e *errLocal) Unwrap() error { return e.err }

func localErr(err error) error {
	if err == nil {
		return nil
	}
	return &errLocal{err}
}

// isLocal reports whether err is a failure on the director's side.
func isLocal(err error) bool {
	var l *errLocal
	return errors.As(err, &l)
}

// netResult turns a network error into Down, or into Error when the fault
// is the director's own (binding, socket options).
func netResult(err error) Result {
	if isLocal(err) {
		return internal(err)
	}
	return down(err)
}

func fmtAddrPort(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a.Unmap(), port).String()
}

// serviceName names a service as ipvsadm does ("TCP 10.0.0.1:80", "FWM 3").
func serviceName(k ipvs.ServiceKey) string {
	if !k.IsFWMark() && !k.Addr.IsValid() {
		return ""
	}
	return k.String()
}
