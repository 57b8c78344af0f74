package ipvsadm

// This file reproduces the part of libpopt 1.19 that ipvsadm uses:
// poptGetNextOpt over one option table (no aliases, no config files),
// poptGetArg, poptBadOption and poptStrerror. The behaviour, not the code,
// follows popt: option bundles ("-Ln"), "--long=value", optional arguments
// that are taken only when the next word does not start with '-', "--"
// ending the options, non-option words collected as leftovers (popt
// permutes), and the "!#:+" argument expansion.

// popt argument kinds.
const (
	argNone     = iota // POPT_ARG_NONE
	argString          // POPT_ARG_STRING
	argOptional        // POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL
)

// popt error codes (poptGetNextOpt's negative results).
const (
	poptErrNoArg        = -10
	poptErrUnwantedArg  = -12
	poptErrBadOpt       = -11
	poptErrBadOperation = -19
)

type poptOption struct {
	long  string
	short byte
	kind  int
	val   int
}

func poptStrerror(code int) string {
	switch code {
	case poptErrNoArg:
		return "missing argument"
	case poptErrUnwantedArg:
		return "option does not take an argument"
	case poptErrBadOpt:
		return "unknown option"
	case poptErrBadOperation:
		return "mutually exclusive logical operations requested"
	}
	return "unknown error"
}

type poptContext struct {
	table       []poptOption
	argv        []string
	next        int
	nextCharArg string // rest of a short-option bundle, "" = none
	restLeft    bool   // after "--": everything is a leftover
	leftovers   []string
	nextLeft    int
	deleted     map[int]bool // words consumed by "!#:+" expansion
}

func newPoptContext(argv []string, table []poptOption) *poptContext {
	return &poptContext{table: table, argv: argv, next: 1}
}

func (c *poptContext) findLong(name string) *poptOption {
	for i := range c.table {
		if c.table[i].long != "" && c.table[i].long == name {
			return &c.table[i]
		}
	}
	return nil
}

func (c *poptContext) findShort(ch byte) *poptOption {
	if ch == 0 {
		return nil
	}
	for i := range c.table {
		if c.table[i].short == ch {
			return &c.table[i]
		}
	}
	return nil
}

// nextOpt returns the next option's value and argument (nil when an
// optional argument was absent), -1 at the end, or a popt error code.
func (c *poptContext) nextOpt() (int, *string) {
	for {
		var opt *poptOption
		longArg, hasLongArg := "", false
		if c.nextCharArg == "" && c.next >= len(c.argv) {
			return -1, nil
		}
		if c.nextCharArg == "" {
			if c.deleted[c.next] {
				c.next++
				continue
			}
			orig := c.argv[c.next]
			c.next++
			if c.restLeft || orig == "" || orig[0] != '-' || orig == "-" {
				c.leftovers = append(c.leftovers, orig)
				continue
			}
			if orig == "--" {
				c.restLeft = true
				continue
			}
			s := orig[1:]
			oneDash := true
			if s[0] == '-' {
				s = s[1:]
				oneDash = false
			}
			name := s
			for i := 0; i < len(s); i++ {
				if s[i] == '=' {
					name, longArg, hasLongArg = s[:i], s[i+1:], true
					break
				}
			}
			if !oneDash {
				// No option of ipvsadm's table allows a single dash before
				// its long name, so only "--name" is looked up.
				opt = c.findLong(name)
				if opt == nil {
					return poptErrBadOpt, nil
				}
			} else {
				c.nextCharArg = orig[1:]
				hasLongArg = false
			}
		}
		if c.nextCharArg != "" {
			ch := c.nextCharArg[0]
			rest := c.nextCharArg[1:]
			c.nextCharArg = ""
			opt = c.findShort(ch)
			if opt == nil {
				return poptErrBadOpt, nil
			}
			c.nextCharArg = rest
		}
		if opt.kind == argNone {
			if hasLongArg || (c.nextCharArg != "" && c.nextCharArg[0] == '=') {
				return poptErrUnwantedArg, nil
			}
			return opt.val, nil
		}
		var arg *string
		switch {
		case hasLongArg:
			a := c.expand(longArg)
			arg = &a
		case c.nextCharArg != "":
			s := c.nextCharArg
			if s[0] == '=' {
				s = s[1:]
			}
			a := c.expand(s)
			arg = &a
			c.nextCharArg = ""
		default:
			if c.next >= len(c.argv) {
				if opt.kind != argOptional {
					return poptErrNoArg, nil
				}
			} else if opt.kind == argOptional && len(c.argv[c.next]) > 0 && c.argv[c.next][0] == '-' {
				// optional argument absent
			} else {
				w := c.argv[c.next]
				c.next++
				a := c.expand(w)
				arg = &a
			}
		}
		return opt.val, arg
	}
}

// expand performs popt's "!#:+" substitution: the first such marker is
// replaced by the next word that does not start with '-', which is then
// skipped by the option scan.
func (c *poptContext) expand(s string) string {
	var out []byte
	var sub *string
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '!' && i+4 <= len(s) && s[i+1:i+4] == "#:+" {
			if sub == nil {
				sub = c.findNextArg()
			}
			if sub != nil {
				out = append(out, *sub...)
				i += 3
				continue
			}
		}
		out = append(out, ch)
	}
	return string(out)
}

func (c *poptContext) findNextArg() *string {
	for i := c.next; i < len(c.argv); i++ {
		if c.deleted[i] {
			continue
		}
		if len(c.argv[i]) > 0 && c.argv[i][0] == '-' {
			continue
		}
		if c.deleted == nil {
			c.deleted = map[int]bool{}
		}
		c.deleted[i] = true
		a := c.argv[i]
		return &a
	}
	return nil
}

// getArg is poptGetArg: the next leftover word, or false.
func (c *poptContext) getArg() (string, bool) {
	if c.nextLeft >= len(c.leftovers) {
		return "", false
	}
	a := c.leftovers[c.nextLeft]
	c.nextLeft++
	return a, true
}

// badOption is poptBadOption(POPT_BADOPTION_NOALIAS): the last word read.
func (c *poptContext) badOption() string {
	if c.next < 1 || c.next > len(c.argv) {
		return ""
	}
	return c.argv[c.next-1]
}
