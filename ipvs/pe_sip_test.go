package ipvs

import (
	"net/netip"
	"testing"
)

func TestSIPCallID(t *testing.T) {
	msg := "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33\r\ncall-id :  a84b4c76e66710@pc33 \r\nCSeq: 1 INVITE\r\n\r\nbody Call-ID: no"
	if got := string(sipCallID([]byte(msg))); got != "a84b4c76e66710@pc33" {
		t.Fatalf("Call-ID %q", got)
	}
	if got := string(sipCallID([]byte("BYE sip:x SIP/2.0\ni: compact@form\n\n"))); got != "compact@form" {
		t.Fatalf("compact form %q", got)
	}
	if sipCallID([]byte("OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\nCall-ID: in-body")) != nil {
		t.Fatal("a Call-ID after the headers must not count")
	}
}

func TestSIPPersistence(t *testing.T) {
	e, w := newTestEngine(t, nil)
	key := ServiceKey{Protocol: ProtoUDP, Addr: vip, Port: 5060}
	mustAddService(t, e, ServiceConfig{ServiceKey: key, Scheduler: "test-rr", Flags: SvcPersistent, Timeout: 60, Netmask: 0xffffffff, PE: "sip"},
		DestConfig{Addr: rs1, Port: 5060, Weight: 1}, DestConfig{Addr: rs2, Port: 5060, Weight: 1})
	sip := func(callID string) *PacketInfo {
		return &PacketInfo{Payload: []byte("INVITE sip:b SIP/2.0\r\nCall-ID: " + callID + "\r\n\r\n")}
	}
	udp := func(port uint16) *Flow {
		return &Flow{Family: IPv4, Protocol: ProtoUDP, Src: AddrFrom(client), SrcPort: port, Dst: AddrFrom(vip), DstPort: 5060}
	}
	a := w.In(udp(1), sip("call-1"), 0).Dest
	b := w.In(udp(2), sip("call-2"), 0).Dest
	a2 := w.In(udp(3), sip("call-1"), 0).Dest
	if a == b {
		t.Fatal("two calls from one client should be spread (rr)")
	}
	if a2 != a {
		t.Fatal("messages of one call must reach one server")
	}
	if v := w.In(udp(4), &PacketInfo{Payload: []byte("garbage")}, 0); v.Reason != DropPersistence {
		t.Fatalf("no Call-ID: %+v", v)
	}
	found := false
	e.Conns(func(c ConnInfo) bool {
		if c.Template && c.PEName == "sip" && c.PEData == "call-1" {
			found = true
		}
		return true
	})
	if !found {
		t.Fatal("template does not show its Call-ID")
	}
	_ = netip.Addr{}
}
