package ldirectord

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Directive is one "key = value" line of ldirectord.cf.
type Directive struct {
	Key   string
	Value string
	Line  int
}

// Virtual is a "virtual=" (or "virtual6=") line and the indented lines
// that follow it.
type Virtual struct {
	Directive
	Body []Directive
}

// File is a parsed ldirectord.cf: global directives and virtual sections,
// in file order.
type File struct {
	Name     string
	Globals  []Directive
	Virtuals []*Virtual
}

// Error is a syntax error at a line of the file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseFile reads an ldirectord.cf.
func ParseFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Parse(data, path)
}

var (
	virtualRe   = regexp.MustCompile(`^(virtual6?)\s*=\s*(.*)$`)
	directiveRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*)$`)
	bareRe      = regexp.MustCompile(`^(supervised)\s*$`)
)

// Parse reads ldirectord.cf text the way ldirectord does: a "virtual="
// line at the start of a line opens a section that runs as long as the
// following lines are indented by a tab or at least four spaces; inside a
// section a '#' starts a comment anywhere, outside only at the start of a
// line (the rest of a global line is kept; the converter reads its value
// as ldirectord's patterns do). A blank line ends a section.
func Parse(data []byte, name string) (*File, error) {
	f := &File{Name: name}
	lines := strings.Split(string(data), "\n")
	var cur *Virtual
	for i, raw := range lines {
		n := i + 1
		raw = strings.TrimRight(raw, "\r")
		if cur != nil {
			if isComment(raw) {
				continue
			}
			s := raw
			if j := strings.IndexByte(s, '#'); j >= 0 {
				s = s[:j]
			}
			s = strings.ReplaceAll(s, "\t", "    ")
			if strings.HasPrefix(s, "    ") && strings.TrimSpace(s) != "" {
				body := strings.TrimSpace(s)
				m := directiveRe.FindStringSubmatch(body)
				if m == nil {
					return nil, &Error{File: name, Line: n, Msg: fmt.Sprintf("unknown command %q (want key=value)", body)}
				}
				cur.Body = append(cur.Body, Directive{Key: m[1], Value: strings.TrimRight(m[2], " \t"), Line: n})
				continue
			}
			cur = nil
		}
		if strings.TrimSpace(raw) == "" || isComment(raw) {
			continue
		}
		if m := virtualRe.FindStringSubmatch(raw); m != nil {
			cur = &Virtual{Directive: Directive{Key: m[1], Value: strings.TrimSpace(stripComment(m[2])), Line: n}}
			f.Virtuals = append(f.Virtuals, cur)
			continue
		}
		s := strings.TrimRight(stripComment(raw), " \t")
		if m := bareRe.FindStringSubmatch(s); m != nil {
			f.Globals = append(f.Globals, Directive{Key: m[1], Line: n})
			continue
		}
		m := directiveRe.FindStringSubmatch(s)
		if m == nil {
			if strings.HasPrefix(raw, " ") || strings.HasPrefix(raw, "\t") {
				return nil, &Error{File: name, Line: n, Msg: "indented line outside a virtual section"}
			}
			return nil, &Error{File: name, Line: n, Msg: fmt.Sprintf("unknown command %q (want key=value)", strings.TrimSpace(raw))}
		}
		f.Globals = append(f.Globals, Directive{Key: m[1], Value: m[2], Line: n})
	}
	return f, nil
}

func isComment(s string) bool {
	return strings.HasPrefix(strings.TrimLeft(s, " \t"), "#")
}

// stripComment removes a " #..." comment from a global line (a '#' right
// after text, as in a quoted string, is kept).
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimRight(s[:i], " \t")
		}
	}
	return s
}
