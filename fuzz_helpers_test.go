package amojo

import (
	"os"
	"path/filepath"
	"testing"
)

// addCorpusFiles seeds f with every fixture under testdata/dir.
func addCorpusFiles(f *testing.F, dir string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	if len(files) == 0 {
		f.Fatalf("no fixtures in testdata/%s", dir)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
