package packet

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

func TestARP(t *testing.T) {
	vip := MustParseAddr("192.0.2.10")
	client := MustParseAddr("192.0.2.1")
	for _, vlans := range []int{0, 1} {
		e := genSpec{vlans: vlans, fam: IPv4}
		ls, _ := e.l3Layers(0)
		ls = ls[:len(ls)-1] // link layers only
		eth := ls[0].(*layers.Ethernet)
		eth.DstMAC = net.HardwareAddr(BroadcastMAC[:])
		if vlans == 0 {
			eth.EthernetType = layers.EthernetTypeARP
		} else {
			ls[len(ls)-1].(*layers.Dot1Q).Type = layers.EthernetTypeARP
		}
		req := serialize(t, append(ls, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macClient[:], SourceProtAddress: ipOf(client).To4(), DstHwAddress: make([]byte, 6), DstProtAddress: ipOf(vip).To4()})...)
		p := mustParse(t, req)
		a := p.ARP(req)
		if !p.IsARP() || a.Op() != ARPRequest || a.TPA() != vip || a.SPA() != client || a.SHA() != macClient {
			t.Fatalf("request %+v", p)
		}
		buf := make([]byte, 128)
		n, r := BuildARPReply(buf, req, p, macDirector)
		if r != DropNone {
			t.Fatal(r)
		}
		d := mustDecode(t, buf[:n], 0)
		arp := d.pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		if arp.Operation != layers.ARPReply || MAC(arp.SourceHwAddress) != macDirector || AddrFrom4([4]byte(arp.SourceProtAddress)) != vip ||
			MAC(arp.DstHwAddress) != macClient || AddrFrom4([4]byte(arp.DstProtAddress)) != client || MAC(d.eth.DstMAC) != macClient {
			t.Fatalf("reply %+v", arp)
		}
		rp := mustParse(t, buf[:n])
		if int(rp.NumVLAN) != vlans {
			t.Fatal("VLAN not kept")
		}
		if _, r := BuildARPReply(buf, buf[:n], rp, macDirector); r != DropBadARP {
			t.Fatal("answered a reply")
		}
	}
	buf := make([]byte, 64)
	n, r := BuildGratuitousARP(buf, macDirector, vip)
	if r != DropNone {
		t.Fatal(r)
	}
	d := mustDecode(t, buf[:n], 0)
	arp := d.pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp.Operation != layers.ARPRequest || MAC(d.eth.DstMAC) != BroadcastMAC || AddrFrom4([4]byte(arp.SourceProtAddress)) != vip || AddrFrom4([4]byte(arp.DstProtAddress)) != vip {
		t.Fatalf("gratuitous %+v", arp)
	}
	if _, r := BuildGratuitousARP(buf, macDirector, MustParseAddr("2001:db8::1")); r != DropFamilyMismatch {
		t.Fatal(r)
	}
}
