package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/govs/gvs/config"
)

const (
	kaSamples = "../../config/keepalived/testdata/samples/"
	ldSamples = "../../config/ldirectord/testdata/samples/"
)

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"keepalived", kaSamples + "keepalived.conf.sample"}, 0, "keepalived.conf.sample:13: vrrp_instance: VRRP instance VI_1: handled by the failover work (failover)"},
		{[]string{"keepalived", kaSamples + "keepalived.conf.sample", "--failover-blocking"}, 1, "(failover, blocking)"},
		{[]string{"keepalived", kaSamples + "keepalived.conf.SSL_GET"}, 1, "keepalived.conf.SSL_GET:44: url: "},
		{[]string{"keepalived", "--ignore", "url", kaSamples + "keepalived.conf.SSL_GET"}, 0, "(unsupported, ignored)"},
		{[]string{"keepalived", kaSamples + "keepalived.conf.conditional_conf", "--config-id", "low"}, 1, "net_namespace"},
		{[]string{"ldirectord", ldSamples + "ldirectord.cf"}, 1, "ldirectord.cf:16: autoreload:"},
		{[]string{"ldirectord", ldSamples + "ldirectord.cf", "--ignore=all"}, 0, "(unsupported, ignored)"},
		{[]string{"keepalived", "/nonexistent.conf"}, 2, "/nonexistent.conf: open"},
		{[]string{"haproxy", "x"}, 2, "usage"},
		{[]string{"keepalived"}, 2, "usage"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", c.args, code, c.code, errb.String())
		}
		if code < 2 {
			if _, err := config.Parse(out.Bytes(), "out.yaml"); err != nil || !strings.HasPrefix(out.String(), "# GVS configuration converted from") {
				t.Errorf("%v: output does not load: %v\n%s", c.args, err, out.String())
			}
		}
	}
}
