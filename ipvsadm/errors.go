package ipvsadm

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/govs/gvs/ipvs"
)

// libipvs words kernel errors by the function that failed and the errno
// (ipvs_strerror). These are the functions.
type libFunc int

const (
	fnNone libFunc = iota
	fnAddService
	fnUpdateService
	fnDelService
	fnZeroService
	fnAddDest
	fnUpdateDest
	fnDelDest
	fnStartDaemon
	fnStopDaemon
	fnGetServices
	fnGetDests
	fnGetService
	fnSetTimeout
	fnFlush
	fnGetTimeout
	fnGetDaemon
)

// Linux errno values ipvsadm's messages depend on.
const (
	ePERM        = 1
	eNOENT       = 2
	eSRCH        = 3
	eNOMEM       = 12
	eEXIST       = 17
	eNODEV       = 19
	eINVAL       = 22
	eRANGE       = 34
	eMSGSIZE     = 90
	eNOPROTOOPT  = 92
	eOPNOTSUPP   = 95
	eAFNOSUPPORT = 97
)

var specificMessages = []struct {
	fn    libFunc
	errno int
	msg   string
}{
	{fnAddService, eEXIST, "Service already exists"},
	{fnAddService, eNOENT, "Scheduler or persistence engine not found"},
	{fnUpdateService, eSRCH, "No such service"},
	{fnUpdateService, eNOENT, "Scheduler or persistence engine not found"},
	{fnDelService, eSRCH, "No such service"},
	{fnZeroService, eSRCH, "No such service"},
	{fnAddDest, eSRCH, "Service not defined"},
	{fnAddDest, eEXIST, "Destination already exists"},
	{fnUpdateDest, eSRCH, "Service not defined"},
	{fnUpdateDest, eNOENT, "No such destination"},
	{fnDelDest, eSRCH, "Service not defined"},
	{fnDelDest, eNOENT, "No such destination"},
	{fnStartDaemon, eEXIST, "Daemon has already run"},
	{fnStopDaemon, eSRCH, "No daemon is running"},
	{fnGetServices, eSRCH, "No such service"},
	{fnGetDests, eSRCH, "No such service"},
	{fnGetService, eSRCH, "No such service"},
	{fnNone, ePERM, "Permission denied (you must be root)"},
	{fnNone, eINVAL, "Invalid operation.  Possibly wrong module version, address not unicast, ..."},
	{fnNone, eNOPROTOOPT, "Protocol not available"},
	{fnNone, eNOMEM, "Memory allocation problem"},
	{fnNone, eOPNOTSUPP, "Operation not supported with IPv6"},
	{fnNone, eAFNOSUPPORT, "Operation not supported with specified address family"},
	{fnNone, eMSGSIZE, "Module is wrong version"},
}

// strerror texts of the C library for the errno values a backend may return.
var strerrorText = map[int]string{
	1: "Operation not permitted", 2: "No such file or directory", 3: "No such process",
	4: "Interrupted system call", 5: "Input/output error", 11: "Resource temporarily unavailable",
	12: "Cannot allocate memory", 13: "Permission denied", 16: "Device or resource busy",
	17: "File exists", 19: "No such device", 22: "Invalid argument", 28: "No space left on device",
	34: "Numerical result out of range", 90: "Message too long", 92: "Protocol not available",
	93: "Protocol not supported", 95: "Operation not supported",
	97: "Address family not supported by protocol", 110: "Connection timed out", 111: "Connection refused",
}

// ipvsStrerror is libipvs's ipvs_strerror for the function that failed.
func ipvsStrerror(fn libFunc, errno int) string {
	for _, m := range specificMessages {
		if (m.fn == fnNone || m.fn == fn) && m.errno == errno {
			return m.msg
		}
	}
	if s, ok := strerrorText[errno]; ok {
		return s
	}
	return fmt.Sprintf("Unknown error %d", errno)
}

// errnoOf extracts the kernel errno a backend error stands for.
func errnoOf(err error) (int, bool) {
	var ie *ipvs.Error
	if errors.As(err, &ie) {
		if n := ie.Code.Errno(); n != 0 {
			return n, true
		}
		return eINVAL, true
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return int(en), true
	}
	return 0, false
}

// kernelError turns a backend error into ipvsadm's message and exit status:
// kernel errors are worded by libipvs and exit with status (255 for
// commands, 1 for listings); other failures (the API unreachable...) print
// themselves and exit 2, as ipvsadm does when it cannot reach IPVS at all.
func kernelError(fn libFunc, err error, status int) *ExitError {
	if n, ok := errnoOf(err); ok {
		return &ExitError{Code: status, Stderr: ipvsStrerror(fn, n) + "\n"}
	}
	return &ExitError{Code: 2, Stderr: err.Error() + "\n"}
}

// commandFunc is the libipvs function each command calls.
func commandFunc(cmd int) libFunc {
	switch cmd {
	case cmdAdd:
		return fnAddService
	case cmdEdit:
		return fnUpdateService
	case cmdDel:
		return fnDelService
	case cmdZero:
		return fnZeroService
	case cmdAddDest:
		return fnAddDest
	case cmdEditDest:
		return fnUpdateDest
	case cmdDelDest:
		return fnDelDest
	case cmdStartDaemon:
		return fnStartDaemon
	case cmdStopDaemon:
		return fnStopDaemon
	case cmdTimeout:
		return fnSetTimeout
	case cmdFlush:
		return fnFlush
	}
	return fnNone
}

// ExitError is how a command ends when it fails: what ipvsadm would print
// on stderr (and, for restore, on stdout before it) and its exit status.
type ExitError struct {
	Code   int
	Stderr string
}

func (e *ExitError) Error() string { return strings.TrimRight(e.Stderr, "\n") }

// fail is ipvsadm's fail(): the message, a newline, exit status.
func fail(code int, format string, args ...any) *ExitError {
	return &ExitError{Code: code, Stderr: fmt.Sprintf(format, args...) + "\n"}
}

// tryHelp is ipvsadm's tryhelp_exit(-1).
func tryHelp(prog string) *ExitError {
	return &ExitError{Code: 255, Stderr: fmt.Sprintf("Try `%s -h' or '%s --help' for more information.\n", prog, prog)}
}
