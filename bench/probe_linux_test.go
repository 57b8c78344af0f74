package bench

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// The probe reads a plausible cost per datagram and knows its best.
func TestHostProbe(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a network namespace); CI runs it as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2; CI installs it")
	}
	p, err := openProbe(context.Background(), "gvsprobetest")
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for i := 0; i < 3; i++ {
		v, err := p.read()
		if err != nil {
			t.Fatal(err)
		}
		if v < 1 {
			t.Fatalf("read %.2fx the best, below 1", v)
		}
	}
	for c, b := range p.best {
		if b < 50 || b > 1e6 {
			t.Errorf("CPU %d: best %.0f ns per datagram", c, b)
		}
	}
	if p.slow(1) || !p.slow(probeSlow*1.01) {
		t.Error("slow() misreads")
	}
}
