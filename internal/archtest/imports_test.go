package archtest

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// purePackages are the directories, from the module's root, whose packages
// (and any below them) import nothing of the module.
var purePackages = []string{"evaluator", "drift", "trainer"}

func TestPurePackagesImportNothingOfKingmaker(t *testing.T) {
	root, module := moduleRoot(t)
	for _, dir := range purePackages {
		t.Run(dir+" imports no package of "+module, func(t *testing.T) {
			found, files, err := moduleImports(filepath.Join(root, dir), module)
			if err != nil {
				t.Fatal(err)
			}
			if files == 0 {
				t.Fatalf("%s has no Go files: is the list of pure packages out of date?", dir)
			}
			for _, f := range found {
				t.Errorf("%s: pure packages import nothing of %s (move the code that needs it to a caller)", f, module)
			}
		})
	}
}

func TestTheImportRuleCatchesAnImportOfTheModule(t *testing.T) {
	_, module := moduleRoot(t)
	found, files, err := moduleImports(filepath.Join("testdata", "impure"), module)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join("testdata", "impure", "impure.go") + ` imports "` + module + `/config"`,
		filepath.Join("testdata", "impure", "impure_xgboost.go") + ` imports "` + module + `/registry"`,
	}
	if files != 2 || !slices.Equal(found, want) {
		t.Errorf("read %d files and found %q; want 2 files (the test file left out) and %q: a build constraint hides nothing, a module whose path only starts alike is another module", files, found, want)
	}
}

// moduleImports lists, as `file imports "path"`, each import of a package
// of module by the Go files below dir, test files and testdata aside,
// whatever their build constraints; files is how many files it read.
func moduleImports(dir, module string) (found []string, files int, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != dir && d.Name() == "testdata":
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", path, imp.Path.Value, err)
			}
			if p == module || strings.HasPrefix(p, module+"/") {
				found = append(found, fmt.Sprintf("%s imports %q", path, p))
			}
		}
		return nil
	})
	return found, files, err
}

// moduleRoot finds the directory of go.mod above the test and the module
// path it declares.
func moduleRoot(t *testing.T) (root, module string) {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			s := bufio.NewScanner(f)
			for s.Scan() {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(rest), `"`)
				}
			}
			t.Fatalf("%s declares no module", f.Name())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
