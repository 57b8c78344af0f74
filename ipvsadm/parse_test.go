package ipvsadm

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/govs/gvs/ipvs"
)

func mustParse(t *testing.T, args ...string) *Command {
	t.Helper()
	ce, err := ParseArgs(append([]string{"ipvsadm"}, args...), testResolver(""))
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", args, err)
	}
	return ce
}

func parseErr(t *testing.T, args ...string) *ExitError {
	t.Helper()
	_, err := ParseArgs(append([]string{"ipvsadm"}, args...), testResolver(""))
	ee, ok := err.(*ExitError)
	if !ok {
		t.Fatalf("ParseArgs(%q): err %v, want *ExitError", args, err)
	}
	return ee
}

func TestParseServiceForms(t *testing.T) {
	for _, c := range []struct {
		args []string
		key  ipvs.ServiceKey
	}{
		{[]string{"-A", "-t", "10.0.0.1:80"}, ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}},
		{[]string{"-A", "-t", "localhost:www"}, ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("127.0.0.1"), Port: 80}},
		{[]string{"-A", "-u", "[2001:db8::1]:53"}, ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.ProtoUDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53}},
		{[]string{"-A", "--sctp-service=10.0.0.1:3868"}, ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoSCTP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 3868}},
		{[]string{"-A", "-f", "7", "-6"}, ipvs.ServiceKey{Family: ipvs.IPv6, FWMark: 7}},
		{[]string{"-At10.0.0.2:http"}, ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("10.0.0.2"), Port: 80}},
	} {
		ce := mustParse(t, c.args...)
		if got := ce.svc.key(); got != c.key {
			t.Errorf("%q: key %+v, want %+v", c.args, got, c.key)
		}
	}
}

func TestParseDefaultsAndDest(t *testing.T) {
	ce := mustParse(t, "-a", "-t", "10.0.0.1:80", "-r", "192.168.1.1", "-i", "--tun-type", "gue", "--tun-port", "6080", "--tun-csum", "-w", "3", "-x", "10", "-y", "5")
	d := ce.dest.config()
	want := ipvs.DestConfig{Addr: netip.MustParseAddr("192.168.1.1"), Port: 80, Weight: 3, UThreshold: 10, LThreshold: 5,
		Forwarding: ipvs.Forwarding{Method: ipvs.Tunnel, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelCsum}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("dest %+v, want %+v", d, want)
	}
	// DR forces the service port; masquerading keeps the real server's
	ce = mustParse(t, "-a", "-t", "10.0.0.1:80", "-r", "192.168.1.1:8080")
	if ce.dest.port != 80 || ce.dest.connFlags != connFRoute || ce.dest.weight != 1 {
		t.Errorf("default DR dest: port %d flags %d weight %d", ce.dest.port, ce.dest.connFlags, ce.dest.weight)
	}
	ce = mustParse(t, "-a", "-t", "10.0.0.1:80", "-r", "192.168.1.1:8080", "-m")
	if ce.dest.port != 8080 {
		t.Errorf("masq dest port %d", ce.dest.port)
	}
	ce = mustParse(t, "-A", "-t", "10.0.0.1:80")
	if cfg := ce.svc.config(); cfg.Scheduler != "wlc" || cfg.Netmask != 0xffffffff || cfg.Flags != 0 {
		t.Errorf("service defaults %+v", cfg)
	}
	ce = mustParse(t, "-A", "-t", "10.0.0.1:80", "-p", "-M", "255.255.0.0", "-s", "sh", "-b", "sh-port,sh-fallback")
	if cfg := ce.svc.config(); cfg.Timeout != 360 || cfg.Netmask != 0xffff0000 || cfg.Flags != ipvs.SvcPersistent|ipvs.SvcSched1|ipvs.SvcSched2 {
		t.Errorf("service %+v", cfg)
	}
	ce = mustParse(t, "--start-daemon", "backup", "--mcast-group", "ff02::99", "--syncid", "7")
	if dc := ce.daemon.config(); dc.State != DaemonBackup || dc.Interface != "eth0" || dc.SyncID != 7 || dc.Group != netip.MustParseAddr("ff02::99") {
		t.Errorf("daemon %+v", dc)
	}
	ce = mustParse(t, "--set", "1", "2", "3")
	if ce.tout != (Timeouts{1, 2, 3}) {
		t.Errorf("timeouts %+v", ce.tout)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 255, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"},
		{[]string{"-nL"}, 255, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"},
		{[]string{"-A", "-t"}, 255, "-t: missing argument\n"},
		{[]string{"-L", "--nosuch=1"}, 255, "--nosuch=1: unknown option\n"},
		{[]string{"-L", "-n=1"}, 255, "-n=1: option does not take an argument\n"},
		{[]string{"-A", "-t", "10.0.0.1:80", "-p", "-5"}, 255, "-5: unknown option\n"},
		{[]string{"-L", "-6"}, 2, "-6 used before -f\n\n"},
		{[]string{"-L", "--start-daemon", "master"}, 2, "invalid option `master'\n"},
		{[]string{"-A", "-t", "10.0.0.1:80", "-s", "rr", "-b", ","}, 2, "invalid scheduler flag `,'\n"},
		{[]string{"-A", "-t", "10.0.0.1"}, 2, "Zero port specified for non-persistent service\n"},
		{[]string{"-a", "-t", "10.0.0.1:80", "-r", "1.2.3.4", "-i", "--tun-type", "gre", "--tun-port", "1"}, 2, "Illegal 'tun-port' option with the 'gre' tunnel type\n"},
		{[]string{"-a", "-t", "10.0.0.1:80", "-r", "1.2.3.4", "-i", "--tun-type", "gre", "--tun-csum", "--tun-nocsum"}, 2, "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type\n"},
		{[]string{"-S", "--json"}, 2, "Illegal 'json' option with the 'save' command\n"},
		{[]string{"-L", "--json", "--json"}, 2, "multiple 'json' options specified\n"},
	} {
		ee := parseErr(t, c.args...)
		if ee.Code != c.code || ee.Stderr != c.msg {
			t.Errorf("%q: %d %q, want %d %q", c.args, ee.Code, ee.Stderr, c.code, c.msg)
		}
	}
}

func TestPoptExpansion(t *testing.T) {
	// popt replaces "!#:+" in an argument by the next word that does not
	// start with '-', and skips that word afterwards
	ce := mustParse(t, "-A", "-s", "rr", "-t", "!#:+", "10.0.0.7:80")
	if ce.svc.key().Addr != netip.MustParseAddr("10.0.0.7") || ce.svc.sched != "rr" {
		t.Errorf("expansion: %+v", ce.svc)
	}
	// ... even when it is another option's argument, as popt does
	ee := parseErr(t, "-A", "-t", "!#:+", "-s", "rr")
	if !strings.Contains(ee.Stderr, "illegal virtual server") {
		t.Errorf("expansion took -s's argument: %q", ee.Stderr)
	}
	// no word left: the marker stays
	ee = parseErr(t, "-A", "-t", "!#:+")
	if !strings.Contains(ee.Stderr, "illegal virtual server") {
		t.Errorf("unexpanded marker: %q", ee.Stderr)
	}
}

func TestSocketFromArgs(t *testing.T) {
	s, a := SocketFromArgs([]string{"gvsadm", "-L", "--socket", "/x.sock", "-n"}, "/def")
	if s != "/x.sock" || strings.Join(a, " ") != "gvsadm -L -n" {
		t.Errorf("%q %q", s, a)
	}
	s, a = SocketFromArgs([]string{"gvsadm", "--socket=/y", "-L"}, "/def")
	if s != "/y" || strings.Join(a, " ") != "gvsadm -L" {
		t.Errorf("%q %q", s, a)
	}
	s, _ = SocketFromArgs([]string{"gvsadm", "-L"}, "/def")
	if s != "/def" {
		t.Errorf("%q", s)
	}
}
