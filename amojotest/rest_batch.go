package amojotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// pagedAnswer answers one page of items as GET path does: page from 1 and
// limit from 1 to maxLimit (maxLimit by default) read from the query, 204
// past the last page, and _links with a next link while more follow.
func pagedAnswer[T any](r *http.Request, base, path, key string, maxLimit int, items []T, item func(T) map[string]any) restResult {
	q := r.URL.Query()
	page, limit := 1, maxLimit
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return problem(http.StatusBadRequest, "page must be a positive integer")
		}
		page = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return problem(http.StatusBadRequest, "limit must be an integer from 1 to %d", maxLimit)
		}
		limit = n
	}
	if page-1 >= (len(items)+limit-1)/limit { // before multiplying: page may be huge
		return restResult{status: http.StatusNoContent}
	}
	from := (page - 1) * limit
	to := min(from+limit, len(items))
	out := make([]map[string]any, 0, to-from)
	for _, it := range items[from:to] {
		out = append(out, item(it))
	}
	pageURL := func(p int) string {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("limit", strconv.Itoa(limit))
		return base + path + "?" + v.Encode()
	}
	links := map[string]any{"self": link(pageURL(page))}
	if to < len(items) {
		links["next"] = link(pageURL(page + 1))
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_page": page, "_links": links, "_embedded": map[string]any{key: out},
	}}
}

// checkBatch reads the items of a REST batch with check, which returns the
// item read from its object (check is not called for an item that is not
// an object; its zero value stands in). It returns the items and their
// request ids (the index when an item has none), or the 400 naming every
// item with validation errors.
func checkBatch[T any](raws []json.RawMessage, check func(c *itemChecker, m map[string]json.RawMessage, done []T) T) ([]T, []string, *restResult) {
	items := make([]T, len(raws))
	reqIDs := make([]string, len(raws))
	var failed []itemErrors
	for i, raw := range raws {
		reqIDs[i] = strconv.Itoa(i)
		c := &itemChecker{}
		if m := c.object(raw, ""); m != nil {
			if id := c.str(m, "request_id", "request_id"); id != "" {
				reqIDs[i] = id
			}
			items[i] = check(c, m, items[:i])
		}
		if len(c.errs) > 0 {
			failed = append(failed, itemErrors{RequestID: reqIDs[i], Errors: c.errs})
		}
	}
	if len(failed) > 0 {
		return nil, nil, &restResult{status: http.StatusBadRequest, detail: "Request validation failed", items: failed}
	}
	return items, reqIDs, nil
}

// update is an object of a batch update: the stored one and its next state.
type update[T any] struct{ old, next *T }

// checkUpdates reads a batch update: each item names the id of a stored
// object (find), and apply returns its next state.
func checkUpdates[T any](raws []json.RawMessage, find func(id int) *T, apply func(c *itemChecker, m map[string]json.RawMessage, old *T) *T) ([]update[T], []string, *restResult) {
	return checkBatch(raws, func(c *itemChecker, m map[string]json.RawMessage, _ []update[T]) update[T] {
		id, ok := c.integer(m, "id", "id")
		switch {
		case !ok:
			c.add(CodeNotBlank, "id", "This value should not be blank.")
		case find(int(id)) == nil:
			c.add(CodeNotFound, "id", "Not found.")
		default:
			old := find(int(id))
			return update[T]{old: old, next: apply(c, m, old)}
		}
		return update[T]{}
	})
}

// boolean reads an optional boolean field.
func (c *itemChecker) boolean(m map[string]json.RawMessage, key, path string) (bool, bool) {
	v, ok := m[key]
	if !ok || string(v) == "null" {
		return false, false
	}
	var b bool
	if json.Unmarshal(v, &b) != nil {
		c.wrongType(path, "bool")
		return false, false
	}
	return b, true
}

// pathID reads the {id} of a path; ok is false when it is not a positive
// integer.
func pathID(r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("id"))
	return n, err == nil && n > 0
}

// filterValues reads filter[key] given as one value or as filter[key][].
func filterValues(q url.Values, key string) []string {
	return append(q["filter["+key+"][]"], q["filter["+key+"]"]...)
}

// batchDeleteIDs reads the [{"id": …}] body of a batch delete and reports the
// ids known says do not exist, in the "errors" shape of amoCRM's answer:
// {"errors":[{"request_id":"1","errors":{"code":"EntityNotFound",…}}]}. The
// fake deletes nothing when any id is unknown.
func batchDeleteIDs(body []byte, known func(int) bool) ([]int, *restResult) {
	raws, bad := parseBatch(body)
	if bad != nil {
		return nil, bad
	}
	ids := make([]int, len(raws))
	var failed []map[string]any
	for i, raw := range raws {
		c := &itemChecker{}
		var id int64
		ok := false
		if m := c.object(raw, ""); m != nil {
			id, ok = c.integer(m, "id", "id")
		}
		ids[i] = int(id)
		if !ok || !known(int(id)) || slices.Contains(ids[:i], int(id)) {
			failed = append(failed, map[string]any{"request_id": strconv.Itoa(i), "errors": map[string]any{
				"code": CodeEntityNotFound, "path": "id", "detail": fmt.Sprintf("Entity with id %d not found", id),
			}})
		}
	}
	if len(failed) > 0 {
		return nil, &restResult{status: http.StatusBadRequest, problem: map[string]any{
			"title": "Bad Request", "type": "https://httpstatus.es/400", "status": http.StatusBadRequest,
			"detail": "Invalid request items", "errors": failed,
		}}
	}
	return ids, nil
}

// deleteBatch deletes the objects a batch delete names from list (all or,
// when one is unknown, none).
func deleteBatch[T any](list *[]*T, idOf func(*T) int, body []byte) restResult {
	ids, bad := batchDeleteIDs(body, func(id int) bool {
		return slices.ContainsFunc(*list, func(t *T) bool { return idOf(t) == id })
	})
	if bad != nil {
		return *bad
	}
	*list = slices.DeleteFunc(*list, func(t *T) bool { return slices.Contains(ids, idOf(t)) })
	return restResult{status: http.StatusNoContent}
}

// deleteOne deletes the object {id} of the path from list; 404 when unknown.
func deleteOne[T any](list *[]*T, idOf func(*T) int, r *http.Request) restResult {
	id, _ := pathID(r)
	n := len(*list)
	*list = slices.DeleteFunc(*list, func(t *T) bool { return idOf(t) == id })
	if len(*list) == n {
		return problem(http.StatusNotFound, "%s not found", strings.TrimPrefix(r.URL.Path, "/api/v4/"))
	}
	return restResult{status: http.StatusNoContent}
}
