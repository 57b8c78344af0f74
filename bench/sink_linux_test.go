package bench

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

// ipv4Frame is an Ethernet frame with an IPv4 header (no options) of
// protocol proto around payload; the checksum is not the sink's concern.
func ipv4Frame(proto byte, fragOff uint16, payload []byte) []byte {
	f := make([]byte, 14+20, 14+20+len(payload))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(ip[6:], fragOff)
	ip[8] = 64
	ip[9] = proto
	copy(ip[12:], []byte{10, 0, 1, 2, 10, 0, 2, 100})
	return append(f, payload...)
}

func udp(dport uint16) []byte {
	u := make([]byte, 8+18)
	binary.BigEndian.PutUint16(u[0:], 40000)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	return u
}

// The sink drops and counts exactly what rsCounter's rules match: UDP to
// the flood port, bare or inside IPIP; everything else goes on.
func TestFloodSink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs; CI runs it as root")
	}
	count, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer count.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "Dual MIT/GPL", Instructions: sinkProgram(FloodPort, count.FD())})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	s := &floodSink{count: count}

	inner := func(dport uint16, fragOff uint16) []byte { return ipv4Frame(17, fragOff, udp(dport))[14:] }
	arp := make([]byte, 42)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	cases := []struct {
		name  string
		frame []byte
		drop  bool
	}{
		{"flood", ipv4Frame(17, 0, udp(FloodPort)), true},
		{"flood with DF", ipv4Frame(17, 0x4000, udp(FloodPort)), true},
		{"other UDP port", ipv4Frame(17, 0, udp(53)), false},
		{"TCP to the flood port", ipv4Frame(6, 0, udp(FloodPort)), false},
		{"a later fragment", ipv4Frame(17, 3, udp(FloodPort)), false},
		{"flood in IPIP", ipv4Frame(4, 0, inner(FloodPort, 0)), true},
		{"other port in IPIP", ipv4Frame(4, 0, inner(80, 0)), false},
		{"fragment in IPIP", ipv4Frame(4, 0, inner(FloodPort, 0x2000)), false},
		{"IPIP cut short", ipv4Frame(4, 0, inner(FloodPort, 0)[:20]), false},
		{"ARP", arp, false},
	}
	var want uint64
	for _, c := range cases {
		ret, err := prog.Run(&ebpf.RunOptions{Data: c.frame})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		wantRet := uint32(0xffffffff) // TCX_NEXT
		if c.drop {
			wantRet = tcActShot
			want++
		}
		if ret != wantRet {
			t.Errorf("%s: returned %d, want %d", c.name, int32(ret), int32(wantRet))
		}
		got, err := s.delivered()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: counted %d, want %d", c.name, got, want)
		}
	}
}
