package packet_test

import (
	"fmt"

	"github.com/govs/gvs/packet"
)

// The walk of a NAT packet: parse the frame, look the flow up (here: a
// fixed verdict), rewrite it for the real server, address it to the next
// hop, send it with its virtio-net header.
func ExampleParse() {
	frame := []byte{
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00, // Ethernet
		0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0xd4, 0x89, // IPv4, TTL 64, TCP
		198, 51, 100, 7, 203, 0, 113, 10, // 198.51.100.7 -> 203.0.113.10
		0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x10, 0, 0x9d, 0x0b, 0, 0, // TCP SYN 40000 -> 80
	}
	var p packet.Packet
	if r := packet.Parse(frame, &p); r != packet.DropNone {
		fmt.Println("drop:", r)
		return
	}
	fmt.Println(p.Key.Src, p.Key.SrcPort, "->", p.Key.Dst, p.Key.DstPort, "syn:", p.TCPFlags&packet.TCPSyn != 0)

	// the engine chose real server 10.0.0.21:8080
	if r := packet.NATDest(frame, &p, packet.MustParseAddr("10.0.0.21"), 8080); r != packet.DropNone {
		fmt.Println("drop:", r) // DropTTLExceeded: answer with packet.BuildTimeExceeded
		return
	}
	packet.RewriteMAC(frame, packet.MAC{0x02, 0, 0, 0, 0, 0x03}, packet.MAC{0x02, 0, 0, 0, 0, 0x02})
	fmt.Println(p.Key.Src, p.Key.SrcPort, "->", p.Key.Dst, p.Key.DstPort, "ttl:", packet.IPv4Header(frame[p.L3Off:]).TTL())
	fmt.Printf("vnet header: %+v\n", p.VnetHeader())
	// Output:
	// 198.51.100.7 40000 -> 203.0.113.10 80 syn: true
	// 198.51.100.7 40000 -> 10.0.0.21 8080 ttl: 63
	// vnet header: {Flags:0 GSOType:0 HdrLen:0 GSOSize:0 CsumStart:0 CsumOffset:0}
}
