package amojotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The limits of the sources API.
const (
	// MaxSources is the most sources one integration may have in an account.
	MaxSources = 100
	// MaxSourcesPerRequest is the most sources one add or update may carry.
	MaxSourcesPerRequest = 50
	// MaxSourceExternalID is the longest source external_id.
	MaxSourceExternalID = 36
	// DefaultPipelineID is the pipeline of a source added without one.
	DefaultPipelineID = 5500
)

// CodeEntityNotFound is the code of a batch delete item whose id is unknown,
// in the "errors" key of the 400 answer.
const CodeEntityNotFound = "EntityNotFound"

// checkSourceFields reads the writable fields of a source item into src:
// name, pipeline_id, default, origin_code and services.
func checkSourceFields(c *itemChecker, m map[string]json.RawMessage, src *Source, adding bool) {
	if name := c.str(m, "name", "name"); name != "" || adding {
		if strings.TrimSpace(name) == "" {
			c.add(CodeNotBlank, "name", "This value should not be blank.")
		}
		src.Name = name
	}
	if p, ok := c.integer(m, "pipeline_id", "pipeline_id"); ok {
		if p <= 0 {
			c.add(CodeNotSupportedChoice, "pipeline_id", "The value you selected is not a valid choice.")
		}
		src.PipelineID = int(p)
	}
	if d, ok := c.boolean(m, "default", "default"); ok {
		src.Default = d
	}
	if raw, ok := m["origin_code"]; ok && string(raw) != "null" {
		code := c.str(m, "origin_code", "origin_code")
		switch {
		case code == "" || len(code) > 20:
			c.add(CodeInvalidType, "origin_code", "This value should have 1 to 20 characters.")
		case strings.Trim(code, "0123456789") == "":
			c.add(CodeInvalidType, "origin_code", "This value should not be digits only.")
		case strings.Trim(code, "\"'` ") == "":
			c.add(CodeInvalidType, "origin_code", "This value should not be quotes only.")
		}
		src.OriginCode = code
	}
	if _, ok := m["services"]; ok {
		src.Services = nil
		for i, raw := range c.array(m, "services", "services") {
			path := fmt.Sprintf("services.%d", i)
			sm := c.object(raw, path)
			if sm == nil {
				continue
			}
			sv := SourceService{Type: c.str(sm, "type", path+".type")}
			if sv.Type != "whatsapp" {
				c.add(CodeNotSupportedChoice, path+".type", "The value you selected is not a valid choice.")
			}
			if raw, ok := sm["params"]; ok && string(raw) != "null" {
				if pm := c.object(raw, path+".params"); pm != nil {
					sv.WABA, _ = c.boolean(pm, "waba", path+".params.waba")
					sv.ListMessage, _ = c.boolean(pm, "is_supports_list_message", path+".params.is_supports_list_message")
				}
			}
			for j, praw := range c.array(sm, "pages", path+".pages") {
				pp := fmt.Sprintf("%s.pages.%d", path, j)
				if pg := c.object(praw, pp); pg != nil {
					sv.Pages = append(sv.Pages, SourcePage{ID: c.str(pg, "id", pp+".id"), Name: c.str(pg, "name", pp+".name"), Link: c.str(pg, "link", pp+".link")})
				}
			}
			src.Services = append(src.Services, sv)
		}
	}
}

// validExternalID applies the sources API's rule: at most 36 characters of
// printable ASCII and spaces.
func validExternalID(s string) bool {
	if s == "" || len(s) > MaxSourceExternalID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func sourceJSON(base string, src *Source, reqID string) map[string]any {
	services := make([]map[string]any, 0, len(src.Services))
	for _, sv := range src.Services {
		pages := make([]map[string]any, 0, len(sv.Pages))
		for _, p := range sv.Pages {
			pages = append(pages, map[string]any{"id": p.ID, "name": p.Name, "link": p.Link})
		}
		services = append(services, map[string]any{
			"type":   sv.Type,
			"params": map[string]any{"waba": sv.WABA, "is_supports_list_message": sv.ListMessage},
			"pages":  pages,
		})
	}
	m := map[string]any{
		"id": src.ID, "name": src.Name, "pipeline_id": src.PipelineID, "external_id": src.ExternalID,
		"default": src.Default, "origin_code": nil, "services": services,
		"_links": map[string]any{"self": link(fmt.Sprintf("%s/api/v4/sources/%d", base, src.ID))},
	}
	if src.OriginCode != "" {
		m["origin_code"] = src.OriginCode
	}
	if reqID != "" {
		m["request_id"] = reqID
	}
	return m
}

// setDefault makes src the only default source of acc when it is one.
func (st *crmState) setDefault(src *Source) {
	if !src.Default {
		return
	}
	for _, o := range st.sources {
		if o != src {
			o.Default = false
		}
	}
}

func (st *crmState) source(id int) *Source {
	for _, src := range st.sources {
		if src.ID == id {
			return src
		}
	}
	return nil
}

func sourcesAnswer(base string, srcs []*Source, reqIDs []string) restResult {
	out := make([]map[string]any, len(srcs))
	for i, src := range srcs {
		id := ""
		if reqIDs != nil {
			id = reqIDs[i]
		}
		out[i] = sourceJSON(base, src, id)
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_total_items": len(out),
		"_links":       map[string]any{"self": link(base + "/api/v4/sources")},
		"_embedded":    map[string]any{"sources": out},
	}}
}

func (s *Server) handleListSources(r *http.Request, base string, acc *account, _ []byte) restResult {
	ext := filterValues(r.URL.Query(), "external_id")
	var found []*Source
	for _, src := range acc.crm.sources {
		if len(ext) == 0 || slices.Contains(ext, src.ExternalID) {
			found = append(found, src)
		}
	}
	if len(found) == 0 {
		return restResult{status: http.StatusNoContent}
	}
	return sourcesAnswer(base, found, nil)
}

func (s *Server) handleGetSource(r *http.Request, base string, acc *account, _ []byte) restResult {
	id, _ := pathID(r)
	src := acc.crm.source(id)
	if src == nil {
		return restResult{status: http.StatusNoContent}
	}
	return restResult{status: http.StatusOK, body: sourceJSON(base, src, "")}
}

// sourceBatch reads a sources add or update: at most MaxSourcesPerRequest.
func sourceBatch(body []byte) ([]json.RawMessage, *restResult) {
	raws, bad := parseBatch(body)
	if bad == nil && len(raws) > MaxSourcesPerRequest {
		res := problem(http.StatusBadRequest, "more than %d sources in one request", MaxSourcesPerRequest)
		return nil, &res
	}
	return raws, bad
}

func (s *Server) handleAddSources(_ *http.Request, base string, acc *account, body []byte) restResult {
	raws, bad := sourceBatch(body)
	if bad != nil {
		return *bad
	}
	st := &acc.crm
	if len(st.sources)+len(raws) > MaxSources {
		return problem(http.StatusBadRequest, "an integration may have at most %d sources", MaxSources)
	}
	used := func(ext string, in []*Source) bool {
		return slices.ContainsFunc(in, func(o *Source) bool { return o != nil && o.ExternalID == ext })
	}
	srcs, reqIDs, bad := checkBatch(raws, func(c *itemChecker, m map[string]json.RawMessage, done []*Source) *Source {
		src := &Source{AccountID: acc.AmojoID, PipelineID: DefaultPipelineID}
		checkSourceFields(c, m, src, true)
		if _, ok := m["external_id"]; ok {
			src.ExternalID = c.str(m, "external_id", "external_id")
			switch {
			case !validExternalID(src.ExternalID):
				c.add(CodeInvalidType, "external_id", "This value should be 1 to 36 printable ASCII characters.")
			case used(src.ExternalID, st.sources) || used(src.ExternalID, done):
				c.add(CodeNotSupportedChoice, "external_id", "This value is already used.")
			}
		}
		return src
	})
	if bad != nil {
		return *bad
	}
	for _, src := range srcs {
		st.nextSource++
		src.ID = 700100 + st.nextSource
		if src.ExternalID == "" {
			src.ExternalID = strconv.Itoa(src.ID)
		}
		st.sources = append(st.sources, src)
		st.setDefault(src)
	}
	return sourcesAnswer(base, srcs, reqIDs)
}

// updateSource applies one update item to a copy of src; the caller stores
// it when the whole request is valid.
func updateSource(c *itemChecker, m map[string]json.RawMessage, src *Source) *Source {
	next := src.clone()
	if _, ok := m["external_id"]; ok {
		c.add(CodeInvalidType, "external_id", "This field cannot be changed.")
	}
	checkSourceFields(c, m, &next, false)
	return &next
}

func (s *Server) handleUpdateSources(_ *http.Request, base string, acc *account, body []byte) restResult {
	raws, bad := sourceBatch(body)
	if bad != nil {
		return *bad
	}
	st := &acc.crm
	ups, reqIDs, bad := checkUpdates(raws, st.source, updateSource)
	if bad != nil {
		return *bad
	}
	srcs := make([]*Source, len(ups))
	for i, u := range ups {
		*u.old = *u.next
		st.setDefault(u.old)
		srcs[i] = u.old
	}
	return sourcesAnswer(base, srcs, reqIDs)
}

func (s *Server) handleUpdateSource(r *http.Request, base string, acc *account, body []byte) restResult {
	id, _ := pathID(r)
	src := acc.crm.source(id)
	if src == nil {
		return problem(http.StatusNotFound, "source %d not found", id)
	}
	next, _, bad := checkBatch([]json.RawMessage{body}, func(c *itemChecker, m map[string]json.RawMessage, _ []*Source) *Source {
		return updateSource(c, m, src)
	})
	if bad != nil {
		return *bad
	}
	*src = *next[0]
	acc.crm.setDefault(src)
	return restResult{status: http.StatusOK, body: sourceJSON(base, src, "")}
}

func sourceID(src *Source) int { return src.ID }

func (s *Server) handleDeleteSources(_ *http.Request, _ string, acc *account, body []byte) restResult {
	return deleteBatch(&acc.crm.sources, sourceID, body)
}

func (s *Server) handleDeleteSource(r *http.Request, _ string, acc *account, _ []byte) restResult {
	return deleteOne(&acc.crm.sources, sourceID, r)
}
