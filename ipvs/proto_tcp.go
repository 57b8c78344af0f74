package ipvs

// TCP connection states, numbered as IPVS numbers them (IP_VS_TCP_S_*).
const (
	TCPNone uint8 = iota
	TCPEstablished
	TCPSynSent
	TCPSynRecv
	TCPFinWait
	TCPTimeWait
	TCPClose
	TCPCloseWait
	TCPLastAck
	TCPListen
	TCPSynAck
	tcpStates
)

var tcpStateNames = [tcpStates]string{
	"NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK",
}

// tcpStateActive marks the states counted in ActiveConn.
var tcpStateActive = [tcpStates]bool{
	TCPEstablished: true, TCPSynSent: true, TCPSynRecv: true, TCPSynAck: true,
}

// Default TCP timeouts in seconds, per state (IPVS's tcp_timeouts).
var defaultTCPTimeouts = [tcpStates]uint32{
	TCPNone: 2, TCPEstablished: 15 * 60, TCPSynSent: 2 * 60, TCPSynRecv: 60,
	TCPFinWait: 2 * 60, TCPTimeWait: 2 * 60, TCPClose: 10, TCPCloseWait: 60,
	TCPLastAck: 30, TCPListen: 2 * 60, TCPSynAck: 120,
}

// TCP flag bits as they sit in the TCP header's flags byte.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPAck uint8 = 0x10
)

// Packet directions for the state tables.
type direction uint8

const (
	dirInput     direction = iota // client to real server
	dirOutput                     // real server to client (NAT only)
	dirInputOnly                  // client to real server when replies bypass the director
)

// tcpEvent maps the flags to the row of the state table: rst wins, then
// syn, fin, ack; a segment with none of them changes nothing but the timer.
func tcpEvent(flags uint8) int {
	switch {
	case flags&TCPRst != 0:
		return 3
	case flags&TCPSyn != 0:
		return 0
	case flags&TCPFin != 0:
		return 1
	case flags&TCPAck != 0:
		return 2
	}
	return -1
}

const (
	sNO = TCPNone
	sES = TCPEstablished
	sSS = TCPSynSent
	sSR = TCPSynRecv
	sFW = TCPFinWait
	sTW = TCPTimeWait
	sCL = TCPClose
	sCW = TCPCloseWait
	sLA = TCPLastAck
	sLI = TCPListen
	sSA = TCPSynAck
)

// tcpTable[direction][event][state] is the next state. These are the
// transition tables of kernel IPVS (ip_vs_proto_tcp.c), normal and
// secure_tcp variants; the columns are the current state in the order above.
type tcpTable [3][4][tcpStates]uint8

var tcpStatesNormal = tcpTable{
	dirInput: {
		/*syn*/ {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
		/*fin*/ {sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW},
		/*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
		/*rst*/ {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR},
	},
	dirOutput: {
		/*syn*/ {sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR},
		/*fin*/ {sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW},
		/*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES},
		/*rst*/ {sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL},
	},
	dirInputOnly: {
		/*syn*/ {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
		/*fin*/ {sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW},
		/*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
		/*rst*/ {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
	},
}

// tcpStatesSecure is the secure_tcp (defense) table: a connection is only
// trusted as established once the real server has answered.
var tcpStatesSecure = tcpTable{
	dirInput: {
		/*syn*/ {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSA},
		/*fin*/ {sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sSA},
		/*ack*/ {sES, sES, sSS, sSR, sFW, sTW, sCL, sCW, sCL, sLI, sSA},
		/*rst*/ {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
	},
	dirOutput: {
		/*syn*/ {sSS, sES, sSS, sSA, sSS, sSS, sSS, sSS, sSS, sLI, sSA},
		/*fin*/ {sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW},
		/*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES},
		/*rst*/ {sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL},
	},
	dirInputOnly: {
		/*syn*/ {sSA, sES, sES, sSR, sSA, sSA, sSA, sSA, sSA, sSA, sSA},
		/*fin*/ {sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW},
		/*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
		/*rst*/ {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
	},
}

// nextTCPState returns the state after a segment with flags in direction
// dir; an event-less segment moves the connection to CLOSE, as in IPVS.
func nextTCPState(t *tcpTable, dir direction, state, flags uint8) uint8 {
	ev := tcpEvent(flags)
	if ev < 0 || state >= tcpStates {
		return TCPClose
	}
	return t[dir][ev][state]
}
