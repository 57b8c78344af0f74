package api

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"

	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/ipvsadm"
)

// Error is the body of every failed request.
type Error struct {
	// Code is stable and machine-readable: an engine code ("exists",
	// "no_such_service", "not_found", "invalid", "out_of_range",
	// "no_memory", ...) or an API code ("bad_request", "unauthorized",
	// "internal").
	Code    string `json:"code"`
	Errno   int    `json:"errno,omitempty"`  // the kernel errno, for ipvsadm's messages
	Op      string `json:"op,omitempty"`     // the engine operation
	Message string `json:"message"`          // for humans
	Detail  string `json:"detail,omitempty"` // the engine's own wording, without the operation
	Step    int    `json:"step,omitempty"`   // restore: 1-based index of the failing step
}

func (e *Error) Error() string { return e.Message }

var codeStatus = map[ipvs.Code]int{
	ipvs.ErrExist: http.StatusConflict, ipvs.ErrNoService: http.StatusNotFound, ipvs.ErrNotFound: http.StatusNotFound,
	ipvs.ErrInvalid: http.StatusBadRequest, ipvs.ErrRange: http.StatusBadRequest, ipvs.ErrNoMemory: http.StatusInsufficientStorage,
	ipvs.ErrAFNoSupport: http.StatusBadRequest, ipvs.ErrProtocol: http.StatusBadRequest,
}

var opNames = map[ipvs.Op]string{}

func init() {
	for op := ipvs.OpAddService; op <= ipvs.OpStopDaemon; op++ {
		opNames[op] = op.String()
	}
}

// errorBody converts an error to its wire form and HTTP status.
func errorBody(err error) (int, *Error) {
	var re *ipvsadm.RestoreError
	step := 0
	if errors.As(err, &re) {
		step = re.Index + 1
		err = re.Err
	}
	var ee *ipvs.Error
	if errors.As(err, &ee) {
		st, ok := codeStatus[ee.Code]
		if !ok {
			st = http.StatusBadRequest
		}
		return st, &Error{Code: ee.Code.String(), Errno: ee.Code.Errno(), Op: ee.Op.String(), Message: ee.Error(), Detail: ee.Msg, Step: step}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		// e.g. ENODEV for a sync daemon's missing interface: gvsadm words it
		// from the errno, so it travels as one
		return http.StatusBadRequest, &Error{Code: "system", Errno: int(errno), Message: err.Error(), Step: step}
	}
	var ae *Error
	if errors.As(err, &ae) {
		st := http.StatusBadRequest
		if ae.Code == "internal" {
			st = http.StatusInternalServerError
		}
		return st, ae
	}
	return http.StatusInternalServerError, &Error{Code: "internal", Message: err.Error(), Step: step}
}

// engineError rebuilds the engine's typed error on the client side.
func (e *Error) engineError() error {
	var code ipvs.Code
	for c := ipvs.ErrExist; c <= ipvs.ErrProtocol; c++ {
		if c.String() == e.Code {
			code = c
		}
	}
	var err error = e
	if e.Code == "system" && e.Errno != 0 {
		err = fmt.Errorf("%s: %w", e.Message, syscall.Errno(e.Errno))
	}
	if code != 0 {
		var op ipvs.Op
		for o, name := range opNames {
			if name == e.Op {
				op = o
			}
		}
		err = &ipvs.Error{Op: op, Code: code, Msg: e.Detail}
	}
	if e.Step > 0 {
		err = &ipvsadm.RestoreError{Index: e.Step - 1, Err: err}
	}
	return err
}

func badRequest(msg string) *Error { return &Error{Code: "bad_request", Message: msg} }
