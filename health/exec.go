package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/govs/gvs/config"
)

// ExecChecker runs a command, as keepalived's MISC_CHECK does:
//
//   - exit 0: up (with Dynamic, at the configured weight);
//   - exit 1: down;
//   - exit 2..255: with Dynamic (keepalived's misc_dynamic) up with weight
//     code - 2 (0..253), without it down;
//   - killed because the timeout ran out, or by any signal: down;
//   - a command that cannot be started (not found, not executable, unknown
//     user): error.
//
// The command runs in its own process group; when the timeout runs out the
// whole group gets SIGKILL. Arguments may contain placeholders that are
// replaced: {addr} and {port} (the address and port the check is for),
// {server} (addr:port of the real server), {vip}, {vport} and {service}
// (the virtual service), {weight} (the configured weight). The environment
// adds GVS_CHECK_ADDR, GVS_CHECK_PORT, GVS_SERVER_ADDR, GVS_SERVER_PORT,
// GVS_SERVICE (as ipvsadm names it: "TCP 10.0.0.1:80", "FWM 3"), GVS_VIP,
// GVS_VPORT and GVS_WEIGHT.
type ExecChecker struct {
	Command []string
	Dynamic bool
	User    string // run as this user (needs root)
}

func newExecChecker(c *config.Check) (Checker, error) {
	if c.Exec == nil || len(c.Exec.Command) == 0 || c.Exec.Command[0] == "" {
		return nil, errors.New("an exec check needs exec.command")
	}
	return &ExecChecker{Command: c.Exec.Command, Dynamic: c.Exec.Dynamic, User: c.Exec.User}, nil
}

// Check implements Checker.
func (x *ExecChecker) Check(ctx context.Context, e Endpoint) Result {
	vars := endpointVars(e)
	args := make([]string, len(x.Command))
	for i, a := range x.Command {
		args[i] = expand(a, vars)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), envOf(vars)...)
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := procGroup(cmd, x.User); err != nil {
		return internal(err)
	}
	cmd.WaitDelay = time.Second // grandchildren holding our pipes do not hold us
	err := cmd.Run()
	if err == nil {
		r := up()
		if x.Dynamic {
			r.Weight, r.HasWeight = e.Weight, true
		}
		return r
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		if ctx.Err() != nil {
			return downf("timed out")
		}
		return internal(fmt.Errorf("run %s: %w", args[0], err))
	}
	if ctx.Err() != nil {
		return downf("timed out, killed")
	}
	code := ee.ExitCode()
	if code < 0 {
		return downf("killed by %v%s", ee.ProcessState, out.suffix())
	}
	if x.Dynamic && code >= 2 && code <= 255 {
		r := up()
		r.Weight, r.HasWeight = int32(code-2), true
		return r
	}
	return downf("exit status %d%s", code, out.suffix())
}

// endpointVars are the values placeholders and the environment carry.
func endpointVars(e Endpoint) [][2]string {
	vip, vport := "", ""
	if !e.Service.IsFWMark() && e.Service.Addr.IsValid() {
		vip, vport = e.Service.Addr.String(), strconv.Itoa(int(e.Service.Port))
	}
	server := ""
	if e.ServerAddr.IsValid() {
		server = fmtAddrPort(e.ServerAddr, e.ServerPort)
	}
	addr := ""
	if e.Addr.IsValid() {
		addr = e.Addr.String()
	}
	return [][2]string{
		{"addr", addr}, {"port", strconv.Itoa(int(e.Port))},
		{"server", server}, {"vip", vip}, {"vport", vport},
		{"service", serviceName(e.Service)}, {"weight", strconv.Itoa(int(e.Weight))},
	}
}

var envNames = map[string]string{
	"addr": "GVS_CHECK_ADDR", "port": "GVS_CHECK_PORT", "vip": "GVS_VIP", "vport": "GVS_VPORT",
	"service": "GVS_SERVICE", "weight": "GVS_WEIGHT",
}

func envOf(vars [][2]string) []string {
	var env []string
	for _, v := range vars {
		if n, ok := envNames[v[0]]; ok {
			env = append(env, n+"="+v[1])
		}
		if v[0] == "server" {
			a, p := "", ""
			if i := strings.LastIndexByte(v[1], ':'); i > 0 {
				a, p = strings.Trim(v[1][:i], "[]"), v[1][i+1:]
			}
			env = append(env, "GVS_SERVER_ADDR="+a, "GVS_SERVER_PORT="+p)
		}
	}
	return env
}

func expand(s string, vars [][2]string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	for _, v := range vars {
		s = strings.ReplaceAll(s, "{"+v[0]+"}", v[1])
	}
	return s
}

// tailBuffer keeps the last 256 bytes a command printed, for the error.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 256 {
		t.b = append(t.b[:0], t.b[len(t.b)-256:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) suffix() string {
	s := string(bytes.TrimSpace(t.b))
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return ": " + truncate(s, 120)
}
