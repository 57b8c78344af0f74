package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/govs/gvs/config"
)

// SMTPChecker talks to a mail server as keepalived's SMTP_CHECK does: it
// reads the greeting, which must have code 220, sends "HELO <name>",
// whose reply must have code 250, then sends "QUIT" and reads one reply
// without judging it. Multi-line replies ("250-...", "250 ...") are read
// whole; the code is that of the last line.
type SMTPChecker struct {
	HELO string // default: the director's host name
}

func newSMTPChecker(c *config.Check) (Checker, error) {
	s := &SMTPChecker{}
	if c.SMTP != nil {
		s.HELO = c.SMTP.HELO
	}
	if strings.ContainsAny(s.HELO, " \r\n") {
		return nil, errors.New("smtp.helo must be one word")
	}
	if s.HELO == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			s.HELO = h
		} else {
			s.HELO = "localhost"
		}
	}
	return s, nil
}

// Check implements Checker.
func (s *SMTPChecker) Check(ctx context.Context, e Endpoint) Result {
	c, err := dial(ctx, e, "tcp", 0)
	if err != nil {
		return netResult(err)
	}
	defer c.Close()
	defer closeOnDone(ctx, c)()
	r := bufio.NewReader(io.LimitReader(c, 64<<10))
	code, line, err := smtpReply(r)
	if err != nil {
		return downf("greeting: %v", err)
	}
	if code != 220 {
		return downf("greeting %q, want code 220", truncate(line, 80))
	}
	if _, err := fmt.Fprintf(c, "HELO %s\r\n", s.HELO); err != nil {
		return downf("send HELO: %v", err)
	}
	code, line, err = smtpReply(r)
	if err != nil {
		return downf("HELO reply: %v", err)
	}
	if code != 250 {
		return downf("HELO reply %q, want code 250", truncate(line, 80))
	}
	if _, err := io.WriteString(c, "QUIT\r\n"); err == nil {
		_, _, _ = smtpReply(r)
	}
	return up()
}

// smtpReply reads one possibly multi-line reply and returns its code and
// last line.
func smtpReply(r *bufio.Reader) (int, string, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, "", eofAsClosed(err)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return 0, line, fmt.Errorf("malformed reply %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 100 || code > 599 {
			return 0, line, fmt.Errorf("malformed reply %q", truncate(line, 80))
		}
		if len(line) > 3 && line[3] == '-' {
			continue
		}
		if len(line) > 3 && line[3] != ' ' {
			return 0, line, fmt.Errorf("malformed reply %q", truncate(line, 80))
		}
		return code, line, nil
	}
}
