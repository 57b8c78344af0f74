package ipvsadm

import (
	"fmt"
	"strings"

	"github.com/govs/gvs/ipvs"
)

// ipvsadm -S prints the rules as the commands that recreate them, one per
// line (ipvsadm-save's format; ipvsadm -R reads it back). ipvsadm builds
// it with the listing code and the FMT_RULE flag, and so does gvsadm:
// lister.listAll with fmtRule sorts and walks the services as -L does and
// calls these two for the lines. Not saved, as in ipvsadm: the -x/-y
// thresholds, counters, and the persistence mask of a service that is not
// persistent.

// saveService writes "-A <service> -s <scheduler> [-p timeout [-M mask]]
// [--pe name] [-o] [-b flags]" (without the newline).
func (l *lister) saveService(b *strings.Builder, s *service, name string) {
	st := s.st
	flags := uint32(st.Flags)
	fmt.Fprintf(b, "-A %s -s %s", name, st.Scheduler)
	if flags&svcFPersistent != 0 {
		fmt.Fprintf(b, " -p %d", st.Timeout)
		if s.e.af == afInet && st.Netmask != 0xffffffff {
			fmt.Fprintf(b, " -M %s", maskString(st.Netmask))
		}
		if s.e.af == afInet6 && st.Netmask != 128 {
			fmt.Fprintf(b, " -M %d", int32(st.Netmask))
		}
	}
	if st.PE != "" {
		fmt.Fprintf(b, " --pe %s", st.PE)
	}
	if flags&svcFOnePacket != 0 {
		b.WriteString(" -o")
	}
	if flags&svcFSchedMask != 0 {
		b.WriteString(" -b ")
		b.WriteString(schedFlagsString(st))
	}
}

// saveDest writes "-a <service> -r <server> -m|-g|-i -w weight" and, for
// tunnels, the tunnel type, port and checksum option.
func saveDest(b *strings.Builder, svcName, dname string, e *ipvs.DestStatus) {
	sw := fwdSwitch(e.Method)
	if e.Method != ipvs.Tunnel {
		fmt.Fprintf(b, "-a %s -r %s %s -w %d\n", svcName, dname, sw, e.Weight)
		return
	}
	switch e.TunnelType {
	case ipvs.TunnelGRE:
		fmt.Fprintf(b, "-a %s -r %s %s -w %d --tun-type gre %s\n", svcName, dname, sw, e.Weight, tunFlagOpt(e.TunnelFlags))
	case ipvs.TunnelGUE:
		fmt.Fprintf(b, "-a %s -r %s %s -w %d --tun-type gue --tun-port %d %s\n", svcName, dname, sw, e.Weight, e.TunnelPort, tunFlagOpt(e.TunnelFlags))
	case ipvs.TunnelIPIP:
		fmt.Fprintf(b, "-a %s -r %s %s -w %d --tun-type ipip\n", svcName, dname, sw, e.Weight)
	default:
		fmt.Fprintf(b, "-a %s -r %s %s -w %d\n", svcName, dname, sw, e.Weight)
	}
}
