package keepalived

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govs/gvs/config"
	_ "github.com/govs/gvs/ipvs/sched"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestSamples converts every sample Debian's keepalived package ships and
// compares the GVS YAML and the list of unsupported keywords with
// testdata/golden/<sample>.yaml and .unsupported.
func TestSamples(t *testing.T) {
	files, err := filepath.Glob("testdata/samples/keepalived.conf.*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tree, err := ParseFile(f, &ParseOptions{ConfigID: "high"})
			if err != nil {
				t.Fatal(err)
			}
			cfg, uns, err := Convert(tree, Options{})
			if err != nil {
				t.Fatal(err)
			}
			y, err := config.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// what gvsd would load must parse back to the same configuration
			back, err := config.Parse(y, name+".yaml")
			if err != nil {
				t.Fatalf("converted YAML does not load: %v\n%s", err, y)
			}
			y2, _ := config.Marshal(back)
			if !bytes.Equal(y, y2) {
				t.Errorf("YAML does not survive a round trip:\n%s\n---\n%s", y, y2)
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
