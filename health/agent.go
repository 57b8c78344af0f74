package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/govs/gvs/config"
)

// AgentChecker asks an agent on the real server for its state and load, as
// HAProxy's agent-check does (and feedbackd-style load agents). It
// connects to Port on the checked address, sends Send when set (verbatim:
// include the "\n" the agent expects), and reads one line: up to the first
// "\n" or EOF, at most 1 KiB, within the timeout. ParseAgentReply gives the
// grammar. The reply fully describes the server: a reply with no weight
// token means the configured weight (unlike HAProxy, nothing is remembered
// from an earlier reply).
type AgentChecker struct {
	Port uint16
	Send string
}

func newAgentChecker(c *config.Check) (Checker, error) {
	if c.Agent == nil {
		return nil, errors.New("an agent check needs an agent block (port)")
	}
	a := &AgentChecker{Port: c.Agent.Port, Send: c.Agent.Send}
	if a.Port == 0 {
		a.Port = c.Port
	}
	if a.Port == 0 {
		return nil, errors.New("agent.port is required")
	}
	return a, nil
}

// Check implements Checker.
func (a *AgentChecker) Check(ctx context.Context, e Endpoint) Result {
	c, err := dial(ctx, e, "tcp", a.Port)
	if err != nil {
		return netResult(err)
	}
	defer c.Close()
	defer closeOnDone(ctx, c)()
	if a.Send != "" {
		if _, err := io.WriteString(c, a.Send); err != nil {
			return downf("agent send: %v", err)
		}
	}
	line, err := bufio.NewReader(io.LimitReader(c, 1024)).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return downf("agent reply: %v", eofAsClosed(err))
	}
	st := ParseAgentReply(line, e.Weight)
	r := Result{Health: Up, Weight: st.Weight, HasWeight: true}
	switch {
	case st.Err != nil:
		return down(st.Err)
	case st.Down:
		r.Health = Down
		r.HasWeight = false
		r.Err = fmt.Errorf("agent says %s", st.Word)
		if st.Reason != "" {
			r.Err = fmt.Errorf("agent says %s: %s", st.Word, st.Reason)
		}
	}
	return r
}

// AgentState is a parsed agent reply.
type AgentState struct {
	Down   bool   // down, fail, failed, stopped or maint
	Word   string // the state word that decided, lower case
	Weight int32  // the weight to use while up
	Reason string // text after '#'
	Err    error  // nothing recognisable in the reply
}

// ParseAgentReply parses one agent line against the configured weight.
//
// Grammar (case-insensitive; tokens separated by spaces, tabs or commas;
// everything after '#' is a free-text reason):
//
//	reply  = token { sep token } [ "#" reason ]
//	token  = N "%"                  weight = round(configured * N / 100); N >= 0, decimals allowed (HAProxy)
//	       | "weight" (":"|"="|sep) N  weight = N, absolute
//	       | "load" (":"|"="|sep) L    feedbackd-style load in percent: weight = round(configured * (100 - L) / 100), L clamped to 0..100
//	       | L                      a bare number is a load as above (an agent printing only its load figure)
//	       | "up" | "ready"         up
//	       | "drain"                up with weight 0 (no new connections; persistence and existing ones stay)
//	       | "down" | "fail" | "failed" | "stopped" | "maint"   down
//	       | "maxconn:" N           accepted and ignored
//	       | anything else          ignored
//
// A reply with none of these tokens (empty, or only unknown words) is an
// error, and the check counts as down. When several state words appear the
// strongest wins: down/maint over drain over up. The weight is the last
// weight token's (default: the configured weight), except that drain
// forces 0. Weights are capped at 1,000,000.
func ParseAgentReply(line string, configured int32) AgentState {
	st := AgentState{Weight: configured, Word: "up"}
	if i := strings.IndexByte(line, '#'); i >= 0 {
		st.Reason = strings.TrimSpace(line[i+1:])
		line = line[:i]
	}
	toks := strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
		return r == ' ' || r == '\t' || r == ',' || r == '\r' || r == '\n'
	})
	known, drain := false, false
	scale := func(frac float64) int32 {
		w := math.Round(float64(configured) * frac)
		return int32(max(0, min(w, 1e6)))
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t {
		case "up", "ready":
			known = true
			continue
		case "drain":
			known, drain = true, true
			continue
		case "down", "fail", "failed", "stopped", "maint":
			known = true
			if !st.Down {
				st.Down, st.Word = true, t
			}
			continue
		}
		if strings.HasPrefix(t, "maxconn:") {
			known = true
			continue
		}
		if n, ok := strings.CutSuffix(t, "%"); ok {
			if v, err := strconv.ParseFloat(n, 64); err == nil && v >= 0 && !math.IsInf(v, 0) {
				known, st.Weight = true, scale(v/100)
			}
			continue
		}
		for _, kw := range []string{"weight", "load"} {
			if !strings.HasPrefix(t, kw) {
				continue
			}
			v := strings.TrimLeft(t[len(kw):], ":=")
			next := false
			if v == "" && i+1 < len(toks) {
				v, next = strings.TrimLeft(toks[i+1], ":="), true
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				break
			}
			if next {
				i++
			}
			known = true
			if kw == "weight" {
				st.Weight = int32(min(math.Round(f), 1e6))
			} else {
				st.Weight = scale((100 - min(f, 100)) / 100)
			}
		}
		if f, err := strconv.ParseFloat(t, 64); err == nil && f >= 0 && !math.IsInf(f, 0) {
			known, st.Weight = true, scale((100-min(f, 100))/100)
		}
	}
	if !known {
		st.Err = fmt.Errorf("unrecognised agent reply %q", truncate(strings.TrimSpace(line), 80))
		return st
	}
	if drain && !st.Down {
		st.Word, st.Weight = "drain", 0
	}
	return st
}
