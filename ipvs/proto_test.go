package ipvs

import (
	"net/netip"
	"testing"
)

// connState returns the state name of the only entry matching the client port.
func connState(t *testing.T, e *Engine, cport uint16) string {
	t.Helper()
	st := ""
	e.Conns(func(c ConnInfo) bool {
		if !c.Template && c.ClientPort == cport {
			st = c.State
		}
		return true
	})
	return st
}

func TestTCPInputOnlyTransitions(t *testing.T) {
	// DR: the director sees only the client's half (INPUT-ONLY table).
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: tcpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 80, Weight: 1, Forwarding: Forwarding{Method: Route}})
	d := destByAddr(t, e, tcpSvc, rs1)
	f := tcpFlow(client, 1000, vip, 80)
	steps := []struct {
		flags        uint8
		state        string
		active, inac int32
	}{
		{TCPSyn, "SYN_RECV", 1, 0},
		{TCPAck, "ESTABLISHED", 1, 0},
		{TCPAck | TCPFin, "FIN_WAIT", 0, 1},
		{TCPAck, "FIN_WAIT", 0, 1},
		{TCPRst, "CLOSE", 0, 1},
	}
	for i, s := range steps {
		w.In(f, &PacketInfo{TCPFlags: s.flags}, int64(i)*second)
		if got := connState(t, e, 1000); got != s.state {
			t.Fatalf("step %d flags %#x: state %s, want %s", i, s.flags, got, s.state)
		}
		if d.ActiveConns() != s.active || d.InactConns() != s.inac {
			t.Fatalf("step %d: active/inact %d/%d, want %d/%d", i, d.ActiveConns(), d.InactConns(), s.active, s.inac)
		}
	}
}

func TestTCPTablesMatchKernelSpotChecks(t *testing.T) {
	// A few transitions that distinguish the kernel's tables from textbook TCP.
	cases := []struct {
		tbl         *tcpTable
		dir         direction
		state, flag uint8
		want        uint8
	}{
		{&tcpStatesNormal, dirInput, TCPNone, TCPAck, TCPEstablished},        // modern kernels: ack from NONE establishes
		{&tcpStatesNormal, dirInput, TCPEstablished, TCPFin, TCPCloseWait},   // client FIN seen with output
		{&tcpStatesNormal, dirInputOnly, TCPEstablished, TCPFin, TCPFinWait}, // input-only: FIN_WAIT
		{&tcpStatesNormal, dirOutput, TCPSynRecv, TCPSyn | TCPAck, TCPSynRecv},
		{&tcpStatesNormal, dirOutput, TCPTimeWait, TCPRst, TCPTimeWait},
		{&tcpStatesNormal, dirInput, TCPSynRecv, TCPRst, TCPSynRecv},
		{&tcpStatesNormal, dirInput, TCPLastAck, TCPAck, TCPClose},
		{&tcpStatesSecure, dirInput, TCPSynRecv, TCPAck, TCPSynRecv}, // secure_tcp: client ACK alone does not establish
		{&tcpStatesSecure, dirOutput, TCPSynRecv, TCPSyn | TCPAck, TCPSynAck},
		{&tcpStatesSecure, dirInputOnly, TCPNone, TCPSyn, TCPSynAck},
		{&tcpStatesNormal, dirInput, TCPEstablished, 0, TCPClose}, // no flags: CLOSE, as IPVS
	}
	for _, c := range cases {
		if got := nextTCPState(c.tbl, c.dir, c.state, c.flag); got != c.want {
			t.Errorf("dir %d %s + %#x -> %s, want %s", c.dir, tcpStateNames[c.state], c.flag, tcpStateNames[got], tcpStateNames[c.want])
		}
	}
}

func TestSCTPAssociation(t *testing.T) {
	e, w := newTestEngine(t, nil)
	key := ServiceKey{Protocol: ProtoSCTP, Addr: vip, Port: 3868}
	mustAddService(t, e, ServiceConfig{ServiceKey: key, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 3868, Weight: 1, Forwarding: Forwarding{Method: Masq}})
	d := destByAddr(t, e, key, rs1)
	in := &Flow{Family: IPv4, Protocol: ProtoSCTP, Src: AddrFrom(client), SrcPort: 5000, Dst: AddrFrom(vip), DstPort: 3868}
	out := &Flow{Family: IPv4, Protocol: ProtoSCTP, Src: AddrFrom(rs1), SrcPort: 3868, Dst: AddrFrom(client), DstPort: 5000}
	// DATA without an association is not scheduled
	if v := w.In(in, &PacketInfo{SCTPChunk: SCTPChunkData}, 0); v.Action != ActionDrop || v.Reason != DropNoConn {
		t.Fatalf("DATA first: %+v", v)
	}
	steps := []struct {
		out   bool
		chunk uint8
		state string
	}{
		{false, SCTPChunkInit, "INIT1"},
		{true, SCTPChunkInitAck, "C-SENT"},
		{false, SCTPChunkCookieEcho, "C-REPLIED"},
		{true, SCTPChunkCookieAck, "ESTABLISHED"},
		{false, SCTPChunkData, "ESTABLISHED"},
		{false, SCTPChunkShutdown, "S-RECEIVED"},
		{true, SCTPChunkShutdownAck, "S-ACK-SENT"},
		{false, SCTPChunkShutdownComplete, "CLOSED"},
	}
	for i, s := range steps {
		if s.out {
			w.Out(out, &PacketInfo{SCTPChunk: s.chunk}, 0)
		} else {
			w.In(in, &PacketInfo{SCTPChunk: s.chunk}, 0)
		}
		if got := connState(t, e, 5000); got != s.state {
			t.Fatalf("step %d: %s, want %s", i, got, s.state)
		}
		if s.state == "ESTABLISHED" && d.ActiveConns() != 1 {
			t.Fatalf("established association not active")
		}
	}
	if d.ActiveConns() != 0 || d.InactConns() != 1 {
		t.Fatalf("closed: active/inact %d/%d", d.ActiveConns(), d.InactConns())
	}
}

func TestUDPIsInactiveAndExpires(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: udpSvc, Scheduler: "test-first"},
		DestConfig{Addr: rs1, Port: 53, Weight: 1, Forwarding: Forwarding{Method: Masq}})
	d := destByAddr(t, e, udpSvc, rs1)
	f := &Flow{Family: IPv4, Protocol: ProtoUDP, Src: AddrFrom(client), SrcPort: 999, Dst: AddrFrom(vip), DstPort: 53}
	w.In(f, &PacketInfo{Bytes: 40}, 0)
	if d.ActiveConns() != 0 || d.InactConns() != 1 || connState(t, e, 999) != "UDP" {
		t.Fatal("UDP entries count as inactive")
	}
	if err := e.SetTimeouts(0, 0, 10); err != nil {
		t.Fatal(err)
	}
	w.In(f, &PacketInfo{Bytes: 40}, 5*second) // refresh: now 10 s from here
	e.Expire(14 * second)
	if e.ConnCount() != 1 {
		t.Fatal("refreshed entry expired early")
	}
	e.Expire(16 * second)
	if e.ConnCount() != 0 || d.InactConns() != 0 {
		t.Fatal("UDP entry did not expire")
	}
}

func TestOnePacketScheduling(t *testing.T) {
	e, w := newTestEngine(t, nil)
	mustAddService(t, e, ServiceConfig{ServiceKey: udpSvc, Scheduler: "test-rr", Flags: SvcOnePacket},
		DestConfig{Addr: rs1, Port: 53, Weight: 1}, DestConfig{Addr: rs2, Port: 53, Weight: 1})
	f := &Flow{Family: IPv4, Protocol: ProtoUDP, Src: AddrFrom(client), SrcPort: 999, Dst: AddrFrom(vip), DstPort: 53}
	a := w.In(f, &PacketInfo{}, 0)
	b := w.In(f, &PacketInfo{}, 0)
	if a.Dest == b.Dest {
		t.Fatal("one-packet scheduling must schedule every datagram")
	}
	if e.ConnCount() != 0 {
		t.Fatal("one-packet entries are never stored")
	}
	st, _ := e.ServiceStatus(udpSvc)
	if st.Stats.Conns != 2 || st.Stats.InPkts != 2 {
		t.Fatalf("stats %+v", st.Stats)
	}
}

func TestIPv6Service(t *testing.T) {
	e, w := newTestEngine(t, nil)
	v6 := netip.MustParseAddr("2001:db8::1")
	r6 := netip.MustParseAddr("2001:db8:1::10")
	key := ServiceKey{Protocol: ProtoTCP, Addr: v6, Port: 443}
	mustAddService(t, e, ServiceConfig{ServiceKey: key, Scheduler: "test-first", Flags: SvcPersistent, Timeout: 60, Netmask: 64},
		DestConfig{Addr: r6, Port: 443, Weight: 1})
	c1 := tcpFlow(netip.MustParseAddr("2001:db8:9::1"), 1, v6, 443)
	v := w.In(c1, &PacketInfo{TCPFlags: TCPSyn}, 0)
	if v.Action != ActionForward || v.Dest != AddrFrom(r6) || v.DestFamily != IPv6 {
		t.Fatalf("%+v", v)
	}
	// mixed family needs a tunnel
	if err := e.AddDest(key, DestConfig{Addr: rs1, Port: 443, Weight: 1, Forwarding: Forwarding{Method: Masq}}); CodeOf(err) != ErrInvalid {
		t.Fatalf("IPv4 NAT dest in IPv6 service: %v", err)
	}
	if err := e.AddDest(key, DestConfig{Addr: rs1, Port: 443, Weight: 1, Forwarding: Forwarding{Method: Tunnel}}); err != nil {
		t.Fatalf("IPv4 tunnel dest in IPv6 service: %v", err)
	}
}
