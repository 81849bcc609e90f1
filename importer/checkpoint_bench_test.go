package importer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// checkpointSizes are the conversation lengths the checkpoint benchmarks
// record at: the cost of one more msgid must not grow with them.
var checkpointSizes = []int{1_000, 10_000, 50_000}

// msgIDLines returns a checkpoint file of one conversation with n msgids.
func msgIDLines(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":"c","scope":"s","chat":"chat"}` + "\n")
	for i := range n {
		fmt.Fprintf(&b, `{"id":"c","msgid":"m-%08d"}`+"\n", i)
	}
	return b.Bytes()
}

// BenchmarkCheckpointRecordMsgID records the n-th msgid of one
// conversation as the importer does: in the FileCheckpoint and in the
// conversation's own copy of the state. Run with a fixed count (such as
// -benchtime 2000x) to measure at n and not much beyond.
func BenchmarkCheckpointRecordMsgID(b *testing.B) {
	for _, n := range checkpointSizes {
		b.Run("msgs="+strconv.Itoa(n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "cp.jsonl")
			if err := os.WriteFile(path, msgIDLines(n-1), 0o600); err != nil {
				b.Fatal(err)
			}
			cp, err := NewFileCheckpoint(path)
			if err != nil {
				b.Fatal(err)
			}
			cp.noSync = true
			defer cp.Close()
			st, _ := cp.Load(b.Context(), "c")
			if len(st.Sent) != n-1 {
				b.Fatalf("%d msgids loaded", len(st.Sent))
			}
			i := n
			for b.Loop() {
				e := CheckpointEntry{MsgID: fmt.Sprintf("m-%08d", i)}
				if err := cp.Record(b.Context(), "c", e); err != nil {
					b.Fatal(err)
				}
				st.Apply(e)
				i++
			}
		})
	}
}

// BenchmarkCheckpointReplay reads a checkpoint file of one conversation with
// n msgids, as NewFileCheckpoint does; ns/record is the cost of one line.
func BenchmarkCheckpointReplay(b *testing.B) {
	for _, n := range checkpointSizes {
		b.Run("msgs="+strconv.Itoa(n), func(b *testing.B) {
			data := msgIDLines(n)
			for b.Loop() {
				states, _, _, _, err := loadCheckpoint(bytes.NewReader(data), "cp")
				if err != nil || len(states["c"].Sent) != n {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
		})
	}
}
