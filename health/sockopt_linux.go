package health

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

func (o sockOpts) apply(fd int, network string) error {
	v6 := strings.HasSuffix(network, "6")
	if o.freebind {
		var err error
		if v6 {
			err = unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
		} else {
			err = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_FREEBIND, 1)
		}
		if err != nil {
			return fmt.Errorf("IP_FREEBIND: %w", err)
		}
	}
	if o.device != "" {
		if err := unix.BindToDevice(fd, o.device); err != nil {
			return fmt.Errorf("SO_BINDTODEVICE %s: %w", o.device, err)
		}
	}
	if o.mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(o.mark)); err != nil {
			return fmt.Errorf("SO_MARK %#x: %w", o.mark, err)
		}
	}
	return nil
}
