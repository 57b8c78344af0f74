//go:build !linux

package health

import (
	"errors"
	"net"
)

func pingSocket(e Endpoint, v6 bool, opts sockOpts) (net.PacketConn, error) {
	return nil, errors.New("ping sockets need Linux")
}
