package keepalived

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseKeepalived feeds arbitrary text to the parser and the
// converter: neither may panic, and every error must name a file and line.
// The seeds are the shipped samples plus testdata/fuzz/FuzzParseKeepalived.
func FuzzParseKeepalived(f *testing.F) {
	files, _ := filepath.Glob("testdata/samples/keepalived.conf.*")
	for _, s := range files {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	fs := memFS{
		"/k/inc.conf":   "real_server 10.0.0.9 80 {\n TCP_CHECK {\n }\n}\n",
		"/k/vrrp.conf":  "vrrp_instance X {\n state MASTER\n}\n",
		"/k/open.conf":  "virtual_server 10.0.0.1 80 {\n",
		"/k/close.conf": "}\n",
	}
	// keep each run short: the limits themselves are tested, not their size
	l, sq, sv, d := maxLines, maxLoop, maxServices, maxDests
	defer func() { maxLines, maxLoop, maxServices, maxDests = l, sq, sv, d }()
	maxLines, maxLoop, maxServices, maxDests = 1<<12, 1<<10, 64, 1024
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := Parse(data, "/k/keepalived.conf", fs.opts("main"))
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos.File == "" || pe.Pos.Line <= 0 {
				t.Fatalf("parse error without file:line: %v", err)
			}
			return
		}
		_ = tree.String()
		_, uns, err := Convert(tree, Options{})
		for _, u := range uns {
			if u.File == "" || u.Line <= 0 || u.Keyword == "" || u.Reason == "" {
				t.Fatalf("unsupported entry without position: %+v", u)
			}
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos.File == "" {
				t.Fatalf("conversion error without a file: %v", err)
			}
		}
	})
}
