package ldirectord

import (
	"errors"
	"os"
	"testing"
)

// FuzzParseLdirectord: the parser and the converter never panic and their
// errors name the file and line. Seeds: the samples and
// testdata/fuzz/FuzzParseLdirectord.
func FuzzParseLdirectord(f *testing.F) {
	for _, s := range []string{"testdata/samples/ldirectord.cf", "testdata/samples/ldirectord.cf.all"} {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	d := maxDests
	defer func() { maxDests = d }()
	maxDests = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := Parse(data, "ld.cf")
		if err != nil {
			var le *Error
			if !errors.As(err, &le) || le.Line <= 0 {
				t.Fatalf("parse error without a line: %v", err)
			}
			return
		}
		_, uns, err := Convert(pf, Options{Resolve: fakeResolve})
		for _, u := range uns {
			if u.Line <= 0 || u.File == "" || u.Keyword == "" {
				t.Fatalf("entry without position: %+v", u)
			}
		}
		if err != nil {
			var le *Error
			if !errors.As(err, &le) || le.File == "" {
				t.Fatalf("conversion error without a file: %v", err)
			}
		}
	})
}
