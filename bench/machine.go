package bench

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run took place.
type Machine struct {
	CPU        string            `json:"cpu"`
	CPUs       int               `json:"cpus"`  // logical CPUs
	Cores      int               `json:"cores"` // physical cores, when /proc/cpuinfo tells
	MemoryGiB  float64           `json:"memory_gib"`
	Kernel     string            `json:"kernel"`
	OS         string            `json:"os"`
	Go         string            `json:"go"`
	Date       time.Time         `json:"date"`
	IRQTime    string            `json:"irq_time_accounting"` // y, n or unknown
	Commit     string            `json:"commit,omitempty"`
	Tools      map[string]string `json:"tools,omitempty"` // versions of haproxy, nft, iperf3, nginx
	Virtualize string            `json:"virtualization,omitempty"`
}

// DescribeMachine reads the machine's description from /proc and the tools.
func DescribeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC(), IRQTime: "unknown", Tools: map[string]string{}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU, m.Cores = parseCPUInfo(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryGiB = parseMemTotal(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		m.OS = osRelease(string(b))
	}
	m.IRQTime = irqTimeAccounting()
	if out, err := exec.Command("systemd-detect-virt").Output(); err == nil {
		m.Virtualize = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	for _, t := range []struct {
		name string
		args []string
	}{{"haproxy", []string{"-v"}}, {"nft", []string{"--version"}}, {"iperf3", []string{"--version"}}, {"nginx", []string{"-v"}}} {
		path, err := lookTool(t.name)
		if err != nil {
			continue
		}
		out, _ := exec.Command(path, t.args...).CombinedOutput()
		if line := firstLine(string(out)); line != "" {
			m.Tools[t.name] = line
		}
	}
	return m
}

func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(d + "/" + name); err == nil {
			return d + "/" + name, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// parseCPUInfo returns the model name and the number of physical cores
// (distinct physical id/core id pairs; 0 if the file does not say).
func parseCPUInfo(s string) (model string, cores int) {
	seen := map[string]bool{}
	var phys, core string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			if model == "" {
				model = v
			}
		case "physical id":
			phys = v
		case "core id":
			core = v
			seen[phys+"/"+core] = true
		}
	}
	return model, len(seen)
}

func parseMemTotal(s string) float64 {
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / (1 << 20)
		}
	}
	return 0
}

func osRelease(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func irqTimeAccounting() string {
	var cfg []byte
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			cfg, _ = io.ReadAll(z)
		}
	} else if b, err := os.ReadFile("/boot/config-" + kernelRelease()); err == nil {
		cfg = b
	}
	if cfg == nil {
		return "unknown"
	}
	if bytes.Contains(cfg, []byte("\nCONFIG_IRQ_TIME_ACCOUNTING=y")) {
		return "y"
	}
	return "n"
}

func kernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// Markdown renders the description as a bullet list.
func (m Machine) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- CPU: %s, %d logical CPUs", orUnknown(m.CPU), m.CPUs)
	if m.Cores > 0 {
		fmt.Fprintf(&b, " (%d cores)", m.Cores)
	}
	b.WriteString("\n")
	if m.Virtualize != "" {
		fmt.Fprintf(&b, "- virtualization: %s\n", m.Virtualize)
	}
	fmt.Fprintf(&b, "- memory: %.1f GiB\n", m.MemoryGiB)
	fmt.Fprintf(&b, "- kernel: %s (CONFIG_IRQ_TIME_ACCOUNTING=%s)\n", orUnknown(m.Kernel), m.IRQTime)
	fmt.Fprintf(&b, "- OS: %s\n", orUnknown(m.OS))
	fmt.Fprintf(&b, "- Go: %s\n", m.Go)
	fmt.Fprintf(&b, "- date: %s\n", m.Date.Format("2006-01-02 15:04 MST"))
	if m.Commit != "" {
		fmt.Fprintf(&b, "- GVS commit: %s\n", m.Commit)
	}
	for _, k := range []string{"haproxy", "nft", "iperf3", "nginx"} {
		if v := m.Tools[k]; v != "" {
			fmt.Fprintf(&b, "- %s: %s\n", k, v)
		}
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
