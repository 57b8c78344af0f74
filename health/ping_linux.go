package health

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// pingSocket opens an unprivileged ICMP datagram socket (Linux ping socket).
func pingSocket(e Endpoint, v6 bool, opts sockOpts) (net.PacketConn, error) {
	family, proto, network := unix.AF_INET, unix.IPPROTO_ICMP, "udp4"
	if v6 {
		family, proto, network = unix.AF_INET6, unix.IPPROTO_ICMPV6, "udp6"
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, err
	}
	if err := opts.apply(fd, network); err != nil {
		unix.Close(fd)
		return nil, localErr(err)
	}
	if e.Source.IsValid() {
		src := e.Source.Unmap()
		var sa unix.Sockaddr
		if v6 {
			sa = &unix.SockaddrInet6{Addr: src.As16()}
		} else {
			sa = &unix.SockaddrInet4{Addr: src.As4()}
		}
		if err := unix.Bind(fd, sa); err != nil {
			unix.Close(fd)
			return nil, localErr(err)
		}
	}
	f := os.NewFile(uintptr(fd), "ping")
	defer f.Close()
	return net.FilePacketConn(f)
}
