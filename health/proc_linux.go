package health

import (
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// procGroup runs cmd in its own process group, killed whole (SIGKILL) when
// its context ends, optionally as another user.
func procGroup(cmd *exec.Cmd, userName string) error {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			return fmt.Errorf("exec.user: %w", err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("exec.user %s: non-numeric uid/gid", userName)
		}
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	cmd.SysProcAttr = attr
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return nil
}
