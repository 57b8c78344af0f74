// Package nettest holds what the Linux tests of several packages share: a
// reference Internet checksum (RFC 1071, written independently of package
// packet so tests can check packet's own arithmetic), and throwaway
// network namespaces joined by a veth pair. Tests only: nothing in GVS's
// programs imports it.
package nettest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Sum adds b to the one's-complement sum s as 16-bit big-endian words (an
// odd last byte is padded with zero).
func Sum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

// Fold folds the carries of a one's-complement sum into 16 bits.
func Fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// InNetns runs fn with the calling goroutine's thread in the named network
// namespace (from /var/run/netns), then returns the thread to its own.
func InNetns(name string, fn func()) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer orig.Close()
	ns, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		return err
	}
	defer unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET)
	fn()
	return nil
}

// Run runs a command and fails the test with its output if it fails.
func Run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// VethPair builds two namespaces, <prefix>a<pid> and <prefix>b<pid>, joined
// by a veth pair with the kernel's default offloads: va with address addrA
// and vb with addrB (prefixes such as "10.99.0.1/24"), both up. They are
// removed when the test ends. Without root or iproute2 the test is skipped.
func VethPair(t testing.TB, prefix, addrA, addrB string) (a, b string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(prefix + ": needs root for network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip(prefix + ": needs iproute2")
	}
	a, b = fmt.Sprintf("%sa%d", prefix, os.Getpid()), fmt.Sprintf("%sb%d", prefix, os.Getpid())
	Run(t, "ip", "netns", "add", a)
	Run(t, "ip", "netns", "add", b)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", a).Run()
		exec.Command("ip", "netns", "del", b).Run()
	})
	Run(t, "ip", "link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b)
	Run(t, "ip", "-n", a, "addr", "add", addrA, "dev", "va")
	Run(t, "ip", "-n", b, "addr", "add", addrB, "dev", "vb")
	Run(t, "ip", "-n", a, "link", "set", "va", "up")
	Run(t, "ip", "-n", b, "link", "set", "vb", "up")
	return a, b
}
