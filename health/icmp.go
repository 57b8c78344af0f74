package health

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// ICMPChecker sends one ICMP (or ICMPv6) echo request and waits for the
// matching echo reply (same identifier, sequence and payload, from the
// checked address). It uses a raw socket (root or CAP_NET_RAW) and falls
// back to an unprivileged ping socket (net.ipv4.ping_group_range); when
// neither is permitted the result is Error, not Down.
type ICMPChecker struct{}

// ErrICMPNotPermitted is the Error of ICMP checks the process may not send.
var ErrICMPNotPermitted = errors.New("ICMP echo not permitted: needs CAP_NET_RAW or net.ipv4.ping_group_range")

// Check implements Checker.
func (ICMPChecker) Check(ctx context.Context, e Endpoint) Result {
	dst := e.Addr.Unmap()
	v6 := dst.Is6()
	conn, dgram, err := listenICMP(ctx, e, v6)
	if err != nil {
		return internal(err)
	}
	defer conn.Close()
	defer closeOnDone(ctx, conn)()
	_ = conn.SetDeadline(deadline(ctx, DefaultTimeout))

	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	id, seq := binary.BigEndian.Uint16(rnd[0:]), binary.BigEndian.Uint16(rnd[2:])
	payload := append([]byte("gvs-health"), rnd[4:]...)
	reqType, repType := byte(8), byte(0)
	if v6 {
		reqType, repType = 128, 129
	}
	msg := echoMessage(reqType, id, seq, payload, !v6)
	var to net.Addr = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if dgram {
		to = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	if _, err := conn.WriteTo(msg, to); err != nil {
		if isLocal(err) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return internal(err)
		}
		return down(err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil {
				return downf("no echo reply before the timeout")
			}
			return down(err)
		}
		b := buf[:n]
		if !dgram && len(b) >= 8 && isUnreachable(b[0], v6) && quotesEcho(b[8:], v6, reqType, id, seq) {
			return downf("destination unreachable (ICMP code %d from %s)", b[1], fromAddr(from))
		}
		if fromAddr(from) != dst {
			continue
		}
		if len(b) < 8 || b[0] != repType {
			continue
		}
		// ping sockets rewrite the identifier to their own port
		if !dgram && binary.BigEndian.Uint16(b[4:]) != id {
			continue
		}
		if binary.BigEndian.Uint16(b[6:]) != seq || string(b[8:]) != string(payload) {
			continue
		}
		return up()
	}
}

func isUnreachable(t byte, v6 bool) bool {
	if v6 {
		return t == 1
	}
	return t == 3
}

// quotesEcho reports whether an ICMP error's quoted datagram is our echo
// request (the IP header, then the first 8 bytes of our message).
func quotesEcho(inner []byte, v6 bool, reqType byte, id, seq uint16) bool {
	hl := 40
	if !v6 {
		if len(inner) < 20 {
			return false
		}
		hl = int(inner[0]&0xf) * 4
	}
	if len(inner) < hl+8 {
		return false
	}
	echo := inner[hl:]
	return echo[0] == reqType && binary.BigEndian.Uint16(echo[4:]) == id && binary.BigEndian.Uint16(echo[6:]) == seq
}

func fromAddr(a net.Addr) netip.Addr {
	var ip net.IP
	switch x := a.(type) {
	case *net.IPAddr:
		ip = x.IP
	case *net.UDPAddr:
		ip = x.IP
	}
	v, _ := netip.AddrFromSlice(ip)
	return v.Unmap()
}

// echoMessage builds an echo request; the checksum is filled for ICMPv4
// (the kernel computes ICMPv6's, which covers a pseudo-header).
func echoMessage(typ byte, id, seq uint16, payload []byte, sum bool) []byte {
	b := make([]byte, 8, 8+len(payload))
	b[0] = typ
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	b = append(b, payload...)
	if sum {
		binary.BigEndian.PutUint16(b[2:], checksum(b))
	}
	return b
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// listenICMP opens a raw ICMP socket, or a ping socket when raw ones are
// not permitted; dgram tells which.
func listenICMP(ctx context.Context, e Endpoint, v6 bool) (net.PacketConn, bool, error) {
	opts := sockOpts{freebind: e.Source.IsValid(), device: e.Interface, mark: e.Mark}
	src := ""
	if e.Source.IsValid() {
		src = e.Source.Unmap().String()
	}
	network := "ip4:icmp"
	if v6 {
		network = "ip6:ipv6-icmp"
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = opts.apply(int(fd), network) }); err != nil {
			return localErr(err)
		}
		return localErr(serr)
	}}
	conn, err := lc.ListenPacket(ctx, network, src)
	if err == nil {
		return conn, false, nil
	}
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPROTONOSUPPORT) {
		return nil, false, localErr(fmt.Errorf("ICMP socket: %w", err))
	}
	pc, perr := pingSocket(e, v6, opts)
	if perr != nil {
		if errors.Is(perr, syscall.EPERM) || errors.Is(perr, syscall.EACCES) {
			return nil, false, ErrICMPNotPermitted
		}
		return nil, false, localErr(fmt.Errorf("ping socket: %w", perr))
	}
	return pc, true, nil
}
