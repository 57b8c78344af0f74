package keepalived

import "fmt"

// ParseFile reads a keepalived.conf and the files it includes into a tree.
// Errors are *Error values naming the file and line.
func ParseFile(path string, opts *ParseOptions) (*Tree, error) {
	l := newLexer(opts)
	data, err := l.opts.ReadFile(path)
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: err.Error()}
	}
	return parse(l, path, data)
}

// Parse reads a keepalived.conf given as data; name is its file name, used
// in errors and to resolve relative includes.
func Parse(data []byte, name string, opts *ParseOptions) (*Tree, error) {
	return parse(newLexer(opts), name, data)
}

func parse(l *lexer, name string, data []byte) (*Tree, error) {
	l.file(name, data)
	if l.err != nil {
		return nil, l.err
	}
	nodes, err := build(l.out)
	if err != nil {
		return nil, err
	}
	return &Tree{File: name, Files: l.files, Nodes: nodes}, nil
}

// build turns the line stream into nested nodes: a "{" line opens the
// block of the line just before it, a "}" line closes the innermost block.
func build(lines []logical) ([]*Node, error) {
	type frame struct {
		owner *Node
		nodes []*Node
	}
	stack := []frame{{}}
	var prev *Node // the node of the previous line, if it can take a block
	for _, ln := range lines {
		top := &stack[len(stack)-1]
		switch ln.words[0] {
		case "{":
			if prev == nil {
				return nil, &Error{Pos: ln.pos, Msg: "unexpected '{' (it must follow a keyword)"}
			}
			prev.HasBlock = true
			stack = append(stack, frame{owner: prev})
			prev = nil
		case "}":
			if len(stack) == 1 {
				return nil, &Error{Pos: ln.pos, Msg: "unexpected '}' (no block is open)"}
			}
			top.owner.Block = top.nodes
			stack = stack[:len(stack)-1]
			prev = nil
		default:
			n := &Node{Keyword: ln.words[0], Args: ln.words[1:], Raw: ln.raw, Pos: ln.pos}
			top.nodes = append(top.nodes, n)
			prev = n
		}
	}
	if len(stack) > 1 {
		o := stack[len(stack)-1].owner
		return nil, &Error{Pos: o.Pos, Msg: fmt.Sprintf("the block of %s is not closed: '}' missing", o.Keyword)}
	}
	return stack[0].nodes, nil
}
