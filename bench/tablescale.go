package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// TableBenchPattern selects the engine benchmarks of load 6.
const TableBenchPattern = "^BenchmarkConnLookup"

// RunTableScale runs the engine's connection-table benchmarks (1M and 10M
// entries) with go test in the module's source and parses them.
func RunTableScale(ctx context.Context, count int, benchtime string) *TableScale {
	args := []string{"test", "-run", "^$", "-bench", TableBenchPattern, "-benchtime", benchtime, "-count", fmt.Sprint(count), "./ipvs/"}
	t := &TableScale{Command: "go " + strings.Join(args, " ")}
	root, err := moduleRoot()
	if err != nil {
		t.Error = err.Error()
		return t
	}
	goBin, err := goCommand()
	if err != nil {
		t.Error = err.Error()
		return t
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Rows = ParseGoBench(out.String())
	if err != nil {
		t.Error = fmt.Sprintf("%v: %s", err, tail(out.String(), 400))
	} else if len(t.Rows) == 0 {
		t.Error = "no benchmark results in: " + tail(out.String(), 400)
	}
	return t
}

func isGVS(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "module github.com/govs/gvs" {
			return true
		}
	}
	return false
}

// moduleRoot finds GVS's source: the directory this file was compiled
// from, or the current directory and its parents.
func moduleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		if dir := filepath.Dir(filepath.Dir(file)); isGVS(dir) {
			return dir, nil
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if isGVS(dir) {
				return dir, nil
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return "", errors.New("cannot find GVS's source (run from the module) for the engine benchmarks")
}

func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go", nil
	}
	return "", errors.New("no go command for the engine benchmarks")
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
