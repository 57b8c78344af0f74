package keepalived

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The lexical layer follows keepalived's reader: a configuration is a
// stream of lines read across included files; each line loses its comment
// ('#' or '!' outside double quotes, unless escaped with '\'), may start
// with an "@id" or "@^id" condition, may define ($NAME=value) or use
// ($NAME, ${NAME}) parameters, may start a ~SEQ or ~LST loop, and is then
// cut at every '{' and '}' outside double quotes, so that a brace is always
// a line of its own. The tree builder then attaches a "{" line to the line
// before it.

// Limits that keep a hostile or broken file from exhausting the machine.
const (
	maxIncludeDepth = 32
	maxExpandDepth  = 64
	maxSubstitution = 10000   // replacements on one line
	maxLineLen      = 1 << 16 // bytes of one line after substitution
)

// Variables so that the fuzz test can lower them.
var (
	maxLines = 1 << 20 // logical lines in the whole configuration
	maxLoop  = 1 << 16 // steps of one ~SEQ
)

// ParseOptions tune the reader. The zero value reads the real file system
// and matches no configuration id.
type ParseOptions struct {
	// ConfigID is keepalived's -i/--config-id: lines starting "@ID " are
	// kept only when ID equals it, lines starting "@^ID " only when it does
	// not. keepalived defaults it to the host name up to the first dot (see
	// DefaultConfigID); empty matches no @ID line.
	ConfigID string
	// ReadFile and Glob give access to the files (defaults: os.ReadFile and
	// filepath.Glob); tests and the fuzzer use a fake file system.
	ReadFile func(name string) ([]byte, error)
	Glob     func(pattern string) ([]string, error)
	// Getenv serves ${_ENV NAME} (default os.Getenv).
	Getenv func(string) string
}

// DefaultConfigID is keepalived's default configuration id: the host name
// up to its first dot.
func DefaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h
}

// Error is a syntax error at a line of a file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

type logical struct {
	words []string
	raw   string
	pos   Pos
}

type definition struct {
	lines     []string
	multiline bool
}

type lexer struct {
	opts  ParseOptions
	defs  map[string]*definition
	out   []logical
	files []string
	incl  int         // include depth
	mdef  *definition // multiline definition being read
	err   error
}

func newLexer(o *ParseOptions) *lexer {
	l := &lexer{defs: map[string]*definition{}}
	if o != nil {
		l.opts = *o
	}
	if l.opts.ReadFile == nil {
		l.opts.ReadFile = os.ReadFile
	}
	if l.opts.Glob == nil {
		l.opts.Glob = filepath.Glob
	}
	if l.opts.Getenv == nil {
		l.opts.Getenv = os.Getenv
	}
	return l
}

func (l *lexer) fail(pos Pos, format string, a ...any) {
	if l.err == nil {
		l.err = &Error{Pos: pos, Msg: fmt.Sprintf(format, a...)}
	}
}

// file reads one file's lines into the stream.
func (l *lexer) file(name string, data []byte) {
	l.files = append(l.files, name)
	lines := strings.Split(string(data), "\n")
	for i, text := range lines {
		if l.err != nil {
			return
		}
		pos := Pos{File: name, Line: i + 1}
		text = strings.TrimRight(text, "\r")
		if strings.IndexByte(text, 0) >= 0 {
			// keepalived ignores lines with embedded NULs
			continue
		}
		if text == "" {
			l.endDefinition()
			continue
		}
		s := decomment(text)
		if l.mdef != nil {
			if strings.HasSuffix(s, `\`) {
				s = strings.TrimRight(s[:len(s)-1], " \t")
				if s != "" {
					l.mdef.lines = append(l.mdef.lines, s)
				}
				continue
			}
			if s != "" {
				l.mdef.lines = append(l.mdef.lines, s)
			}
			l.endDefinition()
			continue
		}
		if s == "" {
			continue
		}
		l.line(s, pos, 0)
	}
	l.endDefinition()
}

func (l *lexer) endDefinition() {
	if l.mdef != nil && len(l.mdef.lines) == 0 {
		l.mdef.multiline = false
		l.mdef.lines = []string{""}
	}
	l.mdef = nil
}

// decomment removes leading blanks, the comment and trailing blanks, and
// the escaping backslash of '\#' and '\!' outside quotes. A line ending in
// a lone backslash keeps it (it continues a multiline definition).
func decomment(s string) string {
	s = strings.TrimLeft(s, " \t")
	b := make([]byte, 0, len(s))
	quote, cont := false, false
loop:
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
			b = append(b, c)
		case c == '\\':
			if i+1 == len(s) {
				cont = true
				break loop
			}
			if !quote && (s[i+1] == '#' || s[i+1] == '!') {
				b = append(b, s[i+1])
			} else {
				b = append(b, c, s[i+1])
			}
			i++
		case !quote && (c == '#' || c == '!'):
			break loop
		default:
			b = append(b, c)
		}
	}
	out := strings.TrimRight(string(b), " \t")
	if cont {
		out += `\`
	}
	return out
}

// line processes one decommented, non-empty line.
func (l *lexer) line(s string, pos Pos, depth int) {
	if l.err != nil {
		return
	}
	if depth > maxExpandDepth {
		l.fail(pos, "parameter or ~SEQ expansion nested more than %d deep", maxExpandDepth)
		return
	}
	var rest []string
	for iter := 0; ; iter++ {
		if s == "" {
			return
		}
		if s[0] == '@' {
			off := 1
			rev := len(s) > 1 && s[1] == '^'
			if rev {
				off = 2
			}
			sp := strings.IndexAny(s[off:], " \t")
			if sp < 0 {
				return
			}
			id := s[off : off+sp]
			match := l.opts.ConfigID != "" && id == l.opts.ConfigID
			if match == rev {
				return
			}
			s = strings.TrimLeft(s[off+sp:], " \t")
			if s == "" {
				return
			}
		}
		if s[0] == '$' {
			if name, def, ok := parseDefinition(s); ok {
				l.defs[name] = def
				if def.multiline {
					l.mdef = def
				}
				l.expandRest(rest, pos, depth)
				return
			}
		}
		if strings.HasPrefix(s, "~SEQ") || strings.HasPrefix(s, "~LST") {
			l.loop(s, pos, depth)
			l.expandRest(rest, pos, depth)
			return
		}
		if iter >= 8 || !strings.Contains(s, "$") {
			break
		}
		ns, more, changed := l.substitute(s, pos)
		if l.err != nil {
			return
		}
		if !changed {
			break
		}
		rest = append(more, rest...)
		// no second decomment: ${_HASH} and ${_BANG} must survive
		s = strings.TrimSpace(ns)
	}
	if s == "" {
		l.expandRest(rest, pos, depth)
		return
	}
	if kw, pattern, ok := includeLine(s); ok {
		l.include(kw, pattern, pos)
	} else {
		l.emit(s, pos)
	}
	l.expandRest(rest, pos, depth)
}

func (l *lexer) expandRest(rest []string, pos Pos, depth int) {
	for _, r := range rest {
		if r = strings.TrimSpace(r); r != "" {
			l.line(r, pos, depth+1)
		}
	}
}

// parseDefinition recognises $NAME=value (no blank before '=').
func parseDefinition(s string) (string, *definition, bool) {
	if len(s) < 3 || !(isAlpha(s[1]) || s[1] == '_') {
		return "", nil, false
	}
	i := 2
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	if i >= len(s) || s[i] != '=' {
		return "", nil, false
	}
	name := s[1:i]
	v := strings.TrimLeft(s[i+1:], " \t")
	def := &definition{}
	if strings.HasSuffix(v, `\`) {
		def.multiline = true
		if v = strings.TrimRight(v[:len(v)-1], " \t"); v != "" {
			def.lines = []string{v}
		}
	} else {
		def.lines = []string{v}
	}
	return name, def, true
}

func isAlpha(c byte) bool    { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isNameChar(c byte) bool { return isAlpha(c) || isDigit(c) || c == '_' }

// substitute replaces $NAME and ${NAME} (recursively: replacement text is
// scanned again). A multiline definition is expanded only where it ends
// the line; its further lines are returned in more.
func (l *lexer) substitute(s string, pos Pos) (out string, more []string, changed bool) {
	count := 0
	i := 0
	for {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			break
		}
		p := i + j
		if p+1 >= len(s) {
			break
		}
		name, params, n, ok := parseRef(s, p)
		if !ok {
			i = p + 1
			continue
		}
		val, lines, ok := l.lookup(name, params, pos)
		if !ok || (lines != nil && p+n != len(s)) {
			i = p + 1
			continue
		}
		if lines != nil {
			if len(lines) > 0 {
				val = lines[0]
				more = append(append([]string{}, lines[1:]...), more...)
			}
		}
		s = s[:p] + val + s[p+n:]
		changed = true
		count++
		if count > maxSubstitution || len(s) > maxLineLen {
			l.fail(pos, "parameter substitution does not terminate (or the line grows beyond %d bytes)", maxLineLen)
			return s, nil, false
		}
		i = p
	}
	return s, more, changed
}

// parseRef reads "$NAME" (ended by a blank, ',', ')' or the end of the
// line) or "${NAME}" / "${NAME params}" at s[p]; n is its length.
func parseRef(s string, p int) (name, params string, n int, ok bool) {
	k := p + 1
	braces := s[k] == '{'
	if braces {
		k++
	}
	if k >= len(s) || !(isAlpha(s[k]) || s[k] == '_') {
		return "", "", 0, false
	}
	st := k
	for k < len(s) && isNameChar(s[k]) {
		k++
	}
	name = s[st:k]
	if !braces {
		if k < len(s) && !strings.ContainsRune(" \t,)", rune(s[k])) {
			return "", "", 0, false
		}
		return name, "", k - p, true
	}
	ps := k
	for k < len(s) && (s[k] == ' ' || s[k] == '\t' || isNameChar(s[k])) {
		k++
	}
	if k >= len(s) || s[k] != '}' {
		return "", "", 0, false
	}
	params = s[ps:k]
	if params != "" && (params[len(params)-1] == ' ' || params[len(params)-1] == '\t') {
		return "", "", 0, false
	}
	return name, strings.TrimSpace(params), k + 1 - p, true
}

// lookup returns a definition's value (lines != nil for a multiline one).
func (l *lexer) lookup(name, params string, pos Pos) (string, []string, bool) {
	if d, ok := l.defs[name]; ok {
		if params != "" {
			return "", nil, false
		}
		if d.multiline {
			return "", d.lines, true
		}
		return strings.Join(d.lines, ""), nil, true
	}
	ps := strings.Fields(params)
	switch name {
	case "_PWD":
		if len(ps) == 0 {
			d, err := filepath.Abs(filepath.Dir(pos.File))
			if err != nil {
				d = filepath.Dir(pos.File)
			}
			return d, nil, true
		}
	case "_INSTANCE":
		if len(ps) == 0 {
			return l.opts.ConfigID, nil, true
		}
	case "_HASH":
		if len(ps) == 0 {
			return "#", nil, true
		}
	case "_BANG":
		if len(ps) == 0 {
			return "!", nil, true
		}
	case "_ENV":
		if len(ps) == 1 {
			return l.opts.Getenv(ps[0]), nil, true
		}
	case "_RANDOM":
		lo, hi := 0, 32767
		var err error
		if len(ps) > 2 {
			return "", nil, false
		}
		if len(ps) >= 1 {
			if lo, err = strconv.Atoi(ps[0]); err != nil || lo < 0 {
				return "", nil, false
			}
		}
		if len(ps) == 2 {
			if hi, err = strconv.Atoi(ps[1]); err != nil || hi < lo {
				return "", nil, false
			}
		}
		if hi < lo {
			hi = lo
		}
		return strconv.Itoa(lo + rand.IntN(hi-lo+1)), nil, true
	}
	return "", nil, false
}

// loop expands "~SEQ(var, start, step, end) text", "~SEQx(...)" and
// "~LST(var, v1, v2...)" / "~LST({a,b}, {1,2}, {3,4}) text".
func (l *lexer) loop(s string, pos Pos, depth int) {
	seq := strings.HasPrefix(s, "~SEQ")
	p := 4
	hex := false
	if seq && p < len(s) && s[p] == 'x' {
		hex = true
		p++
	}
	for p < len(s) && (s[p] == ' ' || s[p] == '\t') {
		p++
	}
	if p >= len(s) || s[p] != '(' {
		l.fail(pos, "invalid %s: want %s(...)", s[:4], s[:4])
		return
	}
	end := matchParen(s, p)
	if end < 0 {
		l.fail(pos, "%s is missing its ')'", s[:4])
		return
	}
	inner := s[p+1 : end]
	text := strings.TrimLeft(s[end+1:], " \t")
	if seq {
		l.seqLoop(inner, text, hex, pos, depth)
	} else {
		l.lstLoop(inner, text, pos, depth)
	}
}

func matchParen(s string, p int) int {
	n := 0
	for i := p; i < len(s); i++ {
		switch s[i] {
		case '(':
			n++
		case ')':
			n--
			if n == 0 {
				return i
			}
		}
	}
	return -1
}

func (l *lexer) seqLoop(inner, text string, hex bool, pos Pos, depth int) {
	parts := strings.Split(inner, ",")
	v := strings.TrimSpace(parts[0])
	if v == "" || !(isAlpha(v[0]) || v[0] == '_') || len(parts) < 2 || len(parts) > 4 {
		l.fail(pos, "invalid ~SEQ(var, [start,] [step,] end)")
		return
	}
	var nums []int64
	for _, a := range parts[1:] {
		a, _, _ = l.substitute(strings.TrimSpace(a), pos)
		n, err := strconv.ParseInt(a, 0, 64)
		if err != nil {
			l.fail(pos, "invalid ~SEQ number %q", a)
			return
		}
		nums = append(nums, n)
	}
	var start, step, last int64
	switch len(nums) {
	case 1:
		last = nums[0]
		start, step = 1, 1
		if last < 0 {
			start = -1
		}
		if last < 1 {
			step = -1
		}
	case 2:
		start, last = nums[0], nums[1]
		step = 1
		if start > last {
			step = -1
		}
	case 3:
		start, step, last = nums[0], nums[1], nums[2]
		if step == 0 || (start < last && step < 0) || (start > last && step > 0) {
			l.fail(pos, "invalid ~SEQ values")
			return
		}
	}
	if hex && (start < 0 || last < 0) {
		l.fail(pos, "~SEQx is only valid for positive numbers")
		return
	}
	count := 0
	for n := start; (step > 0 && n <= last) || (step < 0 && n >= last); n += step {
		if count++; count > maxLoop || l.err != nil {
			l.fail(pos, "~SEQ has more than %d steps", maxLoop)
			return
		}
		val := strconv.FormatInt(n, 10)
		if hex {
			val = strconv.FormatInt(n, 16)
		}
		l.defs[v] = &definition{lines: []string{val}}
		l.line(text, pos, depth+1)
	}
}

// splitTop splits s at commas that are not inside {...}.
func splitTop(s string) []string {
	var out []string
	n, st := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			n++
		case '}':
			n--
		case ',':
			if n == 0 {
				out = append(out, strings.TrimSpace(s[st:i]))
				st = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[st:]))
}

func unbrace(s string) []string {
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		var out []string
		for _, p := range strings.Split(s[1:len(s)-1], ",") {
			out = append(out, strings.TrimSpace(p))
		}
		return out
	}
	return []string{s}
}

func (l *lexer) lstLoop(inner, text string, pos Pos, depth int) {
	parts := splitTop(inner)
	if len(parts) < 2 {
		l.fail(pos, "invalid ~LST(var, value...)")
		return
	}
	vars := unbrace(parts[0])
	for _, v := range vars {
		if v == "" || !(isAlpha(v[0]) || v[0] == '_') {
			l.fail(pos, "invalid ~LST variable %q", v)
			return
		}
	}
	for _, set := range parts[1:] {
		vals := unbrace(set)
		if len(vals) != len(vars) {
			l.fail(pos, "~LST value set %q does not match the variables %q", set, parts[0])
			return
		}
		for i, v := range vars {
			l.defs[v] = &definition{lines: []string{vals[i]}}
		}
		l.line(text, pos, depth+1)
		if l.err != nil {
			return
		}
	}
}

// includeLine recognises include, includer, includem, includew, includeb
// and includea followed by blanks.
func includeLine(s string) (kw, pattern string, ok bool) {
	if !strings.HasPrefix(s, "include") || len(s) < 8 {
		return "", "", false
	}
	n := 7
	if s[7] != ' ' && s[7] != '\t' {
		if !strings.ContainsRune("rmwba", rune(s[7])) || len(s) < 9 || (s[8] != ' ' && s[8] != '\t') {
			return "", "", false
		}
		n = 8
	}
	pattern = strings.TrimSpace(s[n:])
	if len(pattern) >= 2 && pattern[0] == '"' && pattern[len(pattern)-1] == '"' {
		pattern = pattern[1 : len(pattern)-1]
	}
	return s[:n], pattern, true
}

// include reads the files a pattern names, relative to the including file.
// Plain "include" ignores patterns that match nothing, as keepalived does;
// the checked variants (includer, includea...) make that an error.
func (l *lexer) include(kw, pattern string, pos Pos) {
	if l.incl >= maxIncludeDepth {
		l.fail(pos, "includes nested more than %d deep (an include loop?)", maxIncludeDepth)
		return
	}
	if pattern == "" {
		l.fail(pos, "%s needs a file name", kw)
		return
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	var files []string
	seen := map[string]bool{}
	for _, p := range expandBraces(pattern) {
		m, err := l.opts.Glob(p)
		if err != nil {
			l.fail(pos, "%s %s: %v", kw, p, err)
			return
		}
		sort.Strings(m)
		for _, f := range m {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		if kw != "include" {
			l.fail(pos, "%s %s: no file matches", kw, pattern)
		}
		return
	}
	for _, f := range files {
		data, err := l.opts.ReadFile(f)
		if err != nil {
			if kw == "include" {
				continue
			}
			l.fail(pos, "%s: %v", kw, err)
			return
		}
		l.incl++
		l.file(f, data)
		l.incl--
		if l.err != nil {
			return
		}
	}
}

// expandBraces expands csh-style {a,b} alternatives (nested allowed).
func expandBraces(p string) []string {
	start := strings.IndexByte(p, '{')
	if start < 0 {
		return []string{p}
	}
	depth := 0
	var alts []string
	st := start + 1
	for i := start; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				alts = append(alts, p[st:i])
				var out []string
				for _, a := range alts {
					for _, tail := range expandBraces(p[i+1:]) {
						for _, x := range expandBraces(a) {
							out = append(out, p[:start]+x+tail)
							if len(out) > 1024 {
								return out
							}
						}
					}
				}
				return out
			}
		case ',':
			if depth == 1 {
				alts = append(alts, p[st:i])
				st = i + 1
			}
		}
	}
	return []string{p} // unbalanced: literal
}

// emit cuts a line at braces outside double quotes and splits it in words.
func (l *lexer) emit(s string, pos Pos) {
	for s != "" {
		p := braceIndex(s)
		switch {
		case p < 0:
			l.words(s, pos)
			return
		case p == 0:
			l.words(s[:1], pos)
			s = strings.TrimLeft(s[1:], " \t")
		default:
			l.words(strings.TrimRight(s[:p], " \t"), pos)
			s = s[p:]
		}
	}
}

func braceIndex(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '}':
			return i
		case '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return -1
			}
			i += j + 1
		}
	}
	return -1
}

const white = " \t\f\n\r\v"

// words splits as keepalived does for keywords: a word starting with '"'
// runs to the next '"' (quotes dropped), others end at a blank or a '"'.
func (l *lexer) words(s string, pos Pos) {
	var ws []string
	i := 0
	for {
		for i < len(s) && strings.IndexByte(white, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				// keepalived reports the unmatched quote and drops the rest
				break
			}
			ws = append(ws, s[i+1:i+1+j])
			i += j + 2
			continue
		}
		j := strings.IndexAny(s[i:], white+`"`)
		if j < 0 {
			j = len(s) - i
		}
		ws = append(ws, s[i:i+j])
		i += j
	}
	if len(ws) == 0 {
		return
	}
	if len(l.out) >= maxLines {
		l.fail(pos, "configuration has more than %d lines after expansion", maxLines)
		return
	}
	l.out = append(l.out, logical{words: ws, raw: s, pos: pos})
}

// SplitQuoted splits s the way keepalived re-reads script lines: blanks
// separate words; single or double quotes group (and may join) text; with
// escapes, \n, \t, \xHH, \NNN (octal), \cC and \C are decoded, otherwise a
// backslash and the character after it are kept as they are.
func SplitQuoted(s string, escapes bool) []string {
	var out []string
	i := 0
	for {
		for i < len(s) && strings.IndexByte(white, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return out
		}
		var w []byte
		var quote byte
		for i < len(s) {
			c := s[i]
			if quote == 0 && strings.IndexByte(white, c) >= 0 {
				break
			}
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return append(out, string(w))
				}
				if !escapes {
					w = append(w, '\\', s[i])
					i++
					continue
				}
				var b byte
				b, i = unescape(s, i)
				w = append(w, b)
				continue
			case quote != 0 && c == quote:
				quote = 0
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			default:
				w = append(w, c)
			}
			i++
		}
		out = append(out, string(w))
	}
}

// unescape decodes the escape whose character is at s[i] and returns the
// byte and the index after it.
func unescape(s string, i int) (byte, int) {
	c := s[i]
	switch {
	case c == 'x' && i+1 < len(s) && isHex(s[i+1]):
		var v byte
		i++
		for k := 0; k < 2 && i < len(s) && isHex(s[i]); k++ {
			v = v<<4 | hexVal(s[i])
			i++
		}
		return v, i
	case c == 'c' && i+1 < len(s):
		return s[i+1] & 0x1f, i + 2
	case c >= '0' && c <= '7':
		v := c - '0'
		i++
		for k := 0; k < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; k++ {
			v = v<<3 + s[i] - '0'
			i++
		}
		return v, i
	}
	m := map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}
	if v, ok := m[c]; ok {
		return v, i + 1
	}
	return c, i + 1
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
