package keepalived

import (
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

func convertString(t *testing.T, src string, o Options) (*config.Config, []Unsupported) {
	t.Helper()
	tr := parseString(t, src, "")
	cfg, uns, err := Convert(tr, o)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, uns
}

func findUnsupported(uns []Unsupported, kw string) *Unsupported {
	for i := range uns {
		if uns[i].Keyword == kw {
			return &uns[i]
		}
	}
	return nil
}

func TestConvertVirtualServer(t *testing.T) {
	src := `global_defs {
  router_id x
  lvs_timeouts tcp 7200 tcpfin 60 udp 30
}
virtual_server 192.0.2.1 443 {
  delay_loop 2.5
  lvs_sched sh
  sh-port
  mh-port
  flag-3
  lvs_method TUN type gue port 6080 csum
  persistence_timeout
  persistence_granularity 255.255.255.0
  protocol tcp
  virtualhost www.example.com
  retry 2
  quorum 3
  hysteresis 1
  quorum_up "/bin/up 'a b'" nobody
  sorry_server 198.51.100.9
  sorry_server_lvs_method NAT
  weight 5
  snmp_name web
  real_server 203.0.113.1 443 {
    uthreshold 100
    lthreshold 10
    notify_up "/bin/n up"
    notify_down /bin/down
    SSL_GET {
      url {
        path /health
        status_code 200 301-302
        regex "^ok"
      }
      enable_sni
      connect_port 8443
      connect_ip 203.0.113.100
      bindto 192.0.2.10
      bind_if eth1
      connect_timeout 2
      delay_before_retry 0.5
      warmup 3
    }
  }
  real_server 203.0.113.2 443 {
    weight 0
    lvs_method DR
    TCP_CHECK {
      retry 0
    }
    PING_CHECK {
    }
  }
}
`
	cfg, uns := convertString(t, src, Options{})
	if cfg.Timeouts.TCP != 7200 || cfg.Timeouts.TCPFin != 60 || cfg.Timeouts.UDP != 30 {
		t.Errorf("timeouts %+v", cfg.Timeouts)
	}
	if len(cfg.Services) != 1 {
		t.Fatalf("services %d", len(cfg.Services))
	}
	s := cfg.Services[0]
	if s.Scheduler != "sh" || !reflect.DeepEqual(s.SchedFlags, []string{"sh-port", "flag-3"}) ||
		s.Persistent != 360 || s.Netmask != "255.255.255.0" || s.Port != 443 || s.Protocol != config.Protocol(ipvs.ProtoTCP) {
		t.Errorf("service %+v", s)
	}
	if s.Check != nil {
		t.Errorf("checks differ per real server, none should be hoisted")
	}
	r1, r2 := s.RealServers[0], s.RealServers[1]
	if *r1.Weight != 5 || r1.Forward != config.Forward(ipvs.Tunnel) || r1.Tunnel != (config.Tunnel{Type: "gue", Port: 6080, Checksum: "csum"}) ||
		r1.UThreshold != 100 || r1.LThreshold != 10 || !reflect.DeepEqual(r1.NotifyUp, []string{"/bin/n", "up"}) ||
		!reflect.DeepEqual(r1.NotifyDown, []string{"/bin/down"}) {
		t.Errorf("rs1 %+v", r1)
	}
	c1 := r1.Check
	want := &config.Check{Type: "https", Interval: config.Duration(2500 * time.Millisecond), Timeout: config.Duration(2 * time.Second),
		Retries: 2, RetryDelay: config.Duration(500 * time.Millisecond), Port: 8443,
		Address: config.Addr(netip.MustParseAddr("203.0.113.100")), Source: config.Addr(netip.MustParseAddr("192.0.2.10")), Interface: "eth1",
		HTTP: &config.HTTPCheck{Path: "/health", Host: "www.example.com", SNI: "www.example.com", Status: []int{200, 301, 302}, Regex: "^ok", Insecure: true},
		Line: c1.Line}
	if !reflect.DeepEqual(c1, want) {
		t.Errorf("check\n got %+v %+v\nwant %+v %+v", c1, c1.HTTP, want, want.HTTP)
	}
	if *r2.Weight != 0 || r2.Forward != config.Forward(ipvs.Route) || r2.Check.Type != "tcp" || r2.Check.Retries != 0 ||
		r2.Check.Interval != config.Duration(2500*time.Millisecond) || r2.Check.Timeout != config.Duration(5*time.Second) {
		t.Errorf("rs2 %+v %+v", r2, r2.Check)
	}
	h := s.Health
	if h.Quorum != 3 || h.Hysteresis != 1 || !reflect.DeepEqual(h.QuorumUp, []string{"/bin/up", "a b"}) ||
		h.Sorry == nil || h.Sorry.Port != 443 || h.Sorry.Forward != config.Forward(ipvs.Masq) {
		t.Errorf("health %+v %+v", h, h.Sorry)
	}
	for kw, kind := range map[string]Kind{
		"global_defs": KindFailover, "mh-port": KindWarning, "quorum_up": KindUnsupported, "snmp_name": KindNoEffect,
		"warmup": KindUnsupported, "PING_CHECK": KindUnsupported,
	} {
		u := findUnsupported(uns, kw)
		if u == nil || u.Kind != kind {
			t.Errorf("%s: got %+v, want kind %s", kw, u, kind)
			continue
		}
		if u.Blocking != (kind == KindUnsupported) {
			t.Errorf("%s: blocking %v", kw, u.Blocking)
		}
	}
	if u := findUnsupported(uns, "warmup"); u.File != "/etc/keepalived/keepalived.conf" || u.Line != 42 {
		t.Errorf("warmup at %s:%d", u.File, u.Line)
	}
}

func TestIgnoreAndFailoverBlocking(t *testing.T) {
	src := "vrrp_instance V {\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n ha_suspend\n bogus\n real_server 10.0.0.2 80 {\n }\n}\n"
	tr := parseString(t, src, "")
	_, uns, err := Convert(tr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := Keywords(Blocking(uns)); !reflect.DeepEqual(got, []string{"bogus", "ha_suspend"}) {
		t.Errorf("blocking %v", got)
	}
	_, uns, _ = Convert(tr, Options{IgnoreUnsupported: []string{"ha_suspend", "bogus"}, FailoverBlocking: true})
	if got := Keywords(Blocking(uns)); !reflect.DeepEqual(got, []string{"vrrp_instance"}) {
		t.Errorf("blocking %v", got)
	}
	_, uns, _ = Convert(tr, Options{IgnoreUnsupported: []string{"all"}, FailoverBlocking: true})
	if len(Blocking(uns)) != 0 || !uns[0].Ignored || !strings.HasSuffix(uns[0].String(), "(failover, ignored)") {
		t.Errorf("all ignored: %v", uns)
	}
}

func TestGroups(t *testing.T) {
	src := `virtual_server_group G {
  10.1.0.1-3 80
  10.2.0.0/30 443
  10.3.0.254-10.3.1.1 8080
  2001:db8::fe-101 80
  fwmark 7 inet6
  fwmark 8
  10.9.0.1-0 80
}
virtual_server group G {
  protocol UDP
  ops
  real_server 2001:db8:1::1 80 { lvs_method TUN }
  real_server 10.0.0.1 80 { }
}
`
	cfg, uns := convertString(t, src, Options{})
	var got []string
	for _, s := range cfg.Services {
		if s.FWMark != 0 {
			got = append(got, "fwmark "+strings.Repeat("6", b2i(s.IPv6)))
			continue
		}
		got = append(got, s.Address.String()+":"+strconv.Itoa(int(s.Port))+"/"+strconv.Itoa(len(s.RealServers)))
		if !s.OnePacket {
			t.Errorf("ops lost on %v", s.Address)
		}
	}
	want := []string{"10.1.0.1:80/2", "10.1.0.2:80/2", "10.1.0.3:80/2", "10.2.0.0:443/2", "10.2.0.1:443/2", "10.2.0.2:443/2", "10.2.0.3:443/2",
		"10.3.0.254:8080/2", "10.3.0.255:8080/2", "10.3.1.0:8080/2", "10.3.1.1:8080/2",
		"2001:db8::fe:80/1", "2001:db8::ff:80/1", "2001:db8::100:80/1", "2001:db8::101:80/1", "fwmark 6", "fwmark "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("members\n got %v\nwant %v", got, want)
	}
	if u := findUnsupported(uns, "10.9.0.1-0"); u == nil || u.Kind != KindWarning {
		t.Errorf("bad range: %+v", uns)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestCheckerDefaultsAndTypes(t *testing.T) {
	src := `virtual_server fwmark 3 {
  delay_before_retry 7
  inhibit_on_failure
  alpha
  real_server 10.0.0.1 {
    DNS_CHECK { type aaaa
      name example.org }
  }
  real_server 10.0.0.2 {
    delay_loop 9
    MISC_CHECK {
      misc_path "/bin/sh -c 'exit 0'"
      misc_dynamic
      user nobody
    }
  }
  real_server 10.0.0.3 {
    UDP_CHECK {
      payload 0a0b 1
      require_reply 0a
    }
  }
  real_server 10.0.0.4 {
    HTTP_GET { url { path / } }
    HTTP_GET { url { path /x } }
  }
}
`
	cfg, uns := convertString(t, src, Options{})
	s := cfg.Services[0]
	if s.FWMark != 3 || s.IPv6 || s.Health.OnFailure != "inhibit" || !s.Health.Alpha {
		t.Errorf("service %+v", s)
	}
	dns := s.RealServers[0].Check
	if dns.Retries != 3 || dns.RetryDelay != config.Duration(7*time.Second) || dns.Interval != config.Duration(time.Minute) ||
		*dns.DNS != (config.DNSCheck{Name: "example.org", Type: "AAAA"}) {
		t.Errorf("dns %+v %+v", dns, dns.DNS)
	}
	ex := s.RealServers[1].Check
	if ex.Retries != 0 || ex.Timeout != config.Duration(9*time.Second) || !reflect.DeepEqual(ex.Exec, &config.ExecCheck{Command: []string{"/bin/sh", "-c", "exit 0"}, Dynamic: true, User: "nobody"}) {
		t.Errorf("exec %+v %+v", ex, ex.Exec)
	}
	udp := s.RealServers[2].Check.UDP
	if *udp != (config.UDPCheck{Send: "\x0a\x0b\x01", Expect: "\x0a"}) {
		t.Errorf("udp %+v", udp)
	}
	if u := findUnsupported(uns, "HTTP_GET"); u == nil || u.Line != 25 || !u.Blocking {
		t.Errorf("second checker: %+v", uns)
	}
}

func TestValidationErrorNamesTheFile(t *testing.T) {
	src := "\n\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n lvs_sched rr\n real_server 10.0.0.2 80 { }\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.0.3 80 { }\n}\n"
	tr := parseString(t, src, "")
	_, _, err := Convert(tr, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "/etc/keepalived/keepalived.conf:8: ") {
		t.Errorf("duplicate service: %v", err)
	}
}
