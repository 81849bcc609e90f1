package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/amojo-go/amojo"
)

// The JSON shape of a conversation file, used to refuse unknown keys (a
// typo such as "mesages" would otherwise be ignored) and to name a problem
// by the JSON path the file uses ("messages[2].message.file_name") rather
// than by the Go field ("Messages[2].Content.FileName").

// jsonNode is a JSON object of a conversation file: its keys.
type jsonNode struct {
	keys []jsonKey
}

// jsonKey is one key of a jsonNode: its JSON name, the Go field it fills
// ("" for keys read into no field of their own) and the object below it, or
// below each item of its array (nil for plain values).
type jsonKey struct {
	json, field string
	node        *jsonNode
}

// tagNode describes struct T by its json tags; fields of struct types get
// their own node.
func tagNode[T any]() *jsonNode { return nodeOf(reflect.TypeFor[T]()) }

func nodeOf(t reflect.Type) *jsonNode {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	n := &jsonNode{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		n.keys = append(n.keys, jsonKey{json: name, field: f.Name, node: nodeOf(f.Type)})
	}
	return n
}

var (
	participantNode = tagNode[amojo.Participant]()

	// contentNode is the "message" object (see DecodeContent); one JSON key
	// may fill fields of several names, depending on the message kind.
	contentNode = &jsonNode{keys: []jsonKey{
		{json: "type", field: "Type"},
		{json: "text", field: "Text"},
		{json: "text", field: "Caption"},
		{json: "media", field: "URL"},
		{json: "file_name", field: "FileName"},
		{json: "file_size", field: "FileSize"},
		{json: "media_duration", field: "Duration"},
		{json: "sticker_id", field: "StickerID"},
		{json: "location", field: "Point", node: tagNode[amojo.GeoPoint]()},
		{json: "location", field: "Location", node: tagNode[amojo.GeoPoint]()},
		{json: "contact", field: "Card", node: tagNode[amojo.ContactInfo]()},
		{json: "contact", field: "Contact", node: tagNode[amojo.ContactInfo]()},
		// What amojo's history adds to a message, so one copied from it
		// reads too.
		{json: "id"}, {json: "client_id"}, {json: "thumbnail"},
	}}

	messageNode = &jsonNode{keys: []jsonKey{
		{json: "msgid", field: "MsgID"},
		{json: "time", field: "Time"},
		{json: "timestamp"},
		{json: "msec_timestamp"},
		{json: "from", field: "From"},
		{json: "sender", field: "Sender", node: participantNode},
		{json: "message", field: "Content", node: contentNode},
	}}

	conversationNode = &jsonNode{keys: []jsonKey{
		{json: "conversation_id", field: "ID"},
		{json: "client", field: "Client", node: participantNode},
		{json: "source", field: "Source", node: tagNode[amojo.Source]()},
		{json: "contact", field: "Contact", node: tagNode[ContactSpec]()},
		{json: "messages", field: "Messages", node: messageNode},
	}}
)

// byJSON returns the key named name (as encoding/json matches keys: case
// aside).
func (n *jsonNode) byJSON(name []byte) (jsonKey, bool) {
	for _, k := range n.keys {
		if len(k.json) == len(name) && string(name) == k.json {
			return k, true
		}
	}
	for _, k := range n.keys {
		if bytes.EqualFold([]byte(k.json), name) {
			return k, true
		}
	}
	return jsonKey{}, false
}

// names lists the node's keys once each, in order.
func (n *jsonNode) names() string {
	var out []string
	for _, k := range n.keys {
		if len(out) == 0 || out[len(out)-1] != k.json {
			out = append(out, k.json)
		}
	}
	return strings.Join(out, ", ")
}

// unknownKeyError is a key of a conversation document that the file format
// does not have: its JSON path, its line in the document and the keys known
// where it is.
type unknownKeyError struct {
	path  string
	line  int
	known string
}

// checkKeys reports the first key of the conversation document data that
// the format does not have. Malformed JSON is left to the decoder, which
// says what is wrong with it: the scan just stops.
func checkKeys(data []byte) *unknownKeyError {
	s := keyScanner{data: data}
	ke, _ := s.value(conversationNode)
	return ke
}

// keyScanner walks a JSON document for its keys, without decoding values.
type keyScanner struct {
	data []byte
	pos  int
	path []pathPart // where the value being read is
}

// pathPart is a key, or an array index.
type pathPart struct {
	key     []byte
	index   int
	isIndex bool
}

// maxScanDepth is how deep the objects and arrays of a document the
// scanner walks may nest, as deep as encoding/json decodes: deeper, the
// scan stops as on malformed input (and the decoder says what is wrong),
// rather than recurse until the stack overflows.
const maxScanDepth = 10000

// value reads one value, checking the keys of its objects against n (nil:
// anything goes). ok is false for malformed input, and for values nested
// deeper than maxScanDepth.
func (s *keyScanner) value(n *jsonNode) (ke *unknownKeyError, ok bool) {
	if len(s.path) > maxScanDepth {
		return nil, false
	}
	s.space()
	if s.pos >= len(s.data) {
		return nil, false
	}
	switch s.data[s.pos] {
	case '{':
		s.pos++
		if s.space(); s.eat('}') {
			return nil, true
		}
		for {
			s.space()
			start := s.pos
			key, ok := s.str()
			if !ok || !s.spaceEat(':') {
				return nil, false
			}
			var below *jsonNode
			if n != nil {
				k, found := n.byJSON(key)
				if !found {
					s.path = append(s.path, pathPart{key: key})
					line := 1 + bytes.Count(s.data[:start], []byte("\n"))
					return &unknownKeyError{path: s.pathString(), line: line, known: n.names()}, true
				}
				below = k.node
			}
			if ke, ok, more := s.item(pathPart{key: key}, below, '}'); !more {
				return ke, ok
			}
		}
	case '[':
		s.pos++
		if s.space(); s.eat(']') {
			return nil, true
		}
		for i := 0; ; i++ {
			if ke, ok, more := s.item(pathPart{index: i, isIndex: true}, n, ']'); !more {
				return ke, ok
			}
		}
	case '"':
		_, ok := s.str()
		return nil, ok
	}
	// A number, true, false or null: the decoder checks it.
	start := s.pos
	for s.pos < len(s.data) && strings.IndexByte(",:{}[]\" \t\r\n", s.data[s.pos]) < 0 {
		s.pos++
	}
	return nil, s.pos > start
}

// item reads the value of one member or element at part, checked against
// n, then the comma (more follows) or the closing delimiter end.
func (s *keyScanner) item(part pathPart, n *jsonNode, end byte) (ke *unknownKeyError, ok, more bool) {
	s.path = append(s.path, part)
	if ke, ok := s.value(n); ke != nil || !ok {
		return ke, ok, false
	}
	s.path = s.path[:len(s.path)-1]
	if s.spaceEat(',') {
		return nil, true, true
	}
	return nil, s.spaceEat(end), false
}

// str reads a string and returns its content (unescaped, when it has
// escapes).
func (s *keyScanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start, escaped := s.pos, false
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '\\':
			escaped = true
			s.pos += 2
			continue
		case '"':
			raw := s.data[start:s.pos]
			s.pos++
			if !escaped {
				return raw, true
			}
			var v string
			if json.Unmarshal(s.data[start-1:s.pos], &v) != nil {
				return nil, false
			}
			return []byte(v), true
		}
		s.pos++
	}
	return nil, false
}

func (s *keyScanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

func (s *keyScanner) eat(c byte) bool {
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

func (s *keyScanner) spaceEat(c byte) bool {
	s.space()
	return s.eat(c)
}

// pathString renders the path as "messages[2].message.file_nam".
func (s *keyScanner) pathString() string {
	var b strings.Builder
	for i, p := range s.path {
		switch {
		case p.isIndex:
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
		case i > 0:
			b.WriteByte('.')
			fallthrough
		default:
			b.Write(p.key)
		}
	}
	return b.String()
}

// jsonPath turns the Go path of a conversation's field, as Validate names
// it ("Messages[2].Content.FileName"), into the JSON path of a conversation
// file ("messages[2].message.file_name"). A part it does not know (such as
// a key the decoder named already) is kept as it is.
func jsonPath(goPath string) string {
	if goPath == "" {
		return ""
	}
	parts := strings.Split(goPath, ".")
	n := conversationNode
	for i, part := range parts {
		name, index, _ := strings.Cut(part, "[")
		if index != "" {
			index = "[" + index
		}
		var found bool
		var k jsonKey
		if n != nil {
			for _, c := range n.keys {
				if c.field != "" && c.field == name {
					k, found = c, true
					break
				}
			}
		}
		if !found {
			n = nil
			continue
		}
		parts[i] = k.json + index
		n = k.node
	}
	return strings.Join(parts, ".")
}

// goPathInText finds the Go paths of messages a reason may mention
// ("duplicate of Messages[0]").
var goPathInText = regexp.MustCompile(`\bMessages\[\d+\]`)

// withJSONPaths returns err with the field of its *amojo.ValidationError (and the
// paths its reason mentions) as the JSON paths of a conversation file.
func withJSONPaths(err error) error {
	var ve *amojo.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	return &amojo.ValidationError{Field: jsonPath(ve.Field), Reason: goPathInText.ReplaceAllStringFunc(ve.Reason, jsonPath)}
}
