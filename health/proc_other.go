//go:build !linux

package health

import (
	"errors"
	"os/exec"
)

func procGroup(cmd *exec.Cmd, userName string) error {
	if userName != "" {
		return errors.New("exec.user needs Linux")
	}
	return nil
}
