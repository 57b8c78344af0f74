//go:build linux

package lab

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Flood sends count malformed Ethernet frames out of ifname to dstMAC, all
// claiming to be for dst (a VIP): truncated and inconsistent IPv4 and IPv6
// headers, bad header lengths, transport headers cut short, garbage. It is
// the data path's robustness test (gvs-lab flood).
func Flood(ifname string, dstMAC net.HardwareAddr, dst netip.Addr, count int) (int, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return 0, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	copy(sa.Addr[:], dstMAC)
	r := rand.New(rand.NewPCG(1, 2))
	sent := 0
	frame := make([]byte, 1514)
	for i := 0; i < count; i++ {
		n := malformed(frame, r, ifi.HardwareAddr, dstMAC, dst, i)
		if err := unix.Sendto(fd, frame[:n], 0, sa); err != nil {
			return sent, fmt.Errorf("send: %w", err)
		}
		sent++
	}
	return sent, nil
}

func malformed(b []byte, r *rand.Rand, src, dst net.HardwareAddr, vip netip.Addr, i int) int {
	copy(b[0:6], dst)
	copy(b[6:12], src)
	ip := b[14:]
	for j := range ip[:80] {
		ip[j] = byte(r.Uint32())
	}
	v4 := vip.Is4()
	if v4 {
		binary.BigEndian.PutUint16(b[12:], 0x0800)
	} else {
		binary.BigEndian.PutUint16(b[12:], 0x86dd)
	}
	a := vip.As16()
	switch i % 6 {
	case 0: // truncated IP header
		return 14 + 10
	case 1: // IPv4 with a header length below 20 / IPv6 with a wrong version
		if v4 {
			ip[0] = 0x42
			copy(ip[16:20], a[12:])
		} else {
			ip[0] = 0x40
		}
		return 14 + 60
	case 2: // total length beyond the frame
		if v4 {
			ip[0] = 0x45
			binary.BigEndian.PutUint16(ip[2:], 1400)
			copy(ip[16:20], a[12:])
		} else {
			ip[0] = 0x60
			binary.BigEndian.PutUint16(ip[4:], 1400)
			copy(ip[24:40], a[:])
		}
		return 14 + 60
	case 3: // TCP header cut short
		if v4 {
			ip[0], ip[9] = 0x45, 6
			binary.BigEndian.PutUint16(ip[2:], 28)
			binary.BigEndian.PutUint16(ip[6:], 0)
			copy(ip[16:20], a[12:])
			return 14 + 28
		}
		ip[0], ip[6] = 0x60, 6
		binary.BigEndian.PutUint16(ip[4:], 8)
		copy(ip[24:40], a[:])
		return 14 + 48
	case 4: // an extension-header chain running off the end (IPv6) / options overflow (IPv4)
		if v4 {
			ip[0] = 0x4f
			binary.BigEndian.PutUint16(ip[2:], 40)
			copy(ip[16:20], a[12:])
			return 14 + 40
		}
		ip[0], ip[6] = 0x60, 0
		binary.BigEndian.PutUint16(ip[4:], 16)
		ip[41] = 200
		copy(ip[24:40], a[:])
		return 14 + 56
	}
	return 14 + 1 + r.IntN(60) // garbage
}
