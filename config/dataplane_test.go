package config_test

import (
	"strings"
	"testing"

	"github.com/govs/gvs/config"
)

// TestFanout: fanout is flow or cpu (unset: gvsd's default), survives
// Marshal and Parse, and anything else is refused with the key named.
func TestFanout(t *testing.T) {
	for _, v := range []string{"", "cpu", "flow"} {
		in := "workers: 2\n"
		if v != "" {
			in += "fanout: " + v + "\n"
		}
		c, err := config.Parse([]byte(in), "f.yaml")
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if c.Fanout != v {
			t.Errorf("%q: fanout %q", in, c.Fanout)
		}
		out, err := config.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := config.Parse(out, "back.yaml")
		if err != nil || back.Fanout != v {
			t.Errorf("%q: round trip gave %q, %v\n%s", in, back.Fanout, err, out)
		}
	}
	_, err := config.Parse([]byte("fanout: hash\n"), "f.yaml")
	if err == nil || !strings.Contains(err.Error(), "fanout") || !strings.Contains(err.Error(), "f.yaml") {
		t.Errorf("fanout: hash: error %v, want one naming the file and fanout", err)
	}
}

// TestKernelScheduling: kernel_scheduling is a boolean, on when unset,
// that survives Marshal and Parse (false included); a non-boolean is
// refused.
func TestKernelScheduling(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{{"", true}, {"kernel_scheduling: true\n", true}, {"kernel_scheduling: false\n", false}} {
		in := "workers: 2\n" + tc.in
		c, err := config.Parse([]byte(in), "k.yaml")
		if err != nil || c.KernelSchedulingOn() != tc.want {
			t.Fatalf("%q: kernel scheduling %v, %v", in, c.KernelSchedulingOn(), err)
		}
		out, err := config.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := config.Parse(out, "back.yaml"); err != nil || back.KernelSchedulingOn() != tc.want || (back.KernelScheduling == nil) != (tc.in == "") {
			t.Errorf("%q: round trip gave %v, %v\n%s", in, back.KernelScheduling, err, out)
		}
	}
	if _, err := config.Parse([]byte("kernel_scheduling: sometimes\n"), "k.yaml"); err == nil {
		t.Error("kernel_scheduling: sometimes accepted")
	}
}
