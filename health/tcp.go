package health

import "context"

// TCPChecker connects and closes: up when the three-way handshake
// completes within the timeout, down when it is refused, reset or times out.
type TCPChecker struct{}

// Check implements Checker.
func (TCPChecker) Check(ctx context.Context, e Endpoint) Result {
	c, err := dial(ctx, e, "tcp", 0)
	if err != nil {
		return netResult(err)
	}
	_ = c.Close()
	return up()
}
