//go:build linux

package lab

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// packagesTxt lists the Debian packages the lab uses, one per line; CI's
// installer reads the same file.
//
//go:embed packages.txt
var packagesTxt string

// Packages are the Debian packages the lab uses: nginx-light and
// dnsmasq-base for the real servers' services (dnsmasq-base, unlike
// dnsmasq, starts no system service), iperf3 for benchmarks, curl and
// dnsutils for poking by hand, tcpdump for captures, iproute2, ethtool,
// and nftables for the director.
var Packages = strings.Fields(packagesTxt)

// EnsurePackages installs the lab's Debian packages with apt-get when one
// of their tools is missing (the demo runs on a fresh Debian as root).
func EnsurePackages(out io.Writer) error {
	missing := false
	for _, b := range []string{"nginx", "dnsmasq", "curl", "nft", "tcpdump", "iperf3", "dig", "ethtool"} {
		if _, err := lookPath(b); err != nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("lab: missing tools and no apt-get: install %v", Packages)
	}
	fmt.Fprintf(out, "== installing %v with apt-get\n", Packages)
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq", "--no-install-recommends"}, Packages...)} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %v: %v: %s", args, err, b)
		}
	}
	return nil
}
