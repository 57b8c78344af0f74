package config

import (
	"fmt"
	"net/netip"

	"github.com/govs/gvs/ipvs"
)

// ServicesFromEngine describes running services in the file's terms, so a
// daemon can write changes made through its API back to its configuration.
func ServicesFromEngine(list []ipvs.ServiceStatus) []Service {
	out := make([]Service, 0, len(list))
	for _, st := range list {
		s := Service{Scheduler: st.Scheduler, PE: st.PE}
		if st.FWMark != 0 {
			s.FWMark = st.FWMark
			s.IPv6 = st.Family == ipvs.IPv6
		} else {
			s.Protocol = Protocol(st.Protocol)
			s.Address = Addr(st.Addr)
			s.Port = st.Port
		}
		s.SchedFlags = schedFlagNames(st.Scheduler, st.Flags)
		if st.Flags&ipvs.SvcOnePacket != 0 {
			s.OnePacket = true
		}
		if st.Flags&ipvs.SvcPersistent != 0 {
			s.Persistent = st.Timeout
			if st.Family == ipvs.IPv6 {
				if st.Netmask != 128 {
					s.Netmask = fmt.Sprint(st.Netmask)
				}
			} else if st.Netmask != 0xffffffff {
				m := st.Netmask
				s.Netmask = netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
			}
		}
		// the engine lists destinations newest first; the file lists them in
		// the order they were added, so a restart rebuilds the same order
		for i := len(st.Dests) - 1; i >= 0; i-- {
			d := st.Dests[i]
			w := d.Weight
			rs := RealServer{Address: Addr(d.Addr), Port: d.Port, Weight: &w, Forward: Forward(d.Method),
				UThreshold: d.UThreshold, LThreshold: d.LThreshold}
			if d.Method == ipvs.Tunnel {
				rs.Tunnel = Tunnel{Type: d.TunnelType.String(), Port: d.TunnelPort}
				switch {
				case d.TunnelFlags&ipvs.TunnelRemCsum != 0:
					rs.Tunnel.Checksum = "remcsum"
				case d.TunnelFlags&ipvs.TunnelCsum != 0:
					rs.Tunnel.Checksum = "csum"
				}
			}
			s.RealServers = append(s.RealServers, rs)
		}
		out = append(out, s)
	}
	return out
}

// schedFlagNames names the scheduler flag bits the way ipvsadm -b does for
// the scheduler at hand.
func schedFlagNames(sched string, f ipvs.ServiceFlags) []string {
	var out []string
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	switch sched {
	case "sh":
		names[0], names[1] = "sh-fallback", "sh-port"
	case "mh":
		names[0], names[1] = "mh-fallback", "mh-port"
	}
	for i, bit := range []ipvs.ServiceFlags{ipvs.SvcSched1, ipvs.SvcSched2, ipvs.SvcSched3} {
		if f&bit != 0 {
			out = append(out, names[i])
		}
	}
	return out
}
