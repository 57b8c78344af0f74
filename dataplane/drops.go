package dataplane

// dropReason counts what the data path itself refuses or fails. Frames
// package packet cannot parse are counted as dropMalformed (and per
// packet.DropReason), packets a transform refuses by the transform's
// packet.DropReason, the engine's refusals by the engine.
type dropReason uint8

const (
	dropMalformed dropReason = iota
	dropNoNextHop
	dropNoInterface
	dropSend
	dropPoll
	dropLocalUnsupported
	dropTruncated
	dropFragUnmatched
	numDrops
)

var dropNames = [numDrops]string{
	"malformed", "next_hop_unresolved", "no_interface", "send_failed",
	"poll_error", "local_unsupported", "truncated", "fragment_unmatched",
}

func (r dropReason) String() string { return dropNames[r] }
