package dataplane

// dropReason counts what the data path itself refuses or fails; malformed
// frames are counted by the packet parser's reasons, the engine's refusals
// by the engine.
type dropReason uint8

const (
	dropMalformed dropReason = iota
	dropTTL
	dropNoNextHop
	dropNoInterface
	dropSend
	dropPoll
	dropTooBig
	dropLocalUnsupported
	dropNotForUs
	dropTruncated
	numDrops
)

var dropNames = [numDrops]string{
	"malformed", "ttl_exceeded", "next_hop_unresolved", "no_interface", "send_failed",
	"poll_error", "too_big", "local_unsupported", "not_for_us", "truncated",
}

func (r dropReason) String() string { return dropNames[r] }
