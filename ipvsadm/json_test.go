package ipvsadm

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateJSON = flag.Bool("update-json", false, "rewrite testdata/json/*.json from the current output (review the diff!)")

func checkJSONGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "json", name+".json")
	if *updateJSON {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s: got\n%s\nwant\n%s", path, got, want)
	}
	var v any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Errorf("%s: not JSON: %v", name, err)
	}
}

func TestJSONListings(t *testing.T) {
	env := newTestEnv(t, "")
	for _, args := range [][]string{
		{"-A", "-t", "10.0.0.1:80", "-s", "wrr", "-p", "120", "-M", "255.255.255.0"},
		{"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.1:80", "-m", "-w", "4", "-x", "100", "-y", "10"},
		{"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.2:80", "-g", "-w", "3"},
		{"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.3:80", "-i", "-w", "2", "--tun-type", "gue", "--tun-port", "6080", "--tun-csum"},
		{"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.4:80", "-i", "--tun-type", "gre"},
		{"-A", "-u", "10.0.0.1:53", "-s", "sh", "-b", "sh-fallback,sh-port", "-o"},
		{"-A", "-f", "43", "-6", "-s", "rr", "-p", "60", "-M", "64"},
		{"-a", "-f", "43", "-6", "-r", "2001:db8::5", "-g"},
		{"-A", "-u", "10.0.0.3:5060", "-s", "rr", "-p", "60", "--pe", "sip"},
		{"--start-daemon", "master", "--mcast-interface", "sync0", "--syncid", "9"},
		{"--set", "100", "20", "30"},
	} {
		env.mustRun(args...)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"services", []string{"-L", "--json"}},
		{"services-nosort", []string{"-L", "--json", "--nosort"}},
		{"service", []string{"-L", "-t", "10.0.0.1:80", "--json"}},
		{"timeout", []string{"-L", "--timeout", "--json"}},
		{"daemon", []string{"-L", "--daemon", "--json"}},
		{"conns-empty", []string{"-L", "-c", "--json"}},
	} {
		out, errs, rc := env.run(nil, c.args...)
		if errs != "" || rc != 0 {
			t.Errorf("%q: rc %d %q", c.args, rc, errs)
			continue
		}
		checkJSONGolden(t, c.name, out)
	}
	if _, errs, rc := env.run(nil, "-L", "-t", "10.0.0.9:80", "--json"); errs != "No such service\n" || rc != 1 {
		t.Errorf("missing service: %d %q", rc, errs)
	}
}
