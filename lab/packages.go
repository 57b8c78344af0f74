package lab

import (
	"fmt"
	"io"
	"os"
	"os/exec"
)

// Packages are the Debian packages the lab's services need.
var Packages = []string{"nginx-light", "dnsmasq-base", "curl", "iproute2", "dnsutils", "iperf3", "tcpdump", "nftables"}

// EnsurePackages installs the lab's Debian packages when a tool is missing
// (the demo runs on a fresh Debian machine as root).
func EnsurePackages(out io.Writer) error {
	missing := false
	for _, b := range []string{"nginx", "dnsmasq", "curl", "nft", "tcpdump"} {
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
