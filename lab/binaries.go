//go:build linux

package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Binary returns the path of a GVS command ("gvs-tundecap", "gvs-lab",
// "gvsd", "gvsadm"), building it into <Dir>/bin the first time. Found
// instead, in this order:
//   - $GVS_TUNDECAP, for gvs-tundecap;
//   - $GVS_BIN_DIR/<name>, prebuilt commands (on a host without Go);
//   - for gvs-lab, when this program is gvs-lab: itself.
func (l *Lab) Binary(name string) (string, error) {
	if err := l.buildBinaries(name); err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bins[name], nil
}

// buildBinaries finds or builds several commands, building the missing
// ones with one go build.
func (l *Lab) buildBinaries(names ...string) error {
	l.buildMu.Lock() // one go build at a time: they would share <Dir>/bin
	defer l.buildMu.Unlock()
	l.mu.Lock()
	var missing []string
	for _, name := range names {
		if l.bins[name] != "" {
			continue
		}
		if p := prebuilt(name); p != "" {
			l.bins[name] = p
			continue
		}
		missing = append(missing, name)
	}
	l.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	goBin, err := goCommand()
	if err != nil {
		return err
	}
	out := filepath.Join(l.Dir, "bin")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-o", out + string(filepath.Separator)}
	for _, name := range missing {
		args = append(args, "./cmd/"+name)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: go build %s: %v: %s", strings.Join(missing, " "), err, bytes.TrimSpace(b))
	}
	l.mu.Lock()
	for _, name := range missing {
		l.bins[name] = filepath.Join(out, name)
	}
	l.mu.Unlock()
	return nil
}

func prebuilt(name string) string {
	exists := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
	}
	if name == "gvs-tundecap" {
		if p := os.Getenv("GVS_TUNDECAP"); p != "" && exists(p) {
			return p
		}
	}
	if dir := os.Getenv("GVS_BIN_DIR"); dir != "" {
		if p := filepath.Join(dir, name); exists(p) {
			return p
		}
	}
	if self, err := os.Executable(); err == nil && name == "gvs-lab" && filepath.Base(self) == "gvs-lab" {
		return self
	}
	return ""
}

// moduleRoot finds the GVS module's source: the directory this file was
// compiled from, or the current directory's module.
func moduleRoot() (string, error) {
	isGVS := func(dir string) bool {
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
	if _, file, _, ok := runtime.Caller(0); ok {
		if dir := filepath.Dir(filepath.Dir(file)); isGVS(dir) {
			return dir, nil
		}
	}
	if goBin, err := goCommand(); err == nil {
		if out, err := exec.Command(goBin, "env", "GOMOD").Output(); err == nil {
			if dir := filepath.Dir(string(bytes.TrimSpace(out))); isGVS(dir) {
				return dir, nil
			}
		}
	}
	return "", errors.New("lab: cannot find GVS's source to build its commands: run from the module, or set GVS_BIN_DIR (or GVS_TUNDECAP) to prebuilt ones")
}

func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go", nil
	}
	return "", errors.New("lab: no go command to build GVS's commands (set GVS_BIN_DIR to prebuilt ones)")
}
