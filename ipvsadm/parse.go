package ipvsadm

import (
	"fmt"
	"net/netip"
	"strings"
)

// This file parses ipvsadm's command line: the per-option checks done
// while reading the options (in argument order, the first failure wins),
// then the table of legal command/option combinations (options.go) and the
// checks ipvsadm makes before it talks to the kernel. Every message, and
// whether it exits 2 (ipvsadm's own checks) or 255 (popt), is ipvsadm 1.31's.

// inetAddr mirrors the C union nf_inet_addr: an IPv4 address fills the
// first four bytes. ipvsadm's sort compares these words whatever the family.
type inetAddr [16]byte

func inetAddrFrom(a netip.Addr) inetAddr {
	var r inetAddr
	if a.Is4() {
		b := a.As4()
		copy(r[:4], b[:])
		return r
	}
	return inetAddr(a.As16())
}

func inetAddrFrom4(v uint32) inetAddr {
	return inetAddr{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

func (a inetAddr) netip(af int) netip.Addr {
	if af == afInet6 {
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte{a[0], a[1], a[2], a[3]})
}

func (a inetAddr) word(i int) uint32 {
	return uint32(a[4*i])<<24 | uint32(a[4*i+1])<<16 | uint32(a[4*i+2])<<8 | uint32(a[4*i+3])
}

// svcSpec is ipvsadm's ipvs_service_t as the parser fills it.
type svcSpec struct {
	af       int
	protocol int
	addr     inetAddr
	port     uint16
	fwmark   uint32
	sched    string
	flags    uint32
	timeout  uint32
	netmask  uint32 // IPv4: mask in host order; IPv6: prefix length
	pe       string
}

// destSpec is ipvsadm's ipvs_dest_t.
type destSpec struct {
	af         int
	addr       inetAddr
	port       uint16
	connFlags  uint32
	weight     int64
	uThreshold int64
	lThreshold int64
	tunType    int
	tunPort    uint16
	tunFlags   uint16
}

// daemonSpec is ipvsadm's ipvs_daemon_t.
type daemonSpec struct {
	state   int
	ifn     string
	syncID  int
	maxLen  int
	mcastAF int
	group   netip.Addr
	port    int
	ttl     int
}

// Command is one parsed ipvsadm command line, ready to run.
type Command struct {
	cmd     int
	options uint64
	format  uint
	svc     svcSpec
	dest    destSpec
	tout    Timeouts
	daemon  daemonSpec
	prog    string
}

// Name returns ipvsadm's name for the command ("add-service", "list", ...),
// "help" or "version".
func (c *Command) Name() string {
	switch c.cmd {
	case cmdHelp:
		return "help"
	case cmdVersion:
		return "version"
	}
	return cmdNames[c.cmd]
}

func protocolOfOption(c int) int {
	switch c {
	case 't':
		return protoTCP
	case 'u':
		return protoUDP
	case tagSCTPService:
		return protoSCTP
	}
	return 0
}

func protoName(p int) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoSCTP:
		return "sctp"
	}
	return ""
}

// ParseArgs parses one ipvsadm command line (argv[0] is the program name)
// as ipvsadm 1.31 does, including every check it makes before talking to
// the kernel. Help and version requests are commands too. Failures are
// *ExitError values carrying ipvsadm's message and exit status.
func ParseArgs(argv []string, r Resolver) (*Command, error) {
	if len(argv) == 0 {
		argv = []string{"ipvsadm"}
	}
	if r == nil {
		r = NewSystemResolver()
	}
	// C sees each argument up to its first NUL byte.
	args := make([]string, len(argv))
	for i, a := range argv {
		if j := strings.IndexByte(a, 0); j >= 0 {
			a = a[:j]
		}
		args[i] = a
	}
	p := &parser{r: r, prog: args[0]}
	ce, err := p.parse(args)
	if err != nil {
		return nil, err
	}
	if err := p.check(ce); err != nil {
		return nil, err
	}
	return ce, nil
}

type parser struct {
	r    Resolver
	prog string
}

func (p *parser) setOption(options *uint64, o int) *ExitError {
	if *options&bit(o) != 0 {
		return fail(2, "multiple '%s' options specified", optNames[o])
	}
	*options |= bit(o)
	return nil
}

func str(a *string) string {
	if a == nil {
		return ""
	}
	return *a
}

// parse is ipvsadm's parse_options.
func (p *parser) parse(argv []string) (*Command, error) {
	ce := &Command{prog: p.prog}
	ce.dest.weight = 1
	ce.dest.connFlags = connFRoute
	ce.svc.netmask = 0xffffffff

	ctx := newPoptContext(argv, optionTable)
	c, arg := ctx.nextOpt()
	if c < 0 {
		return nil, tryHelp(p.prog)
	}
	switch c {
	case 'A':
		ce.cmd = cmdAdd
	case 'E':
		ce.cmd = cmdEdit
	case 'D':
		ce.cmd = cmdDel
	case 'a':
		ce.cmd = cmdAddDest
	case 'e':
		ce.cmd = cmdEditDest
	case 'd':
		ce.cmd = cmdDelDest
	case 'C':
		ce.cmd = cmdFlush
	case 'L', 'l':
		ce.cmd = cmdList
	case 'Z':
		ce.cmd = cmdZero
	case tagSet:
		ce.cmd = cmdTimeout
	case 'R':
		ce.cmd = cmdRestore
	case 'S':
		ce.cmd = cmdSave
	case tagStartDaemon:
		ce.cmd = cmdStartDaemon
		switch str(arg) {
		case "master":
			ce.daemon.state = stateMaster
		case "backup":
			ce.daemon.state = stateBackup
		default:
			return nil, fail(2, "illegal start-daemon parameter specified")
		}
	case tagStopDaemon:
		ce.cmd = cmdStopDaemon
		switch str(arg) {
		case "master":
			ce.daemon.state = stateMaster
		case "backup":
			ce.daemon.state = stateBackup
		default:
			return nil, fail(2, "illegal start_daemon specified")
		}
	case 'h':
		ce.cmd = cmdHelp
		return ce, nil
	case 'v':
		ce.cmd = cmdVersion
		return ce, nil
	default:
		return nil, tryHelp(p.prog)
	}

	schedFlags := ""
	for {
		c, arg = ctx.nextOpt()
		if c < 0 {
			break
		}
		optarg := str(arg)
		var err *ExitError
		switch c {
		case 't', 'u', tagSCTPService:
			if err = p.setOption(&ce.options, optService); err != nil {
				break
			}
			ce.svc.protocol = protocolOfOption(c)
			if parse := p.parseService(arg, &ce.svc); parse&serviceAddr == 0 {
				err = fail(2, "illegal virtual server address[:port] specified")
			}
		case 'f':
			if err = p.setOption(&ce.options, optService); err != nil {
				break
			}
			ce.svc.af = afInet
			ce.svc.protocol = protoTCP
			ce.svc.fwmark, err = parseFwmark(optarg)
		case 's':
			if err = p.setOption(&ce.options, optScheduler); err != nil {
				break
			}
			ce.svc.sched = truncate(optarg, schedNameMax-1)
		case 'p':
			if err = p.setOption(&ce.options, optPersistent); err != nil {
				break
			}
			ce.svc.flags |= svcFPersistent
			var t int64
			t, err = parseTimeout(arg, 1, maxTimeout)
			ce.svc.timeout = uint32(t)
		case 'M':
			if err = p.setOption(&ce.options, optNetmask); err != nil {
				break
			}
			if ce.svc.af != afInet6 {
				m, ok := p.parseNetmask(optarg)
				if !ok {
					err = fail(2, "illegal virtual server persistent mask specified")
					break
				}
				ce.svc.netmask = m
			} else {
				ce.svc.netmask = uint32(atoi(optarg))
				if ce.svc.netmask < 1 || ce.svc.netmask > 128 {
					err = fail(2, "illegal ipv6 netmask specified")
				}
			}
		case 'r':
			if err = p.setOption(&ce.options, optServer); err != nil {
				break
			}
			t := ce.svc
			parse := p.parseService(arg, &t)
			ce.dest.af = t.af
			ce.dest.addr = t.addr
			ce.dest.port = t.port
			if parse&serviceAddr == 0 {
				err = fail(2, "illegal real server address[:port] specified")
				break
			}
			if parse == serviceAddr {
				ce.dest.port = ce.svc.port
			}
		case 'i':
			err = p.setOption(&ce.options, optForward)
			ce.dest.connFlags = connFTunnel
		case 'g':
			err = p.setOption(&ce.options, optForward)
			ce.dest.connFlags = connFRoute
		case 'm':
			err = p.setOption(&ce.options, optForward)
			ce.dest.connFlags = connFMasq
		case 'w':
			if err = p.setOption(&ce.options, optWeight); err != nil {
				break
			}
			// ipvsadm 1.31 as Debian ships it accepts any weight up to
			// INT_MAX (the oracle: -w 65536 and -w 2147483647 work).
			if ce.dest.weight = stringToNumber(optarg, 0, intMax); ce.dest.weight == -1 {
				err = fail(2, "illegal weight specified")
			}
		case 'x':
			if err = p.setOption(&ce.options, optUThreshold); err != nil {
				break
			}
			if ce.dest.uThreshold = stringToNumber(optarg, 0, intMax); ce.dest.uThreshold == -1 {
				err = fail(2, "illegal u_threshold specified")
			}
		case 'y':
			if err = p.setOption(&ce.options, optLThreshold); err != nil {
				break
			}
			if ce.dest.lThreshold = stringToNumber(optarg, 0, intMax); ce.dest.lThreshold == -1 {
				err = fail(2, "illegal l_threshold specified")
			}
		case 'c':
			err = p.setOption(&ce.options, optConnection)
		case 'n':
			err = p.setOption(&ce.options, optNumeric)
			ce.format |= fmtNumeric
		case tagMcastInterface:
			if err = p.setOption(&ce.options, optMcast); err != nil {
				break
			}
			ce.daemon.ifn = truncate(optarg, ifNameMax-1)
		case 'I':
			if err = p.setOption(&ce.options, optSyncID); err != nil {
				break
			}
			if v := stringToNumber(optarg, 0, 255); v == -1 {
				err = fail(2, "illegal syncid specified")
			} else {
				ce.daemon.syncID = int(v)
			}
		case tagTimeout:
			err = p.setOption(&ce.options, optTimeout)
		case tagDaemon:
			err = p.setOption(&ce.options, optDaemon)
		case tagStats:
			err = p.setOption(&ce.options, optStats)
			ce.format |= fmtStats
		case tagRate:
			err = p.setOption(&ce.options, optRate)
			ce.format |= fmtRate
		case tagThresholds:
			err = p.setOption(&ce.options, optThresholds)
			ce.format |= fmtThresholds
		case tagPersistentConn:
			err = p.setOption(&ce.options, optPersistentConn)
			ce.format |= fmtPersistentConn
		case tagNoSort:
			err = p.setOption(&ce.options, optNoSort)
			ce.format |= fmtNoSort
		case tagSort:
			// the default; accepted for backwards compatibility
		case 'X':
			err = p.setOption(&ce.options, optExact)
			ce.format |= fmtExact
		case '6':
			if ce.svc.fwmark != 0 {
				ce.svc.af = afInet6
				ce.svc.netmask = 128
			} else {
				err = fail(2, "-6 used before -f\n")
			}
		case 'o':
			err = p.setOption(&ce.options, optOnePacket)
			ce.svc.flags |= svcFOnePacket
		case tagPE:
			if err = p.setOption(&ce.options, optPE); err != nil {
				break
			}
			ce.svc.pe = truncate(optarg, peNameMax)
		case 'b':
			if err = p.setOption(&ce.options, optSchedFlags); err != nil {
				break
			}
			schedFlags = truncate(optarg, 127)
		case tagMcastGroup:
			if err = p.setOption(&ce.options, optMcastGroup); err != nil {
				break
			}
			if strings.Contains(optarg, ":") {
				a, ok := inetPton6(optarg)
				if !ok || !a.IsMulticast() {
					err = fail(2, "invalid IPv6 mcast-group `%s'", optarg)
					break
				}
				ce.daemon.group, ce.daemon.mcastAF = a, afInet6
			} else {
				a, ok := inetPton4(optarg)
				if !ok || !a.IsMulticast() {
					err = fail(2, "invalid IPv4 mcast-group `%s'", optarg)
					break
				}
				ce.daemon.group, ce.daemon.mcastAF = a, afInet
			}
		case tagMcastPort:
			if err = p.setOption(&ce.options, optMcastPort); err != nil {
				break
			}
			if v := stringToNumber(optarg, 1, 65535); v == -1 {
				err = fail(2, "illegal mcast-port specified")
			} else {
				ce.daemon.port = int(v)
			}
		case tagMcastTTL:
			if err = p.setOption(&ce.options, optMcastTTL); err != nil {
				break
			}
			if v := stringToNumber(optarg, 1, 255); v == -1 {
				err = fail(2, "illegal mcast-ttl specified")
			} else {
				ce.daemon.ttl = int(v)
			}
		case tagSyncMaxLen:
			if err = p.setOption(&ce.options, optSyncMaxLen); err != nil {
				break
			}
			if v := stringToNumber(optarg, 1, 65535-20-8); v == -1 {
				err = fail(2, "illegal sync-maxlen specified")
			} else {
				ce.daemon.maxLen = int(v)
			}
		case tagTunInfo:
			err = p.setOption(&ce.options, optTunInfo)
			ce.format |= fmtTunInfo
		case tagTunType:
			if err = p.setOption(&ce.options, optTunType); err != nil {
				break
			}
			t := parseTunType(optarg)
			if t < 0 {
				err = fail(2, "illegal tunnel type specified")
				break
			}
			ce.dest.tunType = t
		case tagTunPort:
			if err = p.setOption(&ce.options, optTunPort); err != nil {
				break
			}
			v := stringToNumber(optarg, 1, 65535)
			if v == -1 {
				err = fail(2, "illegal tunnel port specified")
				break
			}
			ce.dest.tunPort = uint16(v)
		case tagTunNoCsum:
			err = p.setOption(&ce.options, optTunNoCsum)
		case tagTunCsum:
			err = p.setOption(&ce.options, optTunCsum)
			ce.dest.tunFlags |= 1
		case tagTunRemCsum:
			err = p.setOption(&ce.options, optTunRemCsum)
			ce.dest.tunFlags |= 2
		case tagJSON:
			err = p.setOption(&ce.options, optJSON)
			ce.format |= fmtJSON
		case tagHealth:
			err = p.setOption(&ce.options, optHealth)
		default:
			err = fail(2, "invalid option `%s'", ctx.badOption())
		}
		if err != nil {
			return nil, err
		}
	}
	if c < -1 {
		return nil, &ExitError{Code: 255, Stderr: fmt.Sprintf("%s: %s\n", ctx.badOption(), poptStrerror(c))}
	}

	if ce.cmd == cmdTimeout {
		var vals [3]string
		for i := range vals {
			a, ok := ctx.getArg()
			if !ok {
				return nil, fail(2, "--set option requires 3 timeout values")
			}
			vals[i] = a
		}
		var t [3]int64
		for i := range vals {
			v, err := parseTimeout(&vals[i], 0, maxTimeout)
			if err != nil {
				return nil, err
			}
			t[i] = v
		}
		ce.tout = Timeouts{TCP: uint32(t[0]), TCPFin: uint32(t[1]), UDP: uint32(t[2])}
	}
	if extra, ok := ctx.getArg(); ok {
		return nil, fail(2, "unexpected argument %s", extra)
	}
	if schedFlags != "" {
		ce.svc.flags &^= svcFSchedMask
		f, err := parseSchedFlags(ce.svc.sched, schedFlags)
		if err != nil {
			return nil, err
		}
		ce.svc.flags |= f
	}
	return ce, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	// strncpy stops at a NUL; a Go string may contain one
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// check is the part of ipvsadm's process_options between parsing and
// calling the kernel: the option table, then per-command rules.
func (p *parser) check(ce *Command) error {
	if ce.cmd == cmdHelp || ce.cmd == cmdVersion {
		return nil
	}
	if err := genericOptCheck(ce.cmd, ce.options); err != nil {
		return err
	}
	if ce.cmd == cmdAdd || ce.cmd == cmdEdit {
		if ce.svc.fwmark == 0 && ce.svc.port == 0 && ce.svc.flags&svcFPersistent == 0 {
			return fail(2, "Zero port specified for non-persistent service")
		}
		if ce.svc.flags&svcFOnePacket != 0 && ce.svc.fwmark == 0 && ce.svc.protocol != protoUDP {
			return fail(2, "One-Packet Scheduling is only for UDP virtual services")
		}
		if ce.svc.sched == "" {
			ce.svc.sched = defSched
		}
	}
	if ce.cmd == cmdStartDaemon && ce.daemon.ifn == "" {
		ce.daemon.ifn = defMcastIfn
	}
	fwd := ce.dest.connFlags
	if ce.cmd == cmdAddDest || ce.cmd == cmdEditDest {
		if ce.svc.fwmark == 0 && (fwd == connFTunnel || fwd == connFRoute) {
			ce.dest.port = ce.svc.port
		}
		if ce.dest.af != ce.svc.af && fwd != connFTunnel {
			return fail(2, "Different address family is allowed only for tunneling servers")
		}
		tunMask := bit(optTunType) | bit(optTunPort) | bit(optTunNoCsum) | bit(optTunCsum) | bit(optTunRemCsum)
		if ce.options&tunMask != 0 && fwd != connFTunnel {
			return fail(2, "Tunnel options conflict with forward method")
		}
		if err := tunnelOptCheck(ce.dest.tunType, ce.options); err != nil {
			return err
		}
	}
	if ce.cmd == cmdList {
		o := ce.options
		if (o&(bit(optConnection)|bit(optTimeout)|bit(optDaemon)) != 0 &&
			o&(bit(optStats)|bit(optRate)|bit(optThresholds)) != 0) ||
			(o&(bit(optTimeout)|bit(optDaemon)) != 0 && o&bit(optPersistentConn) != 0) ||
			(o&bit(optHealth) != 0 && o&(bit(optStats)|bit(optRate)|bit(optThresholds)|bit(optPersistentConn)) != 0) {
			return fail(2, "options conflicts in the list command")
		}
	}
	return nil
}

func genericOptCheck(cmd int, options uint64) *ExitError {
	row := cmdOptions[cmd]
	last, count := 0, 0
	for j := 0; j < numOpts; j++ {
		if options&bit(j) == 0 {
			if row[j] == '+' {
				return fail(2, "You need to supply the '%s' option for the '%s' command", optNames[j], cmdNames[cmd])
			}
			continue
		}
		switch row[j] {
		case 'x':
			return fail(2, "Illegal '%s' option with the '%s' command", optNames[j], cmdNames[cmd])
		case '1':
			count++
			if count == 1 {
				last = j
				continue
			}
			return fail(2, "The option '%s' conflicts with the '%s' option in the '%s' command", optNames[j], optNames[last], cmdNames[cmd])
		}
	}
	return nil
}

func tunnelOptCheck(tunType int, options uint64) *ExitError {
	row := tunTypeOptions[tunType]
	last, count := 0, 0
	for j, k := range tunOpts {
		if options&bit(k) == 0 {
			if row[j] == '+' {
				return fail(2, "You need to supply the '%s' option for the '%s' tunnel type", optNames[k], tunNames[tunType])
			}
			continue
		}
		switch row[j] {
		case 'x':
			return fail(2, "Illegal '%s' option with the '%s' tunnel type", optNames[k], tunNames[tunType])
		case '1':
			count++
			if count == 1 {
				last = k
				continue
			}
			return fail(2, "The option '%s' conflicts with the '%s' option in the '%s' tunnel type", optNames[k], optNames[last], tunNames[tunType])
		}
	}
	return nil
}

func parseTimeout(arg *string, lo, hi int64) (int64, *ExitError) {
	if arg == nil {
		return persistentTimeout, nil
	}
	v := stringToNumber(*arg, lo, hi)
	if v == -1 {
		return 0, fail(2, "invalid timeout value `%s' specified", *arg)
	}
	return v, nil
}

func parseFwmark(s string) (uint32, *ExitError) {
	v, end, erange := strtol10(s)
	// ipvsadm stores strtol's result in an unsigned long: negative values
	// become huge and fail the upper bound.
	if end == 0 || end != len(s) || erange || v <= 0 || v > 0xffffffff {
		return 0, fail(2, "invalid fwmark value `%s' specified", s)
	}
	return uint32(v), nil
}

func (p *parser) parseNetmask(s string) (uint32, bool) {
	if v, ok := inetAton(s); ok {
		return v, true
	}
	if a, ok := p.r.HostAddr4(s); ok {
		b := a.As4()
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
	}
	return 0, false
}

func parseTunType(s string) int {
	for i, n := range tunNames {
		if s == n {
			return i
		}
	}
	return -1
}

func parseSchedFlags(sched, arg string) (uint32, *ExitError) {
	if sched == "" {
		sched = defSched
	}
	var flags uint32
	n := 0
	for _, f := range strings.Split(arg, ",") {
		if f == "" {
			continue // strtok skips empty fields
		}
		n++
		switch f {
		case "flag-1":
			flags |= svcFSched1
		case "flag-2":
			flags |= svcFSched2
		case "flag-3":
			flags |= svcFSched3
		case "sh-fallback", "mh-fallback":
			flags |= svcFSched1
			if sched != f[:2] {
				return 0, fail(2, "incompatible scheduler flag `%s'", f)
			}
		case "sh-port", "mh-port":
			flags |= svcFSched2
			if sched != f[:2] {
				return 0, fail(2, "incompatible scheduler flag `%s'", f)
			}
		default:
			return 0, fail(2, "invalid scheduler flag `%s'", f)
		}
	}
	if n == 0 {
		// ipvsadm dereferences a NULL token here and crashes; GVS reports it.
		return 0, fail(2, "invalid scheduler flag `%s'", arg)
	}
	return flags, nil
}

// Results of parseService, ipvsadm's SERVICE_* bits.
const (
	serviceNone = 0
	serviceAddr = 1
	servicePort = 2
)

// parseService is ipvsadm's parse_service: host[:port], [ipv6][:port] or a
// bare IPv6 address, host and port by number or by name.
func (p *parser) parseService(arg *string, svc *svcSpec) int {
	if arg == nil {
		return serviceNone
	}
	buf := *arg
	if i := strings.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i] // C strings end at NUL
	}
	if strIsDigit(buf) {
		return serviceNone
	}
	hasPort := false
	port := ""
	if buf[0] == '[' {
		buf = buf[1:]
		i := strings.IndexByte(buf, ']')
		if i < 0 {
			return serviceNone
		}
		rest := buf[i+1:]
		buf = buf[:i]
		if len(rest) == 0 || rest[0] != ':' {
			return serviceNone
		}
		hasPort, port = true, rest[1:]
	}
	if a, ok := inetPton6(buf); ok {
		svc.addr = inetAddrFrom(a)
		svc.af = afInet6
		svc.netmask = 128
	} else {
		// strrchr(buf, ':'): inside brackets buf has no colon left, so the
		// port after "]:" is dropped, as in ipvsadm.
		hasPort = false
		if i := strings.LastIndexByte(buf, ':'); i >= 0 {
			hasPort, port = true, buf[i+1:]
			buf = buf[:i]
		}
		if v, ok := inetAton(buf); ok {
			svc.addr = inetAddrFrom4(v)
			svc.af = afInet
		} else if a, ok := p.r.HostAddr4(buf); ok {
			svc.addr = inetAddrFrom(a)
			svc.af = afInet
		} else {
			return serviceNone
		}
	}
	result := serviceAddr
	if hasPort {
		result |= servicePort
		if n := stringToNumber(port, 0, 65535); n != -1 {
			svc.port = uint16(n)
		} else if n, ok := p.serviceToPort(port, svc.protocol); ok {
			svc.port = n
		} else {
			return serviceNone
		}
	}
	return result
}

func (p *parser) serviceToPort(name string, proto int) (uint16, bool) {
	pn := protoName(proto)
	if pn == "" {
		return 0, false
	}
	return p.r.ServicePort(name, pn)
}
