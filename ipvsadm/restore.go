package ipvsadm

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
)

// ipvsadm -R reads rules from stdin, one command per line, as ipvsadm-save
// and ipvsadm -S write them. The line splitting is ipvsadm's own
// (config_stream_read): words separated by spaces, tabs or carriage
// returns; the word "ipvsadm" is dropped wherever it appears; there is no
// quoting and no comment syntax ("#" is an argument); a last line without
// newline counts unless two or more blanks follow its last word.
//
// GVS differs on purpose in one way: the whole stream is applied
// atomically. ipvsadm runs each line as it reads it, stops at the first
// line its own checks reject (keeping what it applied), and goes on past
// kernel errors. gvsadm parses every line first, then hands the changes to
// Backend.Restore in one call: either all apply or none does, and the
// error names the line ("line 3: Service already exists"). Listing lines
// (-L, -S) inside the stream print the state as it is at that point, once
// the whole stream has been applied; -h and -v end the stream there, as
// they end ipvsadm.

// streamLine is one command of a restore stream.
type streamLine struct {
	num  int      // line number (1-based) of its first word
	args []string // program name first
}

const maxToken = 4096 // config_stream's MAX_LINE_LENGTH

func isStreamBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// readConfigStream splits a restore stream into argument vectors exactly
// as ipvsadm's config_stream_read does.
func readConfigStream(data []byte, prog string) []streamLine {
	var lines []streamLine
	pos, line := 0, 1
	for {
		args := []string{prog}
		ntoken, start := 0, line
		done := false // the call returned an array
		for !done {
			if pos >= len(data) {
				if ntoken > 0 {
					lines = append(lines, streamLine{num: start, args: args})
				}
				return lines
			}
			if isStreamBlank(data[pos]) {
				// no word here: skip blanks up to the newline
				for {
					if pos >= len(data) {
						return lines // the C code drops the array at EOF here
					}
					c := data[pos]
					pos++
					if c == '\n' {
						line++
						lines = append(lines, streamLine{num: start, args: args})
						done = true
						break
					}
					if c == '\t' || c == '\r' || c == ' ' {
						continue
					}
					pos--
					break
				}
				continue
			}
			end := pos
			for end < len(data) && !isStreamBlank(data[end]) && end-pos < maxToken {
				end++
			}
			tok := string(data[pos:end])
			pos = end
			newline := false
			if pos < len(data) && isStreamBlank(data[pos]) {
				newline = data[pos] == '\n'
				pos++
			}
			if tok != "ipvsadm" {
				if ntoken == 0 {
					start = line
				}
				ntoken++
				args = append(args, tok)
			}
			if newline {
				line++
				lines = append(lines, streamLine{num: start, args: args})
				done = true
			}
		}
	}
}

// lineError prefixes a failure with the line it comes from.
func lineError(num int, err error) error {
	ee, ok := err.(*ExitError)
	if !ok {
		ee = &ExitError{Code: 2, Stderr: err.Error() + "\n"}
	}
	return &ExitError{Code: ee.Code, Stderr: "line " + strconv.Itoa(num) + ": " + ee.Stderr}
}

// readCmd is a listing line of the stream, printed after the commit.
type readCmd struct {
	ce   *Command
	snap int // index into the snapshots, -1 for the live connection table
}

// restore is ipvsadm -R.
func (c *CLI) restore(ctx context.Context, prog string, out *strings.Builder) int {
	var data []byte
	if c.Stdin != nil {
		var err error
		if data, err = io.ReadAll(c.Stdin); err != nil {
			return c.report(out, &ExitError{Code: 2, Stderr: err.Error() + "\n"})
		}
	}
	var (
		ops    []RestoreOp
		opLine []int
		opCmd  []*Command
		reads  []readCmd
		nsnap  int
		final  *Command // -h or -v: print it and stop
	)
read:
	for _, ln := range readConfigStream(data, prog) {
		if len(ln.args) <= 1 {
			continue
		}
		ce, err := ParseArgs(ln.args, c.Resolver)
		if err != nil {
			return c.report(out, lineError(ln.num, err))
		}
		switch ce.cmd {
		case cmdRestore:
			return c.report(out, lineError(ln.num, tryHelp(prog)))
		case cmdHelp, cmdVersion:
			final = ce
			break read
		case cmdList, cmdSave:
			if ce.cmd == cmdList && ce.options&bit(optConnection) != 0 {
				reads = append(reads, readCmd{ce: ce, snap: -1})
				continue
			}
			op := RestoreOp{Kind: OpSnapshot, All: true}
			if ce.cmd == cmdList && ce.options&bit(optService) != 0 {
				op.All = false
				op.Service = ce.svc.config()
			}
			ops = append(ops, op)
			opLine = append(opLine, ln.num)
			opCmd = append(opCmd, ce)
			reads = append(reads, readCmd{ce: ce, snap: nsnap})
			nsnap++
		default:
			op, _ := ce.op()
			ops = append(ops, op)
			opLine = append(opLine, ln.num)
			opCmd = append(opCmd, ce)
		}
	}
	var snaps []Snapshot
	if len(ops) > 0 {
		var err error
		snaps, err = c.Backend.Restore(ctx, ops)
		if err != nil {
			var re *RestoreError
			if errors.As(err, &re) && re.Index >= 0 && re.Index < len(ops) {
				ce := opCmd[re.Index]
				fn, status := commandFunc(ce.cmd), 255
				if ops[re.Index].Kind == OpSnapshot {
					fn, status = fnGetService, 1
				}
				return c.report(out, lineError(opLine[re.Index], kernelError(fn, re.Err, status)))
			}
			return c.report(out, kernelError(fnNone, err, 2))
		}
		if len(snaps) != nsnap {
			return c.report(out, &ExitError{Code: 2, Stderr: "restore: backend returned " + strconv.Itoa(len(snaps)) + " snapshots, want " + strconv.Itoa(nsnap) + "\n"})
		}
	}
	for _, r := range reads {
		if err := c.printRead(ctx, r, snaps, out); err != nil {
			return c.report(out, err)
		}
	}
	switch {
	case final == nil:
	case final.cmd == cmdHelp:
		writeUsage(out, final.prog)
	default:
		out.WriteString(Version + "\n")
	}
	return 0
}

// printRead prints a listing line of a restore stream from its snapshot.
func (c *CLI) printRead(ctx context.Context, r readCmd, snaps []Snapshot, out *strings.Builder) error {
	ce := r.ce
	l := &lister{r: c.Resolver, format: ce.format}
	if r.snap < 0 {
		if ce.format&fmtJSON != 0 {
			return c.listJSON(ctx, ce, out)
		}
		conns, err := c.Backend.Conns(ctx)
		if err != nil {
			return kernelError(fnNone, err, 1)
		}
		l.listConns(out, conns)
		return nil
	}
	s := snaps[r.snap]
	if ce.cmd == cmdSave {
		l.format |= fmtRule
		l.listAll(out, s.Services)
		return nil
	}
	if ce.format&fmtJSON != 0 {
		return c.snapshotJSON(ctx, ce, &s, out)
	}
	switch {
	case ce.options&bit(optService) != 0:
		l.listService(out, &s.Services[0])
	case ce.options&bit(optTimeout) != 0:
		listTimeout(out, s.Timeouts)
	case ce.options&bit(optDaemon) != 0:
		listDaemons(out, s.Daemons)
	default:
		info, err := c.Backend.Info(ctx)
		if err != nil {
			return kernelError(fnNone, err, 2)
		}
		out.WriteString(header(info))
		l.listAll(out, s.Services)
	}
	return nil
}
