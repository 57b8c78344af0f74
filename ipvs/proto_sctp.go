package ipvs

// SCTP association states as IPVS tracks them (IP_VS_SCTP_S_*).
const (
	SCTPNone uint8 = iota
	SCTPInit1
	SCTPInit
	SCTPCookieSent
	SCTPCookieReplied
	SCTPCookieWait
	SCTPCookie
	SCTPCookieEchoed
	SCTPEstablished
	SCTPShutdownSent
	SCTPShutdownReceived
	SCTPShutdownAckSent
	SCTPRejected
	SCTPClosed
	sctpStates
)

var sctpStateNames = [sctpStates]string{
	"NONE", "INIT1", "INIT", "C-SENT", "C-REPLIED", "C-WAIT", "COOKIE",
	"C-ECHOED", "ESTABLISHED", "S-SENT", "S-RECEIVED", "S-ACK-SENT", "REJECTED", "CLOSED",
}

const sctpMaxRTO = 60 + 1

// Default SCTP timeouts in seconds (IPVS's sctp_timeouts).
var defaultSCTPTimeouts = [sctpStates]uint32{
	SCTPNone: 2, SCTPInit1: 0 + 3 + 1, SCTPInit: sctpMaxRTO, SCTPCookieSent: sctpMaxRTO,
	SCTPCookieReplied: sctpMaxRTO, SCTPCookieWait: sctpMaxRTO, SCTPCookie: sctpMaxRTO,
	SCTPCookieEchoed: sctpMaxRTO, SCTPEstablished: 15 * 60, SCTPShutdownSent: sctpMaxRTO,
	SCTPShutdownReceived: sctpMaxRTO, SCTPShutdownAckSent: sctpMaxRTO, SCTPRejected: 0 + 3 + 1,
	SCTPClosed: sctpMaxRTO,
}

// SCTP chunk types that drive the state machine.
const (
	SCTPChunkData             uint8 = 0
	SCTPChunkInit             uint8 = 1
	SCTPChunkInitAck          uint8 = 2
	SCTPChunkAbort            uint8 = 6
	SCTPChunkShutdown         uint8 = 7
	SCTPChunkShutdownAck      uint8 = 8
	SCTPChunkError            uint8 = 9
	SCTPChunkCookieEcho       uint8 = 10
	SCTPChunkCookieAck        uint8 = 11
	SCTPChunkShutdownComplete uint8 = 14
)

// SCTP events: rows of the state table.
const (
	sctpEvData = iota // DATA, SACK, HEARTBEAT(-ACK), ECN and unknown chunks
	sctpEvInit
	sctpEvInitAck
	sctpEvCookieEcho
	sctpEvCookieAck
	sctpEvShutdown
	sctpEvShutdownAck
	sctpEvShutdownComplete
	sctpEvError
	sctpEvAbort
	sctpEvents
)

func sctpEvent(chunk uint8) int {
	switch chunk {
	case SCTPChunkInit:
		return sctpEvInit
	case SCTPChunkInitAck:
		return sctpEvInitAck
	case SCTPChunkAbort:
		return sctpEvAbort
	case SCTPChunkShutdown:
		return sctpEvShutdown
	case SCTPChunkShutdownAck:
		return sctpEvShutdownAck
	case SCTPChunkError:
		return sctpEvError
	case SCTPChunkCookieEcho:
		return sctpEvCookieEcho
	case SCTPChunkCookieAck:
		return sctpEvCookieAck
	case SCTPChunkShutdownComplete:
		return sctpEvShutdownComplete
	}
	return sctpEvData
}

const (
	xNO = SCTPNone
	xI1 = SCTPInit1
	xIN = SCTPInit
	xCS = SCTPCookieSent
	xCR = SCTPCookieReplied
	xCW = SCTPCookieWait
	xCO = SCTPCookie
	xCE = SCTPCookieEchoed
	xES = SCTPEstablished
	xSS = SCTPShutdownSent
	xSR = SCTPShutdownReceived
	xSA = SCTPShutdownAckSent
	xRJ = SCTPRejected
	xCL = SCTPClosed
)

// sctpTable[direction][event][state]: IPVS's SCTP transition table
// (ip_vs_proto_sctp.c); states are as seen at the real server.
var sctpTable = [3][sctpEvents][sctpStates]uint8{
	dirInput: {
		/* d   */ {xES, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* i   */ {xI1, xIN, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xIN, xIN},
		/* i_a */ {xCW, xCW, xCW, xCS, xCR, xCO, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* c_e */ {xCR, xIN, xIN, xCR, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* c_a */ {xES, xI1, xIN, xCS, xCR, xCW, xCO, xES, xES, xSS, xSR, xSA, xRJ, xCL},
		/* s   */ {xSR, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xSR, xSS, xSR, xSA, xRJ, xCL},
		/* s_a */ {xCL, xIN, xIN, xCS, xCR, xCW, xCO, xCE, xES, xCL, xSR, xCL, xRJ, xCL},
		/* s_c */ {xCL, xCL, xCL, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xCL, xRJ, xCL},
		/* err */ {xCL, xI1, xIN, xCS, xCR, xCW, xCO, xCL, xES, xSS, xSR, xSA, xRJ, xCL},
		/* ab  */ {xCL, xCL, xCL, xCL, xCL, xRJ, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL},
	},
	dirOutput: {
		/* d   */ {xES, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* i   */ {xCW, xCW, xCW, xCW, xCW, xCW, xCW, xCW, xES, xCW, xCW, xCW, xCW, xCW},
		/* i_a */ {xCS, xCS, xCS, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* c_e */ {xCE, xCE, xCE, xCE, xCE, xCE, xCE, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* c_a */ {xES, xES, xES, xES, xES, xES, xES, xES, xES, xSS, xSR, xSA, xRJ, xCL},
		/* s   */ {xSS, xSS, xSS, xSS, xSS, xSS, xSS, xSS, xSS, xSS, xSR, xSA, xRJ, xCL},
		/* s_a */ {xSA, xSA, xSA, xSA, xSA, xCW, xCO, xCE, xES, xSA, xSA, xSA, xRJ, xCL},
		/* s_c */ {xCL, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* err */ {xCL, xCL, xCL, xCL, xCL, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* ab  */ {xCL, xRJ, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL},
	},
	dirInputOnly: {
		/* d   */ {xES, xI1, xIN, xCS, xCR, xES, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* i   */ {xI1, xIN, xIN, xIN, xIN, xIN, xCO, xCE, xES, xSS, xSR, xSA, xIN, xIN},
		/* i_a */ {xCE, xCE, xCE, xCE, xCE, xCE, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* c_e */ {xES, xES, xES, xES, xES, xES, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* c_a */ {xES, xI1, xIN, xES, xES, xCW, xES, xES, xES, xSS, xSR, xSA, xRJ, xCL},
		/* s   */ {xSR, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xSR, xSS, xSR, xSA, xRJ, xCL},
		/* s_a */ {xCL, xIN, xIN, xCS, xCR, xCW, xCO, xCE, xCL, xCL, xSR, xCL, xRJ, xCL},
		/* s_c */ {xCL, xCL, xCL, xCL, xCL, xCW, xCO, xCE, xES, xSS, xCL, xCL, xRJ, xCL},
		/* err */ {xCL, xI1, xIN, xCS, xCR, xCW, xCO, xCE, xES, xSS, xSR, xSA, xRJ, xCL},
		/* ab  */ {xCL, xCL, xCL, xCL, xCL, xRJ, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL},
	},
}

func nextSCTPState(dir direction, state, chunk uint8) uint8 {
	if state >= sctpStates {
		return SCTPClosed
	}
	return sctpTable[dir][sctpEvent(chunk)][state]
}
