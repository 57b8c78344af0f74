package ipvs

import "errors"

import "fmt"

// Op names the engine operation that failed, so front ends can word errors
// the way ipvsadm does (its messages depend on the operation and the errno).
type Op uint8

const (
	OpAddService Op = iota + 1
	OpEditService
	OpDelService
	OpZero
	OpFlush
	OpAddDest
	OpEditDest
	OpDelDest
	OpSetTimeout
	OpGetService
	OpStartDaemon
	OpStopDaemon
)

var opNames = [...]string{
	OpAddService: "add service", OpEditService: "edit service", OpDelService: "delete service",
	OpZero: "zero counters", OpFlush: "flush", OpAddDest: "add destination", OpEditDest: "edit destination",
	OpDelDest: "delete destination", OpSetTimeout: "set timeouts", OpGetService: "get service",
	OpStartDaemon: "start sync daemon", OpStopDaemon: "stop sync daemon",
}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("op%d", uint8(o))
}

// Code classifies a failure with the errno the kernel returns for it.
type Code uint8

const (
	ErrExist       Code = iota + 1 // EEXIST: service or destination already exists
	ErrNoService                   // ESRCH: no such service
	ErrNotFound                    // ENOENT: scheduler, persistence engine or destination not found
	ErrInvalid                     // EINVAL: invalid argument
	ErrRange                       // ERANGE: value out of range
	ErrNoMemory                    // ENOMEM: connection or memory cap reached
	ErrAFNoSupport                 // EAFNOSUPPORT: address family not supported for this operation
	ErrProtocol                    // EPROTONOSUPPORT-like: protocol not supported
)

// Errno returns the Linux errno the kernel would have returned.
func (c Code) Errno() int {
	switch c {
	case ErrExist:
		return 17
	case ErrNoService:
		return 3
	case ErrNotFound:
		return 2
	case ErrInvalid:
		return 22
	case ErrRange:
		return 34
	case ErrNoMemory:
		return 12
	case ErrAFNoSupport:
		return 97
	case ErrProtocol:
		return 93
	}
	return 0
}

// String is a stable machine-readable name used by the API.
func (c Code) String() string {
	switch c {
	case ErrExist:
		return "exists"
	case ErrNoService:
		return "no_such_service"
	case ErrNotFound:
		return "not_found"
	case ErrInvalid:
		return "invalid"
	case ErrRange:
		return "out_of_range"
	case ErrNoMemory:
		return "no_memory"
	case ErrAFNoSupport:
		return "family_not_supported"
	case ErrProtocol:
		return "protocol_not_supported"
	}
	return "unknown"
}

// Error is the engine's typed error.
type Error struct {
	Op   Op
	Code Code
	Msg  string // human detail, e.g. which value was wrong
}

func (e *Error) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("%s: %s", e.Op, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Op, e.Code)
}

func errf(op Op, code Code, format string, args ...any) *Error {
	return &Error{Op: op, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the Code of an engine error, or 0.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
