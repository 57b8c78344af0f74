package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
	_ "github.com/govs/gvs/ipvs/sched" // Validate builds a scratch engine with the configured schedulers
)

// TestParseFull loads a configuration using every section and checks the
// engine view of it.
func TestParseFull(t *testing.T) {
	c, err := config.Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Services) != 4 || len(c.FWMarks) != 1 || len(c.VIPs) != 1 {
		t.Fatalf("parsed %d services, %d fwmark rules, %d vips", len(c.Services), len(c.FWMarks), len(c.VIPs))
	}
	svc, dests, err := c.Services[0].Engine()
	if err != nil {
		t.Fatal(err)
	}
	if svc.Scheduler != "wrr" || len(dests) != 2 || dests[0].Weight != 3 || dests[1].Weight != 1 {
		t.Errorf("service 0: %+v %+v", svc, dests)
	}
	if c.Services[0].Line != 14 || c.Services[0].RealServers[1].Line != 21 {
		t.Errorf("lines: service %d, real server %d", c.Services[0].Line, c.Services[0].RealServers[1].Line)
	}
	tout, err := c.EngineTimeouts()
	if err != nil {
		t.Fatal(err)
	}
	if tout.TCP[ipvs.TCPEstablished] != 600 || tout.TCP[ipvs.TCPFinWait] != 60 || tout.UDP[ipvs.UDPNormal] != 30 || tout.TCP[ipvs.TCPSynRecv] != 20 {
		t.Errorf("timeouts %+v", tout)
	}
	if o := c.EngineOptions(); o.ExpireNodestConn || !o.ExpireQuiescentTemplate {
		t.Errorf("options %+v: expire_nodest_conn off as set, expire_quiescent_template at GVS's default (on)", o)
	}
}

// TestMarshalRoundTrip: what Marshal writes, Parse reads back the same.
func TestMarshalRoundTrip(t *testing.T) {
	c, err := config.Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := config.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Parse(out, "marshalled")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	clearLines(c)
	clearLines(back)
	if !reflect.DeepEqual(c, back) {
		t.Errorf("round trip differs:\n%s", out)
	}
}

func clearLines(c *config.Config) {
	for i := range c.Services {
		c.Services[i].Line = 0
		if c.Services[i].Check != nil {
			c.Services[i].Check.Line = 0
		}
		for j := range c.Services[i].RealServers {
			c.Services[i].RealServers[j].Line = 0
		}
	}
	for i := range c.FWMarks {
		c.FWMarks[i].Line = 0
	}
}

// TestParseErrors: every bad file is refused with its file, line and a
// message that says what is wrong.
func TestParseErrors(t *testing.T) {
	svc := "services:\n  - protocol: tcp\n    address: 10.0.0.1\n    port: 80\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown field", "servicez: []\n", "f.yaml:1: field servicez not found"},
		{"bad address", "services:\n  - protocol: tcp\n    address: 10.0.0.300\n", "f.yaml:3:"},
		{"bad protocol", "services:\n  - protocol: icmp\n", "f.yaml:2:"},
		{"no protocol", "services:\n  - address: 10.0.0.1\n    port: 80\n", "f.yaml:2: service needs protocol"},
		{"unknown scheduler", svc + "    scheduler: fastest\n", `f.yaml:2: scheduler "fastest" not found`},
		{"duplicate", svc + svc[len("services:\n"):], "f.yaml:5: service TCP 10.0.0.1:80 is already defined at line 2"},
		{"weight range", svc + "    real_servers:\n      - {address: 10.0.0.2, weight: -1}\n", "f.yaml:6:"},
		{"forward", svc + "    real_servers:\n      - {address: 10.0.0.2, forward: nat2}\n", "f.yaml:6:"},
		{"fwmark with address", "services:\n  - fwmark: 1\n    address: 10.0.0.1\n", "f.yaml:2: a fwmark service has no protocol"},
		{"one packet tcp", svc + "    one_packet: true\n", "f.yaml:2: one_packet is only for UDP"},
		{"tcp api without token", "api:\n  tcp: 127.0.0.1:1\n", "needs api.token_file"},
		{"not yaml", "services: [\n", "f.yaml:"},
		{"duration", svc + "    check: {type: tcp, interval: soon}\n", "f.yaml:5:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.yaml), "f.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			var le *config.LineError
			if !errors.As(err, &le) {
				t.Errorf("error %T, want *config.LineError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// FuzzParse: any bytes give a configuration or an error, never a panic,
// and an accepted configuration survives Marshal and Parse.
func FuzzParse(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add([]byte("services:\n  - {protocol: udp, address: '::1', port: 53, real_servers: [{address: '::2'}]}\n"))
	f.Add([]byte("timeouts: {states: {tcp: {SYN_RECV: 3}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(data, "fuzz")
		if err != nil {
			return
		}
		out, err := config.Marshal(c)
		if err != nil {
			t.Fatalf("marshal of an accepted config: %v", err)
		}
		if _, err := config.Parse(out, "again"); err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
	})
}
