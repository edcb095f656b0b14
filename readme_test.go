package agentbox_test

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMESnippets checks that every Go snippet of the README is the code
// of an Example function (token for token, comments and line breaks
// aside), so that it compiles, and that every text block the README shows
// as printed output is an Example's Output.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	type example struct {
		name   string
		tokens []string
		output string
	}
	var examples []example
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, fn := range f.Decls {
			fd, ok := fn.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fd.Name.Name, "Example") || fd.Body == nil {
				continue
			}
			body := src[fset.Position(fd.Body.Lbrace).Offset+1 : fset.Position(fd.Body.Rbrace).Offset]
			examples = append(examples, example{path + ":" + fd.Name.Name, goTokens(body), exampleOutput(fd, f)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(go|text)\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) < 3 {
		t.Fatalf("found %d Go and text blocks in the README; the test reads them wrong", len(blocks))
	}
	for _, b := range blocks {
		kind, text := string(b[1]), string(b[2])
		first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
		found := slices.ContainsFunc(examples, func(e example) bool {
			if kind == "text" {
				return e.output != "" && e.output == strings.TrimSpace(text)
			}
			want := goTokens([]byte(text))
			for i := 0; i+len(want) <= len(e.tokens); i++ {
				if slices.Equal(e.tokens[i:i+len(want)], want) {
					return true
				}
			}
			return false
		})
		if !found && kind == "go" {
			t.Errorf("the README's Go snippet starting %q is no Example's code: make it one, so that it compiles", first)
		}
		if !found && kind == "text" {
			t.Errorf("the README's output starting %q is no Example's Output: make it one, so that it is what the code prints", first)
		}
	}
}

// goTokens returns the tokens of Go source src, without comments and the
// semicolons that line breaks make.
func goTokens(src []byte) []string {
	var s scanner.Scanner
	fset := token.NewFileSet()
	s.Init(fset.AddFile("", -1, len(src)), src, nil, 0)
	var toks []string
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return toks
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue
		}
		toks = append(toks, tok.String()+" "+lit)
	}
}

// exampleOutput returns the text of fd's "// Output:" comment, trimmed.
func exampleOutput(fd *ast.FuncDecl, f *ast.File) string {
	for _, cg := range f.Comments {
		if cg.Pos() < fd.Body.Lbrace || cg.End() > fd.Body.Rbrace {
			continue
		}
		text := cg.Text()
		if rest, ok := strings.CutPrefix(text, "Output:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}
