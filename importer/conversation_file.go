package importer

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"slices"
)

// ErrFileChanged reports a conversation ImportFile could not read again as
// it was when the import began: the file changed during the import. A
// *ConversationError wraps it, naming the line; the conversations whose
// lines did not change are imported.
var ErrFileChanged = errors.New("amojo: the conversation file changed during the import")

// ImportFile imports every conversation of a JSON Lines file (the format of
// ReadConversations), like ImportAll, but starts them longest first over the
// whole file. file must be readable at any offset: an *os.File of a regular
// file (for a pipe, use ImportAll of ReadConversations). A first pass reads
// the file once, noting where each conversation is and how many messages
// it has, and nothing else (a scan: nothing is decoded), so memory grows by
// a few dozen bytes per conversation of the file, plus the conversations
// being prepared and imported, which are read again and decoded when they
// start. The progress knows every conversation and message of the file from
// its first report. Each conversation is checked when it starts, before any
// of its requests; a line that is not even a JSON object with a "messages"
// array fails first. Errors are those ReadConversations reports (a read
// error of file ends the first pass; the conversations before it are
// imported). The file must not change during the import: a conversation
// whose line changed fails with ErrFileChanged.
func (im *Importer) ImportFile(ctx context.Context, file io.ReaderAt) (*BatchResult, error) {
	if file == nil {
		return &BatchResult{}, invalid("file", "nil")
	}
	r := im.newRun(ctx)
	defer r.stop()
	entries := r.indexFile(file)
	p := r.startPipeline()
	for i, e := range entries {
		if r.ctx.Err() != nil {
			break
		}
		c, err := e.read(file)
		if j := r.check(c, err, e.index); j.err == nil {
			r.connectAhead()
			p.add(j, len(entries)-1-i)
		}
	}
	p.close()
	return r.result()
}

// indexEntry is one conversation of a file, as the first pass of ImportFile
// found it: where its line is, its number of messages (-1: the line does
// not read as a conversation), and a checksum of the line, which tells
// whether it is still what the pass read.
type indexEntry struct {
	off   int64
	size  int32
	msgs  int32
	line  int
	index int
	sum   uint64
}

// indexFile reads file once, counting its conversations and messages in
// the progress, and returns its conversations in the order to start them:
// the lines that are not even JSON objects with a "messages" array first
// (they fail at once, costing no request), then the others, the most
// messages first and, among equals, in file order. It only scans each line
// for its messages: a conversation is decoded and checked when it starts.
func (r *importRun) indexFile(file io.ReaderAt) []indexEntry {
	br := bufio.NewReaderSize(io.NewSectionReader(file, 0, math.MaxInt64), 64<<10)
	var entries []indexEntry
	var buf []byte
	var off int64
	for line := 1; r.ctx.Err() == nil; line++ {
		data, n, err := readLine(br, &buf)
		if len(bytes.TrimSpace(data)) > 0 {
			e := indexEntry{off: off, size: int32(len(data)), msgs: -1, line: line, index: len(entries), sum: lineSum(data)}
			if n, ok := messageCount(data); ok {
				e.msgs = int32(n)
			}
			r.mu.Lock()
			r.p.Conversations++
			r.p.Messages += max(0, int(e.msgs))
			r.mu.Unlock()
			entries = append(entries, e)
		}
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			r.add(nil, &ConversationError{Line: line, Index: -1, Step: "read", Err: err}, len(entries))
			break
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not keep one huge line's buffer for the rest of the file
		}
	}
	r.mu.Lock()
	r.report()
	r.mu.Unlock()
	slices.SortStableFunc(entries, func(a, b indexEntry) int {
		if badA, badB := a.msgs < 0, b.msgs < 0; badA != badB {
			if badA {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.msgs, a.msgs)
	})
	return entries
}

// messageCount returns the number of items of the "messages" array of the
// conversation document data, without decoding anything; ok is false when
// data is no JSON object with such an array. As the decoder does, it takes
// the key case aside, and the last one of repeated keys.
func messageCount(data []byte) (n int, ok bool) {
	s := keyScanner{data: data}
	if !s.spaceEat('{') || s.spaceEat('}') {
		return 0, false
	}
	for {
		s.space()
		key, valid := s.str()
		if !valid || !s.spaceEat(':') {
			return 0, false
		}
		s.space()
		if bytes.EqualFold(key, []byte("messages")) {
			n, ok, valid = s.arrayLen()
		} else {
			_, valid = s.value(nil)
		}
		if !valid {
			return 0, false
		}
		if s.spaceEat('}') {
			return n, ok
		}
		if !s.spaceEat(',') {
			return 0, false
		}
	}
}

// arrayLen reads one value and returns its number of items when it is an
// array.
func (s *keyScanner) arrayLen() (n int, isArray, valid bool) {
	if !s.eat('[') {
		_, valid = s.value(nil)
		return 0, false, valid
	}
	if s.spaceEat(']') {
		return 0, true, true
	}
	for {
		if _, valid := s.value(nil); !valid {
			return 0, false, false
		}
		n++
		if s.spaceEat(']') {
			return n, true, true
		}
		if !s.spaceEat(',') {
			return 0, false, false
		}
	}
}

// read reads e's conversation from file again.
func (e indexEntry) read(file io.ReaderAt) (*Conversation, error) {
	data := make([]byte, e.size)
	n, err := file.ReadAt(data, e.off)
	switch {
	case n == len(data):
	case err == nil, errors.Is(err, io.EOF):
		err = ErrFileChanged // cut short
	default:
		err = fmt.Errorf("amojo: read conversations: %w", err)
	}
	if err == nil && lineSum(data) != e.sum {
		err = ErrFileChanged
	}
	if err != nil {
		return nil, &ConversationError{Line: e.line, Index: e.index, Step: "read", Err: err}
	}
	return decodeConversationLine(data, e.line)
}

// lineSum is the checksum of a line that tells whether it changed.
func lineSum(data []byte) uint64 {
	h := fnv.New64a()
	h.Write(data)
	return h.Sum64()
}
