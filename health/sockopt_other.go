//go:build !linux

package health

import "errors"

func (o sockOpts) apply(fd int, network string) error {
	if o.device != "" || o.mark != 0 {
		return errors.New("interface binding and socket marks need Linux")
	}
	return nil
}
