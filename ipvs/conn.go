package ipvs

// ConnFlags are the per-connection flags, IPVS's IP_VS_CONN_F_* where one exists.
type ConnFlags uint16

const (
	connFwdMask    ConnFlags = 0x0007 // forwarding method (ForwardMethod values)
	ConnNoOutput   ConnFlags = 0x0100 // director sees only the client's half (DR, TUN, LOCAL)
	ConnInactive   ConnFlags = 0x0200 // counted in InActConn
	ConnTemplate   ConnFlags = 0x1000 // persistence template
	ConnOnePacket  ConnFlags = 0x2000 // one-packet scheduling (never stored)
	connUnhashed   ConnFlags = 0x0008 // invalidated template: no longer found, waits for expiry
	connSrcCounted ConnFlags = 0x0010 // counted against the per-source limit
	connSync       ConnFlags = 0x0020 // created by the sync daemon
	connNoCPort    ConnFlags = 0x0040 // template without client port
)

// Method returns the forwarding method recorded in the flags.
func (f ConnFlags) Method() ForwardMethod { return ForwardMethod(f & connFwdMask) }

// connEntry is one connection or persistence template. Entries live in
// per-shard slabs, are addressed by index, hold no Go pointers (the garbage
// collector never scans them) and are guarded by their shard's lock.
//
// The layout is 128 bytes, two cache lines: everything a client packet of
// an established connection reads or writes (key, state, timer, counters'
// destination) is in the first line, so the common case costs one index
// slot and one line. The second line holds what replies, expiry and
// persistence need.
type connEntry struct {
	// first cache line: the in-lookup and the per-packet update
	caddr, vaddr Addr
	cport, vport uint16
	proto        Protocol
	af           Family // client and service family
	state        uint8
	daf          Family // destination family (differs for mixed-family tunnels)
	flags        ConnFlags
	dport        uint16
	destID       uint32 // 0 = none (bypass)
	expires      uint32 // expiry, in wheel ticks (low 32 bits of clock>>tickShift)
	timeout      uint32 // milliseconds, the current state's timeout
	wtick        uint32 // wheel tick the entry is linked at
	inPkts       uint32

	// second cache line
	daddr        Addr
	control      ConnRef
	nControl     uint32 // templates: connections that point here
	wprev, wnext uint32 // wheel list links (index+1, 0 = none)
	hash         uint32 // low 32 bits of the key hash
	fwmark       uint32
	peHash       uint64 // persistence-engine key of a template (0 = none)
	_            [16]byte
}

// ConnRef names a connection entry engine-wide: shard in the top bits,
// slab index+1 below. 0 means none.
type ConnRef uint32

const (
	shardBits  = 8
	numShards  = 1 << shardBits
	refIdxBits = 32 - shardBits
	refIdxMask = 1<<refIdxBits - 1
	// maxShardEntries bounds one shard's slab; ConnRef has room for this many.
	maxShardEntries = refIdxMask - 1
)

func makeRef(shard int, idx uint32) ConnRef {
	return ConnRef(uint32(shard)<<refIdxBits | idx)
}

func (r ConnRef) shard() int    { return int(uint32(r) >> refIdxBits) }
func (r ConnRef) index() uint32 { return uint32(r) & refIdxMask }

// ConnInfo is a snapshot of one connection entry for listings and the API.
type ConnInfo struct {
	Protocol   Protocol
	Family     Family
	DestFamily Family
	Client     Addr
	ClientPort uint16
	Virtual    Addr
	VirtPort   uint16
	Dest       Addr
	DestPort   uint16
	FWMark     uint32
	State      string
	StateCode  uint8
	Flags      ConnFlags
	Method     ForwardMethod
	Template   bool
	Expires    int64 // nanoseconds left
	Timeout    uint32
	NControl   uint32
	Ref        ConnRef
	PEName     string // persistence engine of a template ("sip"), if any
	PEData     string // its key (the SIP Call-ID)
}

func (c *connEntry) info(ref ConnRef, now int64) ConnInfo {
	// The expiry was rounded up to a wheel tick; show it rounded down, as
	// the kernel's jiffies show a fresh 60 s entry as 00:59.
	left := int64(int32(c.expires-uint32(now>>tickShift))-1)<<tickShift - now&(Tick-1)
	if left > int64(c.timeout)*1e6 {
		left = int64(c.timeout) * 1e6
	}
	if left < 0 {
		left = 0
	}
	return ConnInfo{
		Protocol: c.proto, Family: c.af, DestFamily: c.daf,
		Client: c.caddr, ClientPort: c.cport, Virtual: c.vaddr, VirtPort: c.vport,
		Dest: c.daddr, DestPort: c.dport, FWMark: c.fwmark,
		State: stateName(c.proto, c.flags, c.state), StateCode: c.state, Flags: c.flags,
		Method: c.flags.Method(), Template: c.flags&ConnTemplate != 0,
		Expires: left, Timeout: c.timeout, NControl: c.nControl, Ref: ref,
	}
}
