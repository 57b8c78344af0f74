package ipvs

// Options are the run-time knobs IPVS exposes as sysctls
// (/proc/sys/net/ipv4/vs/*). GVS's defaults differ from the kernel's where
// the kernel's are known to hurt; DefaultOptions and KernelOptions give both.
type Options struct {
	// ExpireNodestConn: when a connection's real server is deleted, expire
	// the connection on its next packet (kernel default 0: drop packets
	// silently until the entry times out -- the "black hole"). GVS: on, and
	// deleting a destination also expires its connections at once.
	ExpireNodestConn bool
	// ExpireQuiescentTemplate: a persistence template whose server has
	// weight 0 is not used for new connections (kernel default 0: persistent
	// clients keep landing on a drained server). GVS: on.
	ExpireQuiescentTemplate bool
	// ConnReuseMode: 0 never reschedules a reused client port; bit 1
	// reschedules a SYN that hits a TIME_WAIT entry; bit 2 also one that
	// hits FIN_WAIT without output (DR/TUN). Kernel default 1. GVS
	// reschedules in the same packet, so there is no 1-second stall.
	ConnReuseMode int
	// SloppyTCP / SloppySCTP: schedule on any packet, not only SYN / INIT
	// (for directors that take over connections without sync).
	SloppyTCP  bool
	SloppySCTP bool
	// SecureTCP, DropEntry, DropPacket: IPVS's defense strategies, 0 off,
	// 1 automatic (engaged while load exceeds LoadThreshold), 2 engaged
	// by the automatic mode, 3 always on.
	SecureTCP  int
	DropEntry  int
	DropPacket int
	// AmDropRate is drop_packet's rate when always on (drop 1 of N).
	AmDropRate int
	// LoadThreshold is the connection-table fill ratio (0..1) above which the
	// automatic defenses engage (the kernel uses free memory, amemthresh).
	LoadThreshold float64
	// PerSourceLimit caps connections per client address (0 = no limit).
	// IPVS has no such knob; operators ask for it.
	PerSourceLimit uint32
	// ScheduleICMP: schedule a new connection for an ICMP error about an
	// unknown flow (kernel default 0).
	ScheduleICMP bool
	// NATIcmpSend: answer a real server's packet that matches no
	// connection with ICMP port unreachable (kernel default 0).
	NATIcmpSend bool
	// CacheBypass: forward to the original destination when a fwmark
	// service has no available server (kernel default 0).
	CacheBypass bool
	// SyncThreshold, SyncPeriod: when the master sync daemon sends a
	// connection (kernel defaults 3 and 50 packets).
	SyncThreshold int
	SyncPeriod    int
}

// KernelOptions returns the kernel's defaults.
func KernelOptions() Options {
	return Options{
		ConnReuseMode: 1,
		AmDropRate:    10,
		LoadThreshold: 0.9,
		SyncThreshold: 3,
		SyncPeriod:    50,
	}
}

// DefaultOptions returns GVS's defaults: the kernel's, except that deleted
// and quiescent servers stop receiving traffic.
func DefaultOptions() Options {
	o := KernelOptions()
	o.ExpireNodestConn = true
	o.ExpireQuiescentTemplate = true
	return o
}

func (o Options) validate() error {
	for _, v := range []int{o.SecureTCP, o.DropEntry, o.DropPacket} {
		if v < 0 || v > 3 {
			return &Error{Code: ErrInvalid, Msg: "defense modes are 0..3"}
		}
	}
	if o.ConnReuseMode < 0 || o.ConnReuseMode > 3 {
		return &Error{Code: ErrInvalid, Msg: "conn_reuse_mode is 0..3"}
	}
	if o.LoadThreshold < 0 || o.LoadThreshold > 1 {
		return &Error{Code: ErrInvalid, Msg: "load threshold is a ratio 0..1"}
	}
	if o.AmDropRate < 0 {
		return &Error{Code: ErrInvalid, Msg: "am_droprate must not be negative"}
	}
	return nil
}
