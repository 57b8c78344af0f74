package packet

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
)

func buildNS(t *testing.T, src, dst, target Addr, lla bool, hop uint8) []byte {
	e := genSpec{fam: IPv6, src: src, dst: dst, ttl: hop}
	ls, nl := e.l3Layers(layers.IPProtocolICMPv6)
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(ICMPv6NeighborSolic, 0)}
	icmp.SetNetworkLayerForChecksum(nl)
	ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: ipOf(target)}
	if lla {
		ns.Options = layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: macClient[:]}}
	}
	return serialize(t, append(ls, icmp, ns)...)
}

func TestNeighborDiscovery(t *testing.T) {
	vip := MustParseAddr("2001:db8::10")
	client := MustParseAddr("2001:db8::1")
	solicited := MustParseAddr("ff02::1:ff00:10")
	req := buildNS(t, client, solicited, vip, true, 255)
	p := mustParse(t, req)
	var ns NeighborSolicitation
	if r := ParseNeighborSolicitation(req, p, &ns); r != DropNone || ns.Target != vip || !ns.HasSrcLLA || ns.SrcLLA != macClient {
		t.Fatalf("%v %+v", r, ns)
	}
	buf := make([]byte, 256)
	n, r := BuildNeighborAdvert(buf, req, p, &ns, macDirector)
	if r != DropNone {
		t.Fatal(r)
	}
	d := mustDecode(t, buf[:n], 0)
	na := d.pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	src, dst, hop := ipAddrs(d)
	if src != vip || dst != client || hop != 255 || !na.Solicited() || !na.Override() || na.Router() || Addr(na.TargetAddress.To16()) != vip ||
		len(na.Options) != 1 || MAC(na.Options[0].Data) != macDirector || MAC(d.eth.DstMAC) != macClient {
		t.Fatalf("advert %+v", na)
	}
	// duplicate address detection: answered to all nodes, not solicited
	req = buildNS(t, Addr{}, solicited, vip, false, 255)
	p = mustParse(t, req)
	if r := ParseNeighborSolicitation(req, p, &ns); r != DropNone {
		t.Fatal(r)
	}
	n, _ = BuildNeighborAdvert(buf, req, p, &ns, macDirector)
	d = mustDecode(t, buf[:n], 0)
	na = d.pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	if _, dst, _ := ipAddrs(d); dst != allNodes || na.Solicited() || MAC(d.eth.DstMAC) != allNodesMAC {
		t.Fatal("DAD answer")
	}
	// refused: hop limit not 255, DAD with a source address option, bad checksum
	for _, bad := range [][]byte{
		buildNS(t, client, solicited, vip, true, 64),
		buildNS(t, Addr{}, solicited, vip, true, 255),
		func() []byte { b := buildNS(t, client, solicited, vip, true, 255); b[len(b)-1] ^= 1; return b }(),
	} {
		if r := ParseNeighborSolicitation(bad, mustParse(t, bad), &ns); r != DropBadNDP {
			t.Errorf("accepted: %v", r)
		}
	}
	n, r = BuildUnsolicitedNA(buf, macDirector, vip)
	if r != DropNone {
		t.Fatal(r)
	}
	d = mustDecode(t, buf[:n], 0)
	na = d.pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	if src, dst, _ := ipAddrs(d); src != vip || dst != allNodes || na.Solicited() || !na.Override() {
		t.Fatal("unsolicited")
	}
}
