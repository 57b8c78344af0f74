// Command gvs-convert prints the GVS configuration equivalent to a
// keepalived.conf or an ldirectord.cf:
//
//	gvs-convert keepalived FILE [--ignore kw,kw|all] [--config-id ID] [--failover-blocking]
//	gvs-convert ldirectord FILE [--ignore kw,kw|all]
//
// The YAML goes to standard output; every keyword that is not carried over
// exactly goes to standard error as "file:line: keyword: reason (kind)".
// The exit status is 0 when gvsd would run the file, 1 when blocking
// keywords remain (remove them, or allow them with --ignore), 2 when the
// file cannot be read or converted.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/config/keepalived"
	"github.com/govs/gvs/config/ldirectord"
	_ "github.com/govs/gvs/ipvs/sched" // the schedulers, to validate services
)

const usage = `usage:
  gvs-convert keepalived FILE [--ignore kw,kw|all] [--config-id ID] [--failover-blocking]
  gvs-convert ldirectord FILE [--ignore kw,kw|all]
`

type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(s string) error {
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			*l = append(*l, k)
		}
	}
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "keepalived" && args[0] != "ldirectord") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	kind := args[0]
	fs := flag.NewFlagSet("gvs-convert "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ignore list
	fs.Var(&ignore, "ignore", "keywords that may be dropped (comma-separated, repeatable), or all")
	configID := fs.String("config-id", keepalived.DefaultConfigID(), "keepalived's -i: which @id lines apply (keepalived only)")
	failover := fs.Bool("failover-blocking", false, "count VRRP and global_defs sections as blocking (keepalived only)")
	// flags may come before or after FILE
	var pos []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	file := pos[0]

	var (
		cfg      *config.Config
		lines    []string
		blocking int
		err      error
	)
	switch kind {
	case "keepalived":
		var uns []keepalived.Unsupported
		cfg, uns, err = keepalived.Load(file, &keepalived.ParseOptions{ConfigID: *configID},
			keepalived.Options{IgnoreUnsupported: ignore, FailoverBlocking: *failover})
		for _, u := range uns {
			lines = append(lines, u.String())
		}
		blocking = len(keepalived.Blocking(uns))
	case "ldirectord":
		var uns []ldirectord.Unsupported
		cfg, uns, err = ldirectord.Load(file, ldirectord.Options{IgnoreUnsupported: ignore})
		for _, u := range uns {
			lines = append(lines, u.String())
		}
		blocking = len(ldirectord.Blocking(uns))
	}
	for _, l := range lines {
		fmt.Fprintln(stderr, l)
	}
	if err != nil {
		fmt.Fprintln(stderr, "gvs-convert:", err)
		return 2
	}
	y, err := config.Marshal(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "gvs-convert:", err)
		return 2
	}
	fmt.Fprintf(stdout, "# GVS configuration converted from %s %s by gvs-convert\n", kind, file)
	if _, err := stdout.Write(y); err != nil {
		fmt.Fprintln(stderr, "gvs-convert:", err)
		return 2
	}
	if blocking > 0 {
		fmt.Fprintf(stderr, "gvs-convert: %d blocking keyword(s): remove them or allow them with --ignore\n", blocking)
		return 1
	}
	return 0
}
