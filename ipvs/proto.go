package ipvs

import "fmt"

// UDP has a single state; IPVS counts UDP entries as inactive.
const (
	UDPNormal uint8 = 0
	udpStates       = 1
)

var defaultUDPTimeouts = [udpStates]uint32{UDPNormal: 5 * 60}

// templateTimeoutMS is how long a template that still controls
// connections waits before it is checked again (IPVS: 60 s).
const templateRecheckMS = 60 * 1000

// stateName returns the name ipvsadm -Lc shows for a connection state.
func stateName(proto Protocol, flags ConnFlags, state uint8) string {
	if flags&ConnTemplate != 0 {
		if state&templateAssured != 0 {
			return "ASSURED"
		}
		return "NONE"
	}
	switch proto {
	case ProtoTCP:
		if state < tcpStates {
			return tcpStateNames[state]
		}
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		if state < sctpStates {
			return sctpStateNames[state]
		}
	default:
		return "NONE"
	}
	return "ERR!"
}

// stateActive reports whether a state counts in ActiveConn.
func stateActive(proto Protocol, state uint8) bool {
	switch proto {
	case ProtoTCP:
		return state < tcpStates && tcpStateActive[state]
	case ProtoSCTP:
		return state == SCTPEstablished
	}
	return false
}

// Timeouts holds the per-state timeouts in seconds for each protocol.
type Timeouts struct {
	TCP  [tcpStates]uint32
	UDP  [udpStates]uint32
	SCTP [sctpStates]uint32
}

// DefaultTimeouts returns IPVS's defaults (TCP established 900 s, FIN_WAIT
// 120 s, UDP 300 s, ...).
func DefaultTimeouts() Timeouts {
	return Timeouts{TCP: defaultTCPTimeouts, UDP: defaultUDPTimeouts, SCTP: defaultSCTPTimeouts}
}

// TCPStateByName, UDP and SCTP lookups let configuration files name states.
func stateIndex(names []string, name string) (int, bool) {
	for i, n := range names {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// SetStateTimeout sets one protocol state's timeout by the name ipvsadm -Lc
// prints (e.g. "TCP", "SYN_RECV", 30).
func (t *Timeouts) SetStateTimeout(proto Protocol, state string, seconds uint32) error {
	switch proto {
	case ProtoTCP:
		if i, ok := stateIndex(tcpStateNames[:], state); ok {
			t.TCP[i] = seconds
			return nil
		}
	case ProtoUDP:
		if state == "UDP" || state == "NORMAL" {
			t.UDP[UDPNormal] = seconds
			return nil
		}
	case ProtoSCTP:
		if i, ok := stateIndex(sctpStateNames[:], state); ok {
			t.SCTP[i] = seconds
			return nil
		}
	}
	return fmt.Errorf("unknown %s state %q", proto, state)
}

// timeoutTable is Timeouts converted to milliseconds for the hot path.
type timeoutTable struct {
	tcp  [tcpStates]uint32
	udp  [udpStates]uint32
	sctp [sctpStates]uint32
}

func (t Timeouts) table() *timeoutTable {
	var out timeoutTable
	for i, v := range t.TCP {
		out.tcp[i] = secToMS(v)
	}
	for i, v := range t.UDP {
		out.udp[i] = secToMS(v)
	}
	for i, v := range t.SCTP {
		out.sctp[i] = secToMS(v)
	}
	return &out
}

func secToMS(s uint32) uint32 {
	if s > (1<<32-1)/1000 {
		return 1<<32 - 1
	}
	return s * 1000
}

func (t *timeoutTable) forState(proto Protocol, state uint8) uint32 {
	switch proto {
	case ProtoTCP:
		if state < tcpStates {
			return t.tcp[state]
		}
	case ProtoUDP:
		return t.udp[UDPNormal]
	case ProtoSCTP:
		if state < sctpStates {
			return t.sctp[state]
		}
	}
	return 2000
}
