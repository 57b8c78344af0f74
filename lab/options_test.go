//go:build linux

package lab

import "testing"

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil || o.Prefix != "gvs" || o.Servers != 3 || o.GUEPort != GUEPort {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range []Options{{Prefix: "Gvs"}, {Prefix: "gvs-x"}, {Prefix: "averyverylongprefix"}, {Prefix: "1gvs"}, {Servers: -1}, {Servers: MaxServers + 1}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestNamespaceNames: one prefix's teardown never matches another lab's
// namespaces, even when one prefix starts the other.
func TestNamespaceNames(t *testing.T) {
	re := namespaceName("gvs")
	for _, name := range []string{"gvs-client", "gvs-router", "gvs-dir", "gvs-dir2", "gvs-rs1", "gvs-rs42"} {
		if !re.MatchString(name) {
			t.Errorf("%s not matched", name)
		}
	}
	for _, name := range []string{"gvse2e-client", "gvs-clientx", "gvs-rs", "gvs-dir3", "xgvs-dir", "gvs-x-client", "gvs"} {
		if re.MatchString(name) {
			t.Errorf("%s matched", name)
		}
	}
}

func TestStartTime(t *testing.T) {
	if startTime(1) == 0 {
		t.Fatal("no start time for pid 1")
	}
	if startTime(1<<30) != 0 {
		t.Fatal("a start time for a pid that cannot exist")
	}
	rec := pidRecord{pid: 1, start: startTime(1) + 1}
	if rec.alive() {
		t.Fatal("a reused pid counted as the recorded process")
	}
}
