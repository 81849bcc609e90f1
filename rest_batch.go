package amojo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// restChunk is the most items one request of the sources and chat templates
// batch calls carries: amoCRM accepts at most 50 sources per add or update
// request, and recommends 50 for every batch.
const restChunk = 50

// batchCall describes a REST v4 write that takes a JSON array and may be
// split into several requests.
type batchCall struct {
	op     string // BatchError.Op, such as "add sources"
	method string
	path   string
	// key is the _embedded key of the answer's items; "" for an answer
	// without items (204).
	key string
	// notIdempotent: not retried after a lost answer (see request).
	notIdempotent bool
}

// halEmbedded is a HAL answer whose _embedded items are read by key.
type halEmbedded struct {
	Embedded embedded `json:"_embedded"`
}

// embedded is the _embedded object of a HAL answer, by key. An empty array
// (what PHP writes for an empty object) reads as no keys.
type embedded map[string]json.RawMessage

// UnmarshalJSON accepts an object, or an array that is read as empty.
func (e *embedded) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var skip []json.RawMessage
		if err := json.Unmarshal(data, &skip); err != nil {
			return err
		}
		*e = nil
		return nil
	}
	return json.Unmarshal(data, (*map[string]json.RawMessage)(e))
}

// halItems decodes the list under key; a missing key or null is an empty
// list.
func halItems[R any](h halEmbedded, key string) ([]R, error) {
	raw := bytes.TrimSpace(h.Embedded[key])
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var out []R
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("_embedded.%s: %w", key, err)
	}
	return out, nil
}

// batchAnswer is implemented by the pointer to an answer item of a batch
// call: its request_id field and its conversion to the result type.
type batchAnswer[W, R any] interface {
	*W
	echoedID() *flexString
	result() R
}

// sendBatches sends bodies in requests of at most restChunk items, one after
// the other, and returns the answer items converted to R in input order,
// matched by request id (ids[i] is the request_id of bodies[i]); an item
// that echoes none gets the one sent. When a request fails it stops and
// returns the results of the earlier requests with a *BatchError. With
// call.key empty nothing is decoded and the result is nil.
func sendBatches[W, R any, P batchAnswer[W, R], B any](ctx context.Context, c *CRMClient, call batchCall, bodies []B, ids []string) ([]R, error) {
	var out []R
	if call.key != "" {
		out = make([]R, 0, len(bodies))
	}
	for start := 0; start < len(bodies); start += restChunk {
		end := min(start+restChunk, len(bodies))
		var ans halEmbedded
		req := request{method: call.method, path: call.path, in: bodies[start:end], notIdempotent: call.notIdempotent}
		if call.key != "" {
			req.out = &ans
		}
		status, err := c.r.do(ctx, req)
		if err == nil && call.key == "" {
			continue
		}
		if err == nil {
			var items []W
			if items, err = halItems[W](ans, call.key); err == nil {
				answered := make([]string, len(items))
				for j := range items {
					answered[j] = string(*P(&items[j]).echoedID())
				}
				var pos []int
				if pos, err = matchByRequestID(ids[start:end], answered); err == nil {
					for k, j := range pos {
						p := P(&items[j])
						if id := p.echoedID(); *id == "" {
							*id = flexString(ids[start+k])
						}
						out = append(out, p.result())
					}
					continue
				}
			}
			err = &DecodeError{Method: call.method, Path: c.fullPath(call.path), StatusCode: status, Err: err}
		}
		return out, newBatchError(call.op, start, end, ids, err)
	}
	return out, nil
}

// noAnswer is the answer item of a batch call answered without a body.
type noAnswer struct{ id flexString }

func (n *noAnswer) echoedID() *flexString { return &n.id }
func (n *noAnswer) result() struct{}      { return struct{}{} }

// getPage fetches one page of the HAL list at path and decodes its items
// under key; next says whether the page links a next one. A 204 is an empty
// last page.
func getPage[W any](ctx context.Context, c *CRMClient, path string, q url.Values, key string) ([]W, bool, error) {
	var ans struct {
		halEmbedded
		Links halLinks `json:"_links"`
	}
	status, err := c.r.do(ctx, request{method: http.MethodGet, path: path, query: q, out: &ans})
	if err != nil || status == http.StatusNoContent {
		return nil, false, err
	}
	items, err := halItems[W](ans.halEmbedded, key)
	if err != nil {
		return nil, false, &DecodeError{Method: http.MethodGet, Path: c.fullPath(path), StatusCode: status, Err: err}
	}
	return items, ans.Links.hasNext() && len(items) > 0, nil
}

// getObject reads the object at path into out; an answer 204, or one for
// which found reports false, matches ErrNotFound.
func (c *CRMClient) getObject(ctx context.Context, path string, q url.Values, out any, found func() bool) error {
	status, err := c.r.do(ctx, request{method: http.MethodGet, path: path, query: q, out: out})
	if err != nil {
		return err
	}
	if status == http.StatusNoContent || !found() {
		return &missingError{path: c.fullPath(path), status: status}
	}
	return nil
}

// missingError is a GET of one object answered without it (amoCRM answers
// 204 for some missing objects); it matches ErrNotFound.
type missingError struct {
	path   string
	status int
}

func (e *missingError) Error() string {
	return fmt.Sprintf("amojo: GET %s: %d: not found", e.path, e.status)
}

// Is matches ErrNotFound.
func (e *missingError) Is(target error) bool { return target == ErrNotFound }

// idBody is an item of a batch delete.
type idBody struct {
	ID int64 `json:"id"`
}

// deleteBatches deletes the objects ids[i] with DELETE path and a body of
// [{"id": …}] items, at most restChunk a request. The items carry no
// request_id, so amoCRM names a rejected item by its index in its own
// request; the *BatchError of a failed request maps that back to the input.
func (c *CRMClient) deleteBatches(ctx context.Context, op, path, field string, ids []int64) error {
	if len(ids) == 0 {
		return invalid(field, "empty")
	}
	bodies := make([]idBody, len(ids))
	local := make([]string, len(ids))
	for i, id := range ids {
		if id <= 0 {
			return invalid(fmt.Sprintf("%s[%d]", field, i), "must be positive")
		}
		bodies[i] = idBody{ID: id}
		local[i] = strconv.Itoa(i % restChunk)
	}
	_, err := sendBatches[noAnswer, struct{}](ctx, c, batchCall{op: op, method: http.MethodDelete, path: path}, bodies, local)
	return err
}

// fullPath is the request path of p as errors name it (with the base URL's
// path prefix).
func (c *CRMClient) fullPath(p string) string { return c.r.o.baseURL.EscapedPath() + p }

// walkPages yields the items of the pages fetch returns for page = first,
// first+1, … while fetch reports that another page follows. It yields an
// error at most once, as the last element. A page whose first item has the
// same key as the previous page's first item ends the walk with an error, so
// a server that ignores the page parameter cannot loop it for ever.
func walkPages[T any](what string, first int, fetch func(page int) ([]T, bool, error), key func(T) string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		prev := ""
		for page := max(first, 1); ; page++ {
			items, more, err := fetch(page)
			if err != nil {
				yield(zero, err)
				return
			}
			if len(items) > 0 {
				k := key(items[0])
				if k != "" && k == prev {
					yield(zero, fmt.Errorf("amojo: %s: page %d repeats page %d", what, page, page-1))
					return
				}
				prev = k
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if !more || len(items) == 0 {
				return
			}
		}
	}
}

// checkASCII reports a value longer than max bytes or with a character
// outside printable ASCII (0x20–0x7E).
func checkASCII(field, v string, max int) error {
	if len(v) > max {
		return invalid(field, fmt.Sprintf("longer than %d characters", max))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c > '~' {
			return invalid(field, "only printable ASCII characters and spaces are allowed")
		}
	}
	return nil
}
