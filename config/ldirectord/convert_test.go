package ldirectord

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

func convert(t *testing.T, src string) (*config.Config, []Unsupported) {
	t.Helper()
	f, err := Parse([]byte(src), "ld.cf")
	if err != nil {
		t.Fatal(err)
	}
	cfg, uns, err := Convert(f, Options{Resolve: fakeResolve})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, uns
}

func TestConvertDirectives(t *testing.T) {
	src := `checkinterval=7
negotiatetimeout=9
failurecount=3
quiescent=yes
fork=yes
logfile="local0"
emailalert="a@b"
fallback=127.0.0.2 masq

virtual=10.0.0.1:http
	real=10.1.0.1->10.1.0.3:8080 masq 5 "/alive", "ok.*" l:10 u:100
	real=sql01 ipip
	scheduler=sh
	schedflags=sh-port,sh-fallback
	persistent=300
	netmask=255.255.255.0
	checkinterval=2   # honoured with fork=yes
	quiescent=no
	httpmethod=HEAD
virtual=10.0.0.2:53
	real=10.1.0.9 masq
	checktype=ping
	checkcount=3
	checktimeout=2
	ops=yes
virtual=9
	real=10.1.0.1 gate
	checktype=external
	checkcommand="/usr/local/bin/check"
virtual6=[2001:db8::1]:443
	real6=[2001:db8::10]:443 gate
	service=https
	request="/h"
	receive="(?<=perl)"
virtual=10.0.0.3:25
	real=10.1.0.1:25 masq
	checktype=off
`
	cfg, uns := convert(t, src)
	if len(cfg.Services) != 5 {
		t.Fatalf("%d services", len(cfg.Services))
	}
	s := cfg.Services[0]
	if s.Port != 80 || s.Scheduler != "sh" || !reflect.DeepEqual(s.SchedFlags, []string{"sh-port", "sh-fallback"}) ||
		s.Persistent != 300 || s.Netmask != "255.255.255.0" || s.Health.OnFailure != "" || len(s.RealServers) != 4 {
		t.Fatalf("service %+v", s)
	}
	r := s.RealServers[2]
	if r.Address.String() != "10.1.0.3" || r.Port != 8080 || *r.Weight != 5 || r.LThreshold != 10 || r.UThreshold != 100 ||
		r.Forward != config.Forward(ipvs.Masq) {
		t.Errorf("range server %+v", r)
	}
	if r.Check == nil || r.Check.HTTP.Path != "/alive" || r.Check.HTTP.Regex != "ok.*" || r.Check.Interval != config.Duration(2*time.Second) ||
		r.Check.Timeout != config.Duration(9*time.Second) || r.Check.Fall != 3 {
		t.Errorf("range server check %+v", r.Check)
	}
	sql := s.RealServers[3]
	if sql.Address.String() != "192.168.10.1" || sql.Port != 80 || sql.Forward != config.Forward(ipvs.Tunnel) || sql.Check.HTTP.Path != "/" {
		t.Errorf("sql01 %+v %+v", sql, sql.Check)
	}
	if s.Health.Sorry == nil || s.Health.Sorry.Port != 80 || s.Health.Sorry.Forward != config.Forward(ipvs.Masq) {
		t.Errorf("global fallback %+v", s.Health.Sorry)
	}
	dns := cfg.Services[1]
	if dns.Protocol != config.Protocol(ipvs.ProtoUDP) || !dns.OnePacket || dns.Health.OnFailure != "inhibit" ||
		dns.Check.Type != "icmp" || dns.Check.Retries != 2 || dns.Check.Timeout != config.Duration(2*time.Second) {
		t.Errorf("dns %+v %+v", dns, dns.Check)
	}
	ext := cfg.Services[2]
	if ext.FWMark != 9 || !reflect.DeepEqual(ext.Check.Exec.Command, []string{"/usr/local/bin/check", "9", "0", "10.1.0.1", "0"}) {
		t.Errorf("external %+v", ext.Check)
	}
	v6 := cfg.Services[3]
	if !v6.Check.HTTP.Insecure || v6.Check.HTTP.Regex != "" || v6.Health.Sorry != nil {
		t.Errorf("https %+v", v6.Check.HTTP)
	}
	off := cfg.Services[4]
	if *off.RealServers[0].Weight != 0 || off.Check != nil || off.Health.Sorry != nil {
		t.Errorf("checktype=off %+v", off)
	}
	got := map[string]Kind{}
	for _, u := range uns {
		got[u.Keyword] = u.Kind
	}
	want := map[string]Kind{"fork": KindNoEffect, "logfile": KindNoEffect, "emailalert": KindUnsupported, "httpmethod": KindUnsupported, "real6": KindUnsupported}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, uns)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"checktimeout=0\n", "ld.cf:1: checktimeout"},
		{"virtual=10.0.0.1:80\n\treal=10.0.0.2:80 nat\n", "ld.cf:2: real: forward method"},
		{"virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\trequest=x\n", "ld.cf:3: request"},
		{"\n  checktimeout=3\n", "ld.cf:2: indented line"},
		{"virtual=[::1]:80\n", "ld.cf:1: virtual: cannot specify an IPv6"},
		{"virtual=10.0.0.1:80\n\treal=nohost gate\n", "ld.cf:2: real: could not resolve"},
		{"virtual=10.0.0.1:80\n    bogus\n", "ld.cf:2: unknown command"},
	} {
		f, err := Parse([]byte(c.src), "ld.cf")
		if err == nil {
			_, _, err = Convert(f, Options{Resolve: fakeResolve})
		}
		var le *Error
		if err == nil || !errors.As(err, &le) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %s", c.src, err, c.want)
		}
	}
	// a blank line ends a virtual section; comments do not
	f, err := Parse([]byte("virtual=10.0.0.1:80\n# c\n\treal=10.0.0.2 gate # x\n\n\tscheduler=rr\n"), "ld.cf")
	if err == nil {
		t.Errorf("indented line after a blank line must not belong to the section: %+v", f)
	}
}

func TestIgnore(t *testing.T) {
	f, _ := Parse([]byte("autoreload=yes\nmaintenancedir=/x\n"), "ld.cf")
	_, uns, _ := Convert(f, Options{IgnoreUnsupported: []string{"autoreload"}})
	if b := Blocking(uns); len(b) != 1 || b[0].Keyword != "maintenancedir" || !uns[0].Ignored {
		t.Errorf("%v", uns)
	}
}
