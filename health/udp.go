package health

import (
	"bytes"
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/govs/gvs/config"
)

// UDPChecker sends one datagram (Send, possibly empty) on a connected UDP
// socket and waits for the timeout:
//
//   - by default a reply is required, and must contain Expect when set;
//   - with NoReply, silence until the timeout is up, and so is any reply
//     (which must still contain Expect when set); an ICMP port unreachable,
//     which the kernel reports on the connected socket as ECONNREFUSED,
//     is down. NoReply checks therefore always take the whole timeout when
//     the server stays silent.
type UDPChecker struct {
	Send    []byte
	Expect  []byte
	NoReply bool
}

func newUDPChecker(c *config.Check) (Checker, error) {
	u := &UDPChecker{}
	if c.UDP != nil {
		u.Send, u.Expect, u.NoReply = []byte(c.UDP.Send), []byte(c.UDP.Expect), c.UDP.NoReply
	}
	return u, nil
}

// Check implements Checker.
func (u *UDPChecker) Check(ctx context.Context, e Endpoint) Result {
	c, err := dial(ctx, e, "udp", 0)
	if err != nil {
		return netResult(err)
	}
	defer c.Close()
	stop := closeOnDone(ctx, c)
	defer stop()
	if _, err := c.Write(u.Send); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return downf("port unreachable")
		}
		return down(err)
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	switch {
	case err == nil:
		if len(u.Expect) > 0 && !bytes.Contains(buf[:n], u.Expect) {
			return downf("reply %q does not contain %q", truncate(string(buf[:n]), 80), u.Expect)
		}
		return up()
	case errors.Is(err, syscall.ECONNREFUSED):
		return downf("port unreachable (ICMP)")
	case errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil:
		if u.NoReply {
			return up()
		}
		return downf("no reply before the timeout")
	}
	return down(err)
}
