package packet

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// The data path's next-hop resolution: ARP requests and neighbour
// solicitations it sends, and the advertisements it learns from.
func TestResolution(t *testing.T) {
	buf := make([]byte, 128)
	src4, dst4 := MustParseAddr("192.0.2.5"), MustParseAddr("192.0.2.11")
	n, r := BuildARPRequest(buf, macDirector, src4, dst4)
	if r != DropNone {
		t.Fatal(r)
	}
	d := mustDecode(t, buf[:n], 0)
	arp := d.pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp.Operation != layers.ARPRequest || MAC(d.eth.DstMAC) != BroadcastMAC || MAC(arp.SourceHwAddress) != macDirector ||
		AddrFrom4([4]byte(arp.SourceProtAddress)) != src4 || AddrFrom4([4]byte(arp.DstProtAddress)) != dst4 {
		t.Fatalf("request %+v", arp)
	}
	if p := mustParse(t, buf[:n]); !p.IsARP() || p.ARP(buf).Op() != ARPRequest {
		t.Fatal("own request does not parse")
	}
	if _, r := BuildARPRequest(buf, macDirector, src4, MustParseAddr("2001:db8::1")); r != DropFamilyMismatch {
		t.Fatal(r)
	}
	if _, r := BuildARPRequest(buf[:20], macDirector, src4, dst4); r != DropBufferTooSmall {
		t.Fatal(r)
	}

	src6, dst6 := MustParseAddr("2001:db8::5"), MustParseAddr("2001:db8::ab:cdef")
	n, r = BuildNeighborSolicit(buf, macDirector, src6, dst6)
	if r != DropNone {
		t.Fatal(r)
	}
	d = mustDecode(t, buf[:n], 0)
	ns := d.pkt.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
	s, dst, hop := ipAddrs(d)
	if s != src6 || dst != MustParseAddr("ff02::1:ffab:cdef") || hop != 255 || Addr(ns.TargetAddress.To16()) != dst6 ||
		MAC(d.eth.DstMAC) != (MAC{0x33, 0x33, 0xff, 0xab, 0xcd, 0xef}) || len(ns.Options) != 1 || MAC(ns.Options[0].Data) != macDirector {
		t.Fatalf("solicitation %+v", ns)
	}
	// our own solicitation passes our own validation (checksum included)
	p := mustParse(t, buf[:n])
	var parsed NeighborSolicitation
	if r := ParseNeighborSolicitation(buf[:n], p, &parsed); r != DropNone || parsed.Target != dst6 || parsed.SrcLLA != macDirector {
		t.Fatalf("%v %+v", r, parsed)
	}
	if _, r := BuildNeighborSolicit(buf, macDirector, src4, dst6); r != DropFamilyMismatch {
		t.Fatal(r)
	}

	// advertisements: solicited (answer to the above) and unsolicited
	adv := make([]byte, 128)
	n, r = BuildNeighborAdvert(adv, buf[:n], p, &parsed, macClient)
	if r != DropNone {
		t.Fatal(r)
	}
	var na NeighborAdvert
	if r := ParseNeighborAdvert(adv[:n], mustParse(t, adv[:n]), &na); r != DropNone || na.Target != dst6 || !na.HasTgtLLA || na.TgtLLA != macClient || na.Flags&naSolicited == 0 {
		t.Fatalf("%v %+v", r, na)
	}
	n, _ = BuildUnsolicitedNA(adv, macClient, dst6)
	if r := ParseNeighborAdvert(adv[:n], mustParse(t, adv[:n]), &na); r != DropNone || na.Target != dst6 || na.TgtLLA != macClient || na.Flags&naSolicited != 0 {
		t.Fatalf("%v %+v", r, na)
	}
	// refused: bad checksum, hop limit, a solicitation
	bad := append([]byte(nil), adv[:n]...)
	bad[len(bad)-1] ^= 1
	if r := ParseNeighborAdvert(bad, mustParse(t, bad), &na); r != DropBadNDP {
		t.Fatal("bad checksum accepted")
	}
	bad = append([]byte(nil), adv[:n]...)
	bad[EtherHeaderLen+7] = 64
	if r := ParseNeighborAdvert(bad, mustParse(t, bad), &na); r != DropBadNDP {
		t.Fatal("hop limit 64 accepted")
	}
	if r := ParseNeighborAdvert(buf, p, &na); r != DropBadNDP {
		t.Fatal("solicitation accepted as advertisement")
	}
}
