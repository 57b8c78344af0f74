package ipvsadm

// The grammar's data: ipvsadm 1.31's commands, options, the table of legal
// command/option combinations, the tunnel option table, kernel constants
// and the popt option table, in ipvsadm's order (the order decides which
// message a bad command line gets).

// Commands, in ipvsadm's order (cmdnames[] and the rows of the option table).
const (
	cmdNone = iota
	cmdAdd
	cmdEdit
	cmdDel
	cmdFlush
	cmdList
	cmdAddDest
	cmdDelDest
	cmdEditDest
	cmdTimeout
	cmdStartDaemon
	cmdStopDaemon
	cmdRestore
	cmdSave
	cmdZero
	// GVS: -h and -v, which ipvsadm handles while parsing.
	cmdHelp
	cmdVersion
)

var cmdNames = [...]string{
	cmdAdd: "add-service", cmdEdit: "edit-service", cmdDel: "delete-service", cmdFlush: "flush",
	cmdList: "list", cmdAddDest: "add-server", cmdDelDest: "delete-server", cmdEditDest: "edit-server",
	cmdTimeout: "set", cmdStartDaemon: "start-daemon", cmdStopDaemon: "stop-daemon",
	cmdRestore: "restore", cmdSave: "save", cmdZero: "zero",
}

// Options, in ipvsadm's order (the columns of the option table); optJSON is
// GVS's addition.
const (
	optNumeric = iota
	optConnection
	optService
	optScheduler
	optPersistent
	optNetmask
	optServer
	optForward
	optWeight
	optUThreshold
	optLThreshold
	optMcast
	optTimeout
	optDaemon
	optStats
	optRate
	optThresholds
	optPersistentConn
	optNoSort
	optSyncID
	optExact
	optOnePacket
	optPE
	optSchedFlags
	optMcastGroup
	optMcastPort
	optMcastTTL
	optSyncMaxLen
	optTunInfo
	optTunType
	optTunPort
	optTunNoCsum
	optTunCsum
	optTunRemCsum
	optJSON
	optHealth // GVS: gvsadm -L --health
	numOpts
)

var optNames = [numOpts]string{
	"numeric", "connection", "service-address", "scheduler", "persistent", "netmask",
	"real-server", "forwarding-method", "weight", "u-threshold", "l-threshold",
	"mcast-interface", "timeout", "daemon", "stats", "rate", "thresholds",
	"persistent-conn", "nosort", "syncid", "exact", "ops", "pe", "sched-flags",
	"mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type",
	"tun-port", "tun-nocsum", "tun-csum", "tun-remcsum", "json", "health",
}

func bit(o int) uint64 { return 1 << uint(o) }

// cmdOptions is ipvsadm's commands_v_options table: '+' compulsory, 'x'
// illegal, '1' exclusive, ' ' optional. The last columns (json, health)
// are GVS's.
var cmdOptions = [...]string{
	cmdAdd:         "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx" + "x" + "x",
	cmdEdit:        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx" + "x" + "x",
	cmdDel:         "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x" + "x",
	cmdFlush:       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x" + "x",
	cmdList:        " 11xxxxxxxxx11       xxxxxxx xxxxx" + " " + "1",
	cmdAddDest:     "xx+xxx+    xxxxxxxxxxxxxxxxxx     " + "x" + "x",
	cmdDelDest:     "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x" + "x",
	cmdEditDest:    "xx+xxx+    xxxxxxxxxxxxxxxxxx     " + "x" + "x",
	cmdTimeout:     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x" + "x",
	cmdStartDaemon: "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx" + "x" + "x",
	cmdStopDaemon:  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx" + "x" + "x",
	cmdRestore:     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x" + "x",
	cmdSave:        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x" + "x",
	cmdZero:        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x" + "x",
}

// Tunnel types and their option table (tunnel_types_v_options).
var tunNames = [...]string{"ipip", "gue", "gre"}
var tunFlagNames = [...]string{"-c", "+c", "r+c"}
var tunFlagOpts = [...]string{"--tun-nocsum", "--tun-csum", "--tun-remcsum"}
var tunOpts = [...]int{optTunPort, optTunNoCsum, optTunCsum, optTunRemCsum}
var tunTypeOptions = [...]string{
	"xxxx", // ipip
	"+111", // gue
	"x11x", // gre
}

// Address families and protocols as ipvsadm and the kernel number them.
const (
	afUnspec = 0
	afInet   = 2
	afInet6  = 10

	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

// Kernel flag values.
const (
	svcFPersistent = 0x0001
	svcFHashed     = 0x0002
	svcFOnePacket  = 0x0004
	svcFSched1     = 0x0008
	svcFSched2     = 0x0010
	svcFSched3     = 0x0020
	svcFSchedMask  = svcFSched1 | svcFSched2 | svcFSched3

	connFMasq   = 0
	connFLocal  = 1
	connFTunnel = 2
	connFRoute  = 3

	stateMaster = 1
	stateBackup = 2
)

const (
	defSched          = "wlc"
	defMcastIfn       = "eth0"
	maxTimeout        = 86400 * 31
	persistentTimeout = 6 * 60
	intMax            = 1<<31 - 1
	schedNameMax      = 16 // IP_VS_SCHEDNAME_MAXLEN
	peNameMax         = 16 // IP_VS_PENAME_MAXLEN
	ifNameMax         = 16 // IP_VS_IFNAME_MAXLEN
)

// Format flags (ipvsadm's FMT_*).
const (
	fmtNumeric = 1 << iota
	fmtRule
	fmtStats
	fmtRate
	fmtThresholds
	fmtPersistentConn
	fmtNoSort
	fmtExact
	fmtTunInfo
	fmtJSON // GVS
)

// Tags for options without a short name (values outside ASCII, as ipvsadm).
const (
	tagSet = 128 + iota
	tagStartDaemon
	tagStopDaemon
	tagMcastInterface
	tagTimeout
	tagDaemon
	tagStats
	tagRate
	tagThresholds
	tagPersistentConn
	tagSort
	tagNoSort
	tagPE
	tagSCTPService
	tagMcastGroup
	tagMcastPort
	tagMcastTTL
	tagSyncMaxLen
	tagTunInfo
	tagTunType
	tagTunPort
	tagTunNoCsum
	tagTunCsum
	tagTunRemCsum
	tagJSON
	tagHealth
)

var optionTable = []poptOption{
	{"add-service", 'A', argNone, 'A'},
	{"edit-service", 'E', argNone, 'E'},
	{"delete-service", 'D', argNone, 'D'},
	{"clear", 'C', argNone, 'C'},
	{"list", 'L', argNone, 'L'},
	{"list", 'l', argNone, 'l'},
	{"zero", 'Z', argNone, 'Z'},
	{"add-server", 'a', argNone, 'a'},
	{"edit-server", 'e', argNone, 'e'},
	{"delete-server", 'd', argNone, 'd'},
	{"set", 0, argNone, tagSet},
	{"help", 'h', argNone, 'h'},
	{"version", 'v', argNone, 'v'},
	{"restore", 'R', argNone, 'R'},
	{"save", 'S', argNone, 'S'},
	{"start-daemon", 0, argString, tagStartDaemon},
	{"stop-daemon", 0, argString, tagStopDaemon},
	{"tcp-service", 't', argString, 't'},
	{"udp-service", 'u', argString, 'u'},
	{"sctp-service", 0, argString, tagSCTPService},
	{"fwmark-service", 'f', argString, 'f'},
	{"scheduler", 's', argString, 's'},
	{"persistent", 'p', argOptional, 'p'},
	{"netmask", 'M', argString, 'M'},
	{"real-server", 'r', argString, 'r'},
	{"masquerading", 'm', argNone, 'm'},
	{"ipip", 'i', argNone, 'i'},
	{"gatewaying", 'g', argNone, 'g'},
	{"weight", 'w', argString, 'w'},
	{"u-threshold", 'x', argString, 'x'},
	{"l-threshold", 'y', argString, 'y'},
	{"numeric", 'n', argNone, 'n'},
	{"connection", 'c', argNone, 'c'},
	{"mcast-interface", 0, argString, tagMcastInterface},
	{"syncid", 0, argString, 'I'},
	{"timeout", 0, argNone, tagTimeout},
	{"daemon", 0, argNone, tagDaemon},
	{"stats", 0, argNone, tagStats},
	{"rate", 0, argNone, tagRate},
	{"thresholds", 0, argNone, tagThresholds},
	{"persistent-conn", 0, argNone, tagPersistentConn},
	{"nosort", 0, argNone, tagNoSort},
	{"sort", 0, argNone, tagSort},
	{"exact", 'X', argNone, 'X'},
	{"ipv6", '6', argNone, '6'},
	{"ops", 'o', argNone, 'o'},
	{"pe", 0, argString, tagPE},
	{"sched-flags", 'b', argString, 'b'},
	{"mcast-group", 0, argString, tagMcastGroup},
	{"mcast-port", 0, argString, tagMcastPort},
	{"mcast-ttl", 0, argString, tagMcastTTL},
	{"sync-maxlen", 0, argString, tagSyncMaxLen},
	{"tun-info", 0, argNone, tagTunInfo},
	{"tun-type", 0, argString, tagTunType},
	{"tun-port", 0, argString, tagTunPort},
	{"tun-nocsum", 0, argNone, tagTunNoCsum},
	{"tun-csum", 0, argNone, tagTunCsum},
	{"tun-remcsum", 0, argNone, tagTunRemCsum},
	{"json", 0, argNone, tagJSON},     // GVS addition
	{"health", 0, argNone, tagHealth}, // GVS addition: gvsd's health checks
}
