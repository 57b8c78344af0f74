package ipvsadm

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/govs/gvs/ipvs"
)

// This file prints what ipvsadm -L prints (and, with fmtRule, what -S
// prints: ipvsadm shares the code): the header, the column titles, one
// line per service and per destination in the chosen format, the
// connection table, the timeouts and the sync daemons. Widths, padding,
// truncation and number formats are ipvsadm 1.31's.

// lister prints listings for one command.
type lister struct {
	w      io.Writer
	r      Resolver
	format uint
}

// service is a service as the printing code needs it: the backend's
// status plus ipvsadm's view of its identity.
type service struct {
	st    *ipvs.ServiceStatus
	e     svcEntry
	dests []dest
}

type dest struct {
	st *ipvs.DestStatus
	e  destEntry
}

func familyAF(f ipvs.Family) int {
	if f == ipvs.IPv6 {
		return afInet6
	}
	return afInet
}

func addrAF(a netip.Addr) int {
	if a.Is4() || a.Is4In6() {
		return afInet
	}
	return afInet6
}

func newService(st *ipvs.ServiceStatus) service {
	s := service{st: st}
	if st.FWMark != 0 {
		// the kernel reports no protocol for fwmark services, so their
		// destinations' ports are never named (golden 207: -L -f 1)
		s.e = svcEntry{fwmark: st.FWMark, af: familyAF(st.Family)}
	} else {
		af := addrAF(st.Addr)
		a := st.Addr
		if af == afInet {
			a = a.Unmap()
		}
		s.e = svcEntry{af: af, protocol: int(st.Protocol), addr: inetAddrFrom(a), port: st.Port}
	}
	s.dests = make([]dest, len(st.Dests))
	for i := range st.Dests {
		d := &st.Dests[i]
		af := familyAF(d.Family)
		a := d.Addr
		if af == afInet {
			a = a.Unmap()
		}
		s.dests[i] = dest{st: d, e: destEntry{af: af, addr: inetAddrFrom(a), port: d.Port}}
	}
	return s
}

// services converts and, unless --nosort, sorts as ipvsadm does.
func (l *lister) services(sts []ipvs.ServiceStatus) []service {
	out := make([]service, len(sts))
	for i := range sts {
		out[i] = newService(&sts[i])
	}
	if l.format&fmtNoSort == 0 {
		msort(out, func(a, b *service) int { return cmpServices(&a.e, &b.e) })
	}
	return out
}

// ---- names ----

func (l *lister) addrToAnyname(af int, a netip.Addr) string {
	if n, ok := l.r.AddrName(a); ok {
		return n
	}
	return ntop(a)
}

func (l *lister) portToAnyname(port uint16, proto int) string {
	if pn := protoName(proto); pn != "" {
		if n, ok := l.r.ServiceName(port, pn); ok {
			return n
		}
	}
	return strconv.Itoa(int(port))
}

// addrportToAnyname formats host:port ([host]:port for IPv6) in ipvsadm's
// 60-byte buffer, by name unless -n.
func (l *lister) addrportToAnyname(af int, a netip.Addr, port uint16, proto int) string {
	open, close := "", ""
	if af != afInet {
		open, close = "[", "]"
	}
	var s string
	if l.format&fmtNumeric != 0 {
		s = open + ntop(a) + close + ":" + strconv.Itoa(int(port))
	} else {
		s = open + l.addrToAnyname(af, a) + close + ":" + l.portToAnyname(port, proto)
	}
	return cut(s, 59)
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ---- numbers ----

func (l *lister) largenum(b *strings.Builder, i uint64) {
	if l.format&fmtExact != 0 {
		s := strconv.FormatUint(i, 10)
		w := 9
		if len(s) > 8 {
			w = len(s) + 1
		}
		fmt.Fprintf(b, "%*d", w, i)
		return
	}
	switch {
	case i < 100000000:
		fmt.Fprintf(b, "%9d", i)
	case i < 1000000000:
		fmt.Fprintf(b, "%8dK", i/1000)
	case i < 100000000000:
		fmt.Fprintf(b, "%8dM", i/1000000)
	case i < 100000000000000:
		fmt.Fprintf(b, "%8dG", i/1000000000)
	default:
		fmt.Fprintf(b, "%8dT", i/1000000000000)
	}
}

// ---- names of kernel values ----

func fwdName(m ipvs.ForwardMethod) string {
	switch m {
	case ipvs.Masq:
		return "Masq"
	case ipvs.Local:
		return "Local"
	case ipvs.Tunnel:
		return "Tunnel"
	case ipvs.Route:
		return "Route"
	}
	return "(null)"
}

func fwdSwitch(m ipvs.ForwardMethod) string {
	switch m {
	case ipvs.Masq:
		return "-m"
	case ipvs.Tunnel:
		return "-i"
	case ipvs.Local, ipvs.Route:
		return "-g"
	}
	return "(null)"
}

func tunFlagName(f ipvs.TunnelFlags) string {
	if int(f) < len(tunFlagNames) {
		return tunFlagNames[f]
	}
	return "(null)"
}

func tunFlagOpt(f ipvs.TunnelFlags) string {
	if int(f) < len(tunFlagOpts) {
		return tunFlagOpts[f]
	}
	return "(null)"
}

func fwdTunInfo(d *ipvs.DestStatus) (string, bool) {
	if d.Method != ipvs.Tunnel {
		return "", false
	}
	var s string
	switch d.TunnelType {
	case ipvs.TunnelIPIP:
		s = "ipip"
	case ipvs.TunnelGUE:
		s = fmt.Sprintf("gue:%d:%s", d.TunnelPort, tunFlagName(d.TunnelFlags))
	case ipvs.TunnelGRE:
		s = "gre:" + tunFlagName(d.TunnelFlags)
	default:
		return "", false
	}
	return cut(s, 15), true
}

func schedFlagsString(st *ipvs.ServiceStatus) string {
	f := uint32(st.Flags)
	var parts []string
	switch st.Scheduler {
	case "sh", "mh":
		if f&svcFSched1 != 0 {
			parts = append(parts, st.Scheduler+"-fallback")
		}
		if f&svcFSched2 != 0 {
			parts = append(parts, st.Scheduler+"-port")
		}
	default:
		for i, b := range []uint32{svcFSched1, svcFSched2, svcFSched3} {
			if f&b != 0 {
				parts = append(parts, fmt.Sprintf("flag-%d", i+1))
			}
		}
	}
	return strings.Join(parts, ",")
}

func maskString(m uint32) string {
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

// ---- titles and entries ----

func (l *lister) title() string {
	switch f := l.format; {
	case f&fmtStats != 0:
		return fmt.Sprintf("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case f&fmtRate != 0:
		return fmt.Sprintf("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	case f&fmtThresholds != 0:
		return fmt.Sprintf("%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	case f&fmtPersistentConn != 0:
		return fmt.Sprintf("%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn")
	case f&fmtTunInfo != 0:
		return "Prot LocalAddress:Port Scheduler Flags\n" +
			"  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
	case f&fmtRule == 0:
		return "Prot LocalAddress:Port Scheduler Flags\n" +
			"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
	}
	return ""
}

func protocolName(p int) string {
	switch p {
	case protoTCP:
		return "TCP"
	case protoUDP:
		return "UDP"
	case protoSCTP:
		return "SCTP"
	}
	return "?"
}

func protocolOption(p int) string {
	switch p {
	case protoTCP:
		return "-t"
	case protoUDP:
		return "-u"
	case protoSCTP:
		return "--sctp-service"
	}
	return "--xxx-service"
}

// svcName is the service column: "TCP  host:port", "FWM  7 IPv6", or in
// rule format "-t host:port", "-f 7 -6".
func (l *lister) svcName(s *service) string {
	st := s.st
	rule := l.format&fmtRule != 0
	if s.e.fwmark != 0 {
		mark := int32(s.e.fwmark)
		switch {
		case rule && s.e.af == afInet6:
			return fmt.Sprintf("-f %d -6", mark)
		case rule:
			return fmt.Sprintf("-f %d", mark)
		case s.e.af == afInet6:
			return fmt.Sprintf("FWM  %d IPv6", mark)
		default:
			return fmt.Sprintf("FWM  %d", mark)
		}
	}
	a := s.e.addr.netip(s.e.af)
	vname := l.addrportToAnyname(s.e.af, a, st.Port, s.e.protocol)
	if rule {
		return cut(protocolOption(s.e.protocol)+" "+vname, 1023)
	}
	name := fmt.Sprintf("%-4s %s", protocolName(s.e.protocol), vname)
	if s.e.af != afInet6 {
		name = cut(name, 33)
	}
	return name
}

// printService is ipvsadm's print_service_entry.
func (l *lister) printService(b *strings.Builder, s *service) {
	st := s.st
	name := l.svcName(s)
	flags := uint32(st.Flags)
	switch f := l.format; {
	case f&fmtRule != 0:
		l.saveService(b, s, name)
	case f&fmtStats != 0:
		fmt.Fprintf(b, "%-33s", name)
		c := st.Stats
		for _, v := range []uint64{c.Conns, c.InPkts, c.OutPkts, c.InBytes, c.OutBytes} {
			l.largenum(b, v)
		}
	case f&fmtRate != 0:
		fmt.Fprintf(b, "%-33s", name)
		r := st.Rates
		for _, v := range []uint64{r.CPS, r.InPPS, r.OutPPS, r.InBPS, r.OutBPS} {
			l.largenum(b, v)
		}
	default:
		fmt.Fprintf(b, "%s %s", name, st.Scheduler)
		if flags&svcFSchedMask != 0 {
			b.WriteString(" (")
			b.WriteString(schedFlagsString(st))
			b.WriteString(")")
		}
		if flags&svcFPersistent != 0 {
			fmt.Fprintf(b, " persistent %d", st.Timeout)
			if s.e.af == afInet && st.Netmask != 0xffffffff {
				fmt.Fprintf(b, " mask %s", maskString(st.Netmask))
			}
			if s.e.af == afInet6 && st.Netmask != 128 {
				fmt.Fprintf(b, " mask %d", int32(st.Netmask))
			}
			if st.PE != "" {
				fmt.Fprintf(b, " pe %s", st.PE)
			}
		}
		if flags&svcFOnePacket != 0 {
			b.WriteString(" ops")
		}
	}
	b.WriteByte('\n')

	dests := s.dests
	if l.format&fmtNoSort == 0 {
		dests = append([]dest(nil), dests...)
		msort(dests, func(a, b *dest) int { return cmpDests(&a.e, &b.e) })
	}
	for i := range dests {
		l.printDest(b, name, s, &dests[i])
	}
}

func (l *lister) printDest(b *strings.Builder, svcName string, s *service, d *dest) {
	e := d.st
	dname := l.addrportToAnyname(d.e.af, d.e.addr.netip(d.e.af), e.Port, s.e.protocol)
	rule := l.format&fmtRule != 0
	if !rule && d.e.af != afInet6 {
		dname = cut(dname, 28)
	}
	switch f := l.format; {
	case rule:
		saveDest(b, svcName, dname, e)
	case f&fmtStats != 0:
		fmt.Fprintf(b, "  -> %-28s", dname)
		c := e.Stats
		for _, v := range []uint64{c.Conns, c.InPkts, c.OutPkts, c.InBytes, c.OutBytes} {
			l.largenum(b, v)
		}
		b.WriteByte('\n')
	case f&fmtRate != 0:
		r := e.Rates
		fmt.Fprintf(b, "  -> %-28s %8d %8d %8d", dname, r.CPS, r.InPPS, r.OutPPS)
		l.largenum(b, r.InBPS)
		l.largenum(b, r.OutBPS)
		b.WriteByte('\n')
	case f&fmtThresholds != 0:
		fmt.Fprintf(b, "  -> %-28s %-10d %-10d %-10d %-10d\n", dname, e.UThreshold, e.LThreshold, uint32(e.ActiveConns), uint32(e.InactConns))
	case f&fmtPersistentConn != 0:
		fmt.Fprintf(b, "  -> %-28s %-9d %-11d %-10d %-10d\n", dname, uint32(e.Weight), uint32(e.PersistConns), uint32(e.ActiveConns), uint32(e.InactConns))
	case f&fmtTunInfo != 0:
		ti, ok := fwdTunInfo(e)
		if !ok {
			ti = "n/a"
		}
		fmt.Fprintf(b, "  -> %-28s %-7s %-13s %-6d %-10d %-10d\n", dname, fwdName(e.Method), ti, e.Weight, uint32(e.ActiveConns), uint32(e.InactConns))
	default:
		fmt.Fprintf(b, "  -> %-28s %-7s %-6d %-10d %-10d\n", dname, fwdName(e.Method), e.Weight, uint32(e.ActiveConns), uint32(e.InactConns))
	}
}

// header is the first line of a full listing.
func header(info Info) string {
	return fmt.Sprintf("IP Virtual Server version %s (size=%d)\n", info.VersionString(), info.ConnTabSize)
}

// listAll prints every service (list_all); with fmtRule, the save format.
func (l *lister) listAll(b *strings.Builder, sts []ipvs.ServiceStatus) {
	svcs := l.services(sts)
	b.WriteString(l.title())
	for i := range svcs {
		l.printService(b, &svcs[i])
	}
}

// listService prints one service (list_service).
func (l *lister) listService(b *strings.Builder, st *ipvs.ServiceStatus) {
	s := newService(st)
	b.WriteString(l.title())
	l.printService(b, &s)
}

// listConns prints the connection table (list_conn).
func (l *lister) listConns(b *strings.Builder, conns []Conn) {
	b.WriteString("IPVS connection entries\n")
	if l.format&fmtPersistentConn != 0 {
		fmt.Fprintf(b, "pro expire %-11s %-18s %-18s %-18s %-16s %s\n",
			"state", "source", "virtual", "destination", "pe name", "pe_data")
	} else {
		fmt.Fprintf(b, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	}
	for i := range conns {
		c := &conns[i]
		proto := int(c.Protocol)
		switch c.Protocol {
		case ipvs.ProtoTCP, ipvs.ProtoUDP, ipvs.ProtoSCTP:
		default:
			proto = 0
		}
		af := addrAF(c.Client.Addr())
		cname := l.addrportToAnyname(af, unmapIf(af, c.Client.Addr()), c.Client.Port(), proto)
		vname := l.addrportToAnyname(af, unmapIf(af, c.Virtual.Addr()), c.Virtual.Port(), proto)
		daf := addrAF(c.Dest.Addr())
		dname := l.addrportToAnyname(daf, unmapIf(daf, c.Dest.Addr()), c.Dest.Port(), proto)
		secs := c.Expires / 1e9
		if secs < 0 {
			secs = 0
		}
		expire := fmt.Sprintf("%02d:%02d", secs/60, secs%60)
		if l.format&fmtPersistentConn != 0 && c.PEName != "" {
			fmt.Fprintf(b, "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n",
				c.Protocol, expire, c.State, cname, vname, dname, c.PEName, c.PEData)
		} else {
			fmt.Fprintf(b, "%-3s %-6s %-11s %-18s %-18s %s\n", c.Protocol, expire, c.State, cname, vname, dname)
		}
	}
}

func unmapIf(af int, a netip.Addr) netip.Addr {
	if af == afInet {
		return a.Unmap()
	}
	return a
}

// listTimeout prints the three timeouts (list_timeout).
func listTimeout(b *strings.Builder, t Timeouts) {
	fmt.Fprintf(b, "Timeout (tcp tcpfin udp): %d %d %d\n", t.TCP, t.TCPFin, t.UDP)
}

// listDaemons prints the sync daemons (list_daemon).
func listDaemons(b *strings.Builder, ds []DaemonConfig) {
	for _, d := range ds {
		var typ string
		switch d.State {
		case DaemonMaster:
			typ = "master"
		case DaemonBackup:
			typ = "backup"
		default:
			continue
		}
		fmt.Fprintf(b, "%s sync daemon (mcast=%s, syncid=%d", typ, d.Interface, d.SyncID)
		if d.MaxLen != 0 {
			fmt.Fprintf(b, ", maxlen=%d", d.MaxLen)
		}
		if d.Group.IsValid() {
			fmt.Fprintf(b, ", group=%s", ntop(d.Group))
		}
		if d.Port != 0 {
			fmt.Fprintf(b, ", port=%d", d.Port)
		}
		if d.TTL != 0 {
			fmt.Fprintf(b, ", ttl=%d", d.TTL)
		}
		b.WriteString(")\n")
	}
}
