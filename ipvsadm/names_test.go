package ipvsadm

import (
	"net/netip"
	"testing"
)

func TestInetAton(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // "" = invalid
	}{
		{"10.0.0.1", "10.0.0.1"},
		{"10", "0.0.0.10"},
		{"24", "0.0.0.24"},
		{"127.1", "127.0.0.1"},
		{"10.1.2", "10.1.0.2"},
		{"0x7f000002", "127.0.0.2"},
		{"010.0.0.1", "8.0.0.1"},
		{"0", "0.0.0.0"},
		{"10.0.0.25 x", "10.0.0.25"},
		{"10.0.0.1\tfoo", "10.0.0.1"},
		{"255.255.255.255", "255.255.255.255"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"10.0.0.256", ""},
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"08", ""},
		{"0x", ""},
		{"0xg", ""},
		{"", ""},
		{" 1.2.3.4", ""},
		{"1.2.3.", ""},
		{"1..2", ""},
		{"+1", ""},
		{"1.2.65536", ""},
		{"1.2.65535", "1.2.255.255"},
		{"1.16777215", "1.255.255.255"},
		{"1.16777216", ""},
		{"localhost", ""},
	} {
		v, ok := inetAton(c.in)
		got := ""
		if ok {
			got = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
		}
		if got != c.want {
			t.Errorf("inetAton(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNtop(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"::10.1.1.6", "::10.1.1.6"},
		{"::ffff:10.1.1.5", "::ffff:10.1.1.5"},
		{"::1", "::1"},
		{"::", "::"},
		{"::5", "::5"},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:db8:0:0:1:0:0:2", "2001:db8::1:0:0:2"},
		{"2001:db8:1:0:1:0:0:2", "2001:db8:1:0:1::2"},
		{"1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"},
		{"1::", "1::"},
		{"fe80::1", "fe80::1"},
		{"0:0:0:0:0:1:1.2.3.4", "::1:102:304"},
		{"10.1.2.3", "10.1.2.3"},
	} {
		if got := ntop(netip.MustParseAddr(c.in)); got != c.want {
			t.Errorf("ntop(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStringToNumber(t *testing.T) {
	for _, c := range []struct {
		in     string
		lo, hi int64
		want   int64
	}{
		{"5", 0, 10, 5},
		{"+5", 0, 10, 5},
		{" 6", 0, 10, 6},
		{"-0", 0, 10, 0},
		{"7 ", 0, 10, -1},
		{"", 0, 10, -1},
		{" ", 0, 10, -1},
		{"+", 0, 10, -1},
		{"0x10", 0, 100, -1},
		{"11", 0, 10, -1},
		{"-1", 0, 10, -1},
		{"2147483647", 0, intMax, intMax},
		{"2147483648", 0, intMax, -1},
		{"99999999999999999999", 0, intMax, -1},
		{"-99999999999999999999", -1 << 62, 0, -1},
	} {
		if got := stringToNumber(c.in, c.lo, c.hi); got != c.want {
			t.Errorf("stringToNumber(%q, %d, %d) = %d, want %d", c.in, c.lo, c.hi, got, c.want)
		}
	}
	if atoi("64abc") != 64 || atoi("abc") != 0 || atoi(" -3") != -3 || atoi("99999999999") != 1215752191 {
		t.Errorf("atoi: %d %d %d %d", atoi("64abc"), atoi("abc"), atoi(" -3"), atoi("99999999999"))
	}
}

func TestSystemResolverFiles(t *testing.T) {
	r := testResolver("")
	if a, ok := r.HostAddr4("LocalHost"); !ok || a != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("HostAddr4(localhost) = %v %v", a, ok)
	}
	if _, ok := r.HostAddr4("ip6-localhost"); ok {
		t.Error("an IPv6-only name must not resolve for gethostbyname")
	}
	if n, ok := r.AddrName(netip.MustParseAddr("::1")); !ok || n != "localhost" {
		t.Errorf("AddrName(::1) = %q %v", n, ok)
	}
	if p, ok := r.ServicePort("www", "tcp"); !ok || p != 80 {
		t.Errorf("ServicePort(www) = %d %v", p, ok)
	}
	if _, ok := r.ServicePort("http", "udp"); ok {
		t.Error("http has no udp entry in Debian's services")
	}
	if n, ok := r.ServiceName(8080, "tcp"); !ok || n != "http-alt" {
		t.Errorf("ServiceName(8080) = %q %v", n, ok)
	}
	if _, ok := r.ServiceName(3868, "sctp"); ok {
		t.Error("3868/sctp has no name")
	}
}
