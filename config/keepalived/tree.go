package keepalived

import (
	"fmt"
	"strings"
)

// Pos is where a line of the configuration came from: the file (the main
// file or one it includes) and the line number in it, counted from 1.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return p.File
}

// Node is one keyword line of keepalived.conf with its arguments and, when
// the next line is a '{', the block that follows it.
type Node struct {
	Keyword string
	// Args are the words after the keyword; a double-quoted string is one
	// word without its quotes (keepalived's ordinary word splitting).
	Args []string
	// Raw is the whole logical line (comments removed, parameters
	// substituted, split at braces), which keepalived re-reads with shell
	// like quoting for script keywords such as misc_path and notify_up.
	Raw string
	Pos Pos
	// HasBlock says the keyword was followed by '{'; Block holds the lines
	// up to the matching '}' (possibly none).
	HasBlock bool
	Block    []*Node
}

// Arg returns the i-th argument or "".
func (n *Node) Arg(i int) string {
	if i < len(n.Args) {
		return n.Args[i]
	}
	return ""
}

// Tree is a parsed keepalived.conf with its includes resolved.
type Tree struct {
	// File is the main configuration file; Files lists it and every file it
	// included, in the order they were read.
	File  string
	Files []string
	Nodes []*Node
}

// String renders the tree back as keepalived.conf text (one keyword per
// line, arguments quoted where needed): for debugging and tests.
func (t *Tree) String() string {
	var b strings.Builder
	var walk func(ns []*Node, depth int)
	walk = func(ns []*Node, depth int) {
		for _, n := range ns {
			b.WriteString(strings.Repeat("    ", depth))
			b.WriteString(n.Keyword)
			for _, a := range n.Args {
				b.WriteByte(' ')
				if a == "" || strings.ContainsAny(a, " \t{}#!") {
					b.WriteString(`"` + a + `"`)
				} else {
					b.WriteString(a)
				}
			}
			if n.HasBlock {
				b.WriteString(" {\n")
				walk(n.Block, depth+1)
				b.WriteString(strings.Repeat("    ", depth) + "}")
			}
			b.WriteByte('\n')
		}
	}
	walk(t.Nodes, 0)
	return b.String()
}
