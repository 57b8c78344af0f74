package health

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/govs/gvs/config"
)

// RPCChecker makes a Sun RPC (RFC 5531) NULL call (procedure 0, AUTH_NULL)
// to Program/Version, as `rpcinfo -u|-t host prog vers` does: over UDP, or
// over TCP with record marking (one last fragment). The port is the check's
// port, else the real server's; when that is 0 (a fwmark service) the
// server's portmapper (port 111, PMAPPROC_GETPORT over the same transport)
// is asked first, as rpcinfo does. Up when the call is accepted with
// SUCCESS; PROG_UNAVAIL, PROG_MISMATCH (with the versions the server
// offers), PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR and denied calls are
// down. This is the LVS-HOWTO's advice for NFS, where a connect alone
// proves little and a file listing can hang.
type RPCChecker struct {
	Program uint32
	Version uint32
	TCP     bool
}

// Sun RPC constants.
const (
	rpcCall         = 0
	rpcReply        = 1
	rpcPortmapProg  = 100000
	rpcPortmapVers  = 2
	rpcPortmapPort  = 111
	pmapGetPort     = 3
	rpcMaxRecord    = 1 << 16
	rpcAcceptedOK   = 0
	rpcProgUnavail  = 1
	rpcProgMismatch = 2
)

func newRPCChecker(c *config.Check) (Checker, error) {
	if c.RPC == nil || c.RPC.Program == 0 {
		return nil, errors.New("an rpc check needs rpc.program (and rpc.version)")
	}
	r := &RPCChecker{Program: c.RPC.Program, Version: c.RPC.Version}
	switch strings.ToLower(c.RPC.Protocol) {
	case "", "udp":
	case "tcp":
		r.TCP = true
	default:
		return nil, fmt.Errorf("rpc.protocol %q must be udp or tcp", c.RPC.Protocol)
	}
	return r, nil
}

// Check implements Checker.
func (r *RPCChecker) Check(ctx context.Context, e Endpoint) Result {
	port := e.Port
	if port == 0 {
		proto := uint32(17)
		if r.TCP {
			proto = 6
		}
		args := make([]byte, 16)
		binary.BigEndian.PutUint32(args[0:], r.Program)
		binary.BigEndian.PutUint32(args[4:], r.Version)
		binary.BigEndian.PutUint32(args[8:], proto)
		res, err := r.call(ctx, e, rpcPortmapPort, rpcPortmapProg, rpcPortmapVers, pmapGetPort, args)
		if err != nil {
			return netResult(fmt.Errorf("portmapper: %w", err))
		}
		if len(res) < 4 || binary.BigEndian.Uint32(res) == 0 || binary.BigEndian.Uint32(res) > 65535 {
			return downf("program %d version %d is not registered with the portmapper", r.Program, r.Version)
		}
		port = uint16(binary.BigEndian.Uint32(res))
	}
	if _, err := r.call(ctx, e, port, r.Program, r.Version, 0, nil); err != nil {
		return netResult(err)
	}
	return up()
}

// RPCError is a call the server answered but did not accept.
type RPCError struct{ Msg string }

func (e *RPCError) Error() string { return e.Msg }

// call makes one call and returns the results of an accepted, successful one.
func (r *RPCChecker) call(ctx context.Context, e Endpoint, port uint16, prog, vers, proc uint32, args []byte) ([]byte, error) {
	var xb [4]byte
	_, _ = rand.Read(xb[:])
	xid := binary.BigEndian.Uint32(xb[:])
	msg := BuildRPCCall(xid, prog, vers, proc, args)
	network := "udp"
	if r.TCP {
		network = "tcp"
	}
	c, err := dial(ctx, e, network, port)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	defer closeOnDone(ctx, c)()
	if r.TCP {
		rec := binary.BigEndian.AppendUint32(nil, 0x80000000|uint32(len(msg)))
		if _, err := c.Write(append(rec, msg...)); err != nil {
			return nil, err
		}
		reply, err := readRecord(c)
		if err != nil {
			return nil, err
		}
		return ParseRPCReply(reply, xid)
	}
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		res, err := ParseRPCReply(buf[:n], xid)
		if errors.Is(err, errNotOurs) {
			continue
		}
		return res, err
	}
}

// readRecord reads one record-marked message (all its fragments).
func readRecord(c net.Conn) ([]byte, error) {
	var out []byte
	for {
		var h [4]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return nil, eofAsClosed(err)
		}
		mark := binary.BigEndian.Uint32(h[:])
		n := int(mark & 0x7fffffff)
		if len(out)+n > rpcMaxRecord {
			return nil, errors.New("RPC reply over 64 KiB")
		}
		frag := make([]byte, n)
		if _, err := io.ReadFull(c, frag); err != nil {
			return nil, eofAsClosed(err)
		}
		out = append(out, frag...)
		if mark&0x80000000 != 0 {
			return out, nil
		}
	}
}

// BuildRPCCall encodes a call message with AUTH_NULL credentials and verifier.
func BuildRPCCall(xid, prog, vers, proc uint32, args []byte) []byte {
	b := make([]byte, 0, 40+len(args))
	for _, v := range []uint32{xid, rpcCall, 2, prog, vers, proc, 0, 0, 0, 0} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return append(b, args...)
}

var errNotOurs = errors.New("not a reply to our call")

// ParseRPCReply checks a reply to call xid and returns its results.
func ParseRPCReply(b []byte, xid uint32) ([]byte, error) {
	u := func(i int) uint32 { return binary.BigEndian.Uint32(b[i:]) }
	if len(b) < 12 || u(0) != xid || u(4) != rpcReply {
		return nil, errNotOurs
	}
	switch u(8) {
	case 0: // MSG_ACCEPTED: verifier, then accept_stat
		if len(b) < 20 {
			return nil, errors.New("short RPC reply")
		}
		vlen := int(u(16))
		off := 20 + (vlen+3)&^3
		if vlen > 400 || len(b) < off+4 {
			return nil, errors.New("malformed RPC reply verifier")
		}
		switch stat := u(off); stat {
		case rpcAcceptedOK:
			return b[off+4:], nil
		case rpcProgUnavail:
			return nil, &RPCError{"program unavailable (PROG_UNAVAIL)"}
		case rpcProgMismatch:
			if len(b) >= off+12 {
				return nil, &RPCError{fmt.Sprintf("program version mismatch (PROG_MISMATCH: server offers versions %d..%d)", u(off+4), u(off+8))}
			}
			return nil, &RPCError{"program version mismatch (PROG_MISMATCH)"}
		case 3:
			return nil, &RPCError{"procedure unavailable (PROC_UNAVAIL)"}
		case 4:
			return nil, &RPCError{"garbage arguments (GARBAGE_ARGS)"}
		case 5:
			return nil, &RPCError{"system error (SYSTEM_ERR)"}
		default:
			return nil, &RPCError{fmt.Sprintf("call not accepted (accept_stat %d)", stat)}
		}
	case 1: // MSG_DENIED
		if len(b) >= 16 && u(12) == 0 {
			return nil, &RPCError{"call denied: RPC version mismatch"}
		}
		return nil, &RPCError{"call denied: authentication error"}
	}
	return nil, errors.New("malformed RPC reply")
}
