package importer_test

import (
	"path/filepath"
	"testing"

	"github.com/amojo-go/amojo/importer"
	"github.com/amojo-go/amojo/internal/checkpointtest"
)

func TestMemoryCheckpointConformance(t *testing.T) {
	t.Parallel()
	checkpointtest.Run(t, func(t *testing.T) (importer.Checkpoint, func() importer.Checkpoint) {
		cp := importer.NewMemoryCheckpoint()
		return cp, func() importer.Checkpoint { return cp }
	}, checkpointtest.Options{Long: 50_000})
}

func TestFileCheckpointConformance(t *testing.T) {
	t.Parallel()
	checkpointtest.Run(t, func(t *testing.T) (importer.Checkpoint, func() importer.Checkpoint) {
		path := filepath.Join(t.TempDir(), "cp.jsonl")
		open := func() *importer.FileCheckpoint {
			cp, err := importer.NewFileCheckpoint(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cp.Close() })
			return cp
		}
		cp := open()
		return cp, func() importer.Checkpoint {
			if err := cp.Close(); err != nil {
				t.Fatal(err)
			}
			cp = open()
			return cp
		}
	}, checkpointtest.Options{Long: 50_000})
}
