package ldirectord

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govs/gvs/config"
	_ "github.com/govs/gvs/ipvs/sched"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fakeResolve serves the host names of the samples without a network.
func fakeResolve(h string) ([]netip.Addr, error) {
	m := map[string]string{"sql01": "192.168.10.1", "sql02": "192.168.10.2", "sql03": "192.168.10.3", "localhost": "127.0.0.1"}
	if a, ok := m[h]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, fmt.Errorf("no such host %q", h)
}

// TestSamples converts the sample ldirectord.cf of Debian's package (and
// a copy with every example section enabled) and compares the GVS YAML
// and the unsupported list with testdata/golden.
func TestSamples(t *testing.T) {
	files, _ := filepath.Glob("testdata/samples/ldirectord.cf*")
	if len(files) == 0 {
		t.Fatal("no samples")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			pf, err := ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, uns, err := Convert(pf, Options{Resolve: fakeResolve})
			if err != nil {
				t.Fatal(err)
			}
			y, err := config.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			back, err := config.Parse(y, name+".yaml")
			if err != nil {
				t.Fatalf("converted YAML does not load: %v\n%s", err, y)
			}
			if y2, _ := config.Marshal(back); !bytes.Equal(y, y2) {
				t.Errorf("YAML does not survive a round trip")
			}
			var ub strings.Builder
			for _, u := range uns {
				fmt.Fprintln(&ub, u.String())
			}
			compareGolden(t, filepath.Join("testdata", "golden", name+".yaml"), y)
			compareGolden(t, filepath.Join("testdata", "golden", name+".unsupported"), []byte(ub.String()))
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
