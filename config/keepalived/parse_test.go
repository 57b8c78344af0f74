package keepalived

import (
	"errors"
	"io/fs"
	"path"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// memFS is a tiny in-memory file system for include tests.
type memFS map[string]string

func (m memFS) opts(id string) *ParseOptions {
	return &ParseOptions{
		ConfigID: id,
		ReadFile: func(name string) ([]byte, error) {
			if s, ok := m[name]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		},
		Glob: func(pattern string) ([]string, error) {
			var out []string
			for name := range m {
				if ok, _ := path.Match(pattern, name); ok {
					out = append(out, name)
				}
			}
			sort.Strings(out)
			return out, nil
		},
		Getenv: func(k string) string { return "env-" + k },
	}
}

func parseString(t *testing.T, s string, id string) *Tree {
	t.Helper()
	tr, err := Parse([]byte(s), "/etc/keepalived/keepalived.conf", memFS{}.opts(id))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestLexicalGrammar(t *testing.T) {
	src := `! comment
# another
global_defs { router_id r1 }   # trailing
virtual_server 10.0.0.1 80 {
  lb_algo rr ! comment
  real_server 10.0.0.2 80 { weight 3
    MISC_CHECK {
      misc_path "/bin/check -x '{a b}' # not a comment"
    }
  }
  notify "a\#b" c\#d
}
`
	tr := parseString(t, src, "")
	want := `global_defs {
    router_id r1
}
virtual_server 10.0.0.1 80 {
    lb_algo rr
    real_server 10.0.0.2 80 {
        weight 3
        MISC_CHECK {
            misc_path "/bin/check -x '{a b}' # not a comment"
        }
    }
    notify "a\#b" "c#d"
}
`
	if got := tr.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	misc := tr.Nodes[1].Block[1].Block[1].Block[0]
	if misc.Pos.Line != 8 {
		t.Errorf("misc_path line %d, want 8", misc.Pos.Line)
	}
	words := SplitQuoted(misc.Raw, false)
	argv := SplitQuoted(words[1], true)
	if !reflect.DeepEqual(argv, []string{"/bin/check", "-x", "{a b}", "#", "not", "a", "comment"}) {
		t.Errorf("argv %q", argv)
	}
}

func TestConditionalsAndParameters(t *testing.T) {
	src := `$BASE=10.0.${SUB}
$SUB=7
@main $PRIO=200
@^main $PRIO=100
$IF_MAIN=@main
vs ${BASE}.1 $PRIO
$IF_MAIN only_main
@backup only_backup
x ${_HASH}y ${_ENV HOME} "${UNDEFINED}" $_BANG
$RS= \
  real_server ${BASE}.${N} 80 { \
     weight ${N} \
  }

$N=5
$RS
~SEQ(I, 1, 2) seq $I
~SEQx(H, 9, 11) hex $H
~LST({A,B}, {1,2},{3,4}) lst $A $B
`
	tr := parseString(t, src, "main")
	want := `vs 10.0.7.1 200
only_main
x "#y" env-HOME "${UNDEFINED}" "!"
real_server 10.0.7.5 80 {
    weight 5
}
seq 1
seq 2
hex 9
hex a
hex b
lst 1 2
lst 3 4
`
	if got := tr.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	tr = parseString(t, src, "backup")
	if !strings.Contains(tr.String(), "vs 10.0.7.1 100\nonly_backup\n") {
		t.Errorf("backup id:\n%s", tr)
	}
}

func TestIncludes(t *testing.T) {
	m := memFS{
		"/etc/keepalived/keepalived.conf": "global_defs {\n}\ninclude conf.d/*.conf\nvirtual_server 10.0.0.1 80 {\n  include rs/{a,b}.inc\n}\n",
		"/etc/keepalived/conf.d/1.conf":   "! one\nvrrp_instance A {\n}\n",
		"/etc/keepalived/conf.d/2.conf":   "\n\nvrrp_instance B {\n  include ../more.inc\n}\n",
		"/etc/keepalived/more.inc":        "priority 1\n",
		"/etc/keepalived/rs/a.inc":        "real_server 10.0.0.2 80 {\n}\n",
		"/etc/keepalived/rs/b.inc":        "real_server 10.0.0.3 80 {\n",
		"/etc/keepalived/rs/c.inc":        "}\n",
	}
	o := m.opts("")
	_, err := ParseFile("/etc/keepalived/keepalived.conf", o)
	var pe *Error
	if !errors.As(err, &pe) || pe.Pos.File != "/etc/keepalived/keepalived.conf" || pe.Pos.Line != 4 {
		t.Fatalf("unclosed block in an include: %v", err)
	}
	m["/etc/keepalived/rs/b.inc"] = "real_server 10.0.0.3 80 {\n}\n"
	tr, err := ParseFile("/etc/keepalived/keepalived.conf", o)
	if err != nil {
		t.Fatal(err)
	}
	b := tr.Nodes[2]
	if b.Args[0] != "B" || b.Pos != (Pos{"/etc/keepalived/conf.d/2.conf", 3}) || b.Block[0].Pos != (Pos{"/etc/keepalived/more.inc", 1}) {
		t.Errorf("positions: %v %v", b.Pos, b.Block[0].Pos)
	}
	vs := tr.Nodes[3]
	if len(vs.Block) != 2 || vs.Block[1].Pos != (Pos{"/etc/keepalived/rs/b.inc", 1}) {
		t.Errorf("includes inside a block: %s", tr)
	}
	if len(tr.Files) != 6 {
		t.Errorf("files %v", tr.Files)
	}
	// a checked include must match something; a plain one may not
	if _, err := Parse([]byte("include nothing/*\n"), "/k.conf", o); err != nil {
		t.Errorf("plain include of nothing: %v", err)
	}
	if _, err := Parse([]byte("\nincluder nothing/*\n"), "/k.conf", o); err == nil || !strings.HasPrefix(err.Error(), "/k.conf:2:") {
		t.Errorf("includer of nothing: %v", err)
	}
	// loops are cut
	m["/loop.conf"] = "include /loop.conf\n"
	if _, err := ParseFile("/loop.conf", o); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("include loop: %v", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"a {\n b\n", "f:1: the block of a is not closed"},
		{"a\n}\n", "f:2: unexpected '}'"},
		{"{\n}\n", "f:1: unexpected '{'"},
		{"a {\n}\n{\n}\n", "f:3: unexpected '{'"},
		{"$A=$A x\n$A\n", "f:2: parameter substitution does not terminate"},
		{"~SEQ(I, 1, 0, 5) x\n", "f:1: invalid ~SEQ values"},
		{"~SEQ(I, 1, 1000000) x\n", "f:1: ~SEQ has more than"},
	} {
		_, err := Parse([]byte(c.src), "f", memFS{}.opts(""))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %s", c.src, err, c.want)
		}
	}
}
