package importer

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amojo-go/amojo"
)

// contactLookupSlack widens the search for a contact whose creation was
// never confirmed to contacts created a little before the pending mark, in
// case this machine's clock is ahead of amoCRM's.
const contactLookupSlack = time.Minute

// maxCandidates bounds the contacts a search collects for one conversation:
// beyond one the answer is ambiguous anyway; these are named in the error.
const maxCandidates = 10

// contacts finds, creates and links the contacts of jobs with one REST
// request per step for the whole chunk, plus one search per contact whose
// creation was never confirmed.
func (r *importRun) contacts(jobs []*importJob) {
	var lookup, pending, create, link []*importJob
	for _, j := range jobs {
		spec := j.conv.Contact
		switch {
		case spec == nil:
		case spec.ID > 0:
			j.res.ContactID = spec.ID
			if !j.state.Linked || j.state.ContactID != spec.ID {
				link = append(link, j)
			}
		case j.state.ContactID != 0:
			j.res.ContactID = j.state.ContactID
			if !j.state.Linked {
				link = append(link, j)
			}
		default:
			lookup = append(lookup, j)
		}
	}
	if len(lookup) > 0 {
		ids := make([]string, len(lookup))
		for i, j := range lookup {
			ids[i] = j.state.ChatID
		}
		links, err := r.im.crm.ChatLinks(r.ctx, amojo.ChatLinkFilter{ChatIDs: ids})
		if err != nil {
			for _, j := range lookup {
				r.failStep(j, "find contact", "", err)
			}
		} else {
			byChat := make(map[string]int64, len(links))
			for _, l := range links {
				byChat[l.ChatID] = l.ContactID
			}
			for _, j := range lookup {
				switch id := byChat[j.state.ChatID]; {
				case id > 0:
					if r.record(j, CheckpointEntry{ContactID: id, Linked: true}) {
						j.res.ContactID = id
					}
				case j.state.ContactPending:
					pending = append(pending, j)
				default:
					create = append(create, j)
				}
			}
		}
	}
	if len(pending) > 0 {
		adopted, none := r.resolveContacts(pending, false)
		link = append(link, adopted...)
		create = append(create, none...)
	}
	if len(create) > 0 {
		created, lost := r.createContacts(create)
		link = append(link, created...)
		if len(lost) > 0 {
			adopted, _ := r.resolveContacts(lost, true)
			link = append(link, adopted...)
		}
	}
	if len(link) > 0 {
		ls := make([]amojo.ChatLink, len(link))
		for i, j := range link {
			ls[i] = amojo.ChatLink{ChatID: j.state.ChatID, ContactID: j.res.ContactID}
		}
		done, err := r.im.crm.LinkChats(r.ctx, ls)
		for i, j := range link {
			if i >= len(done) {
				r.failStep(j, "link", "", unbatch(err))
				continue
			}
			if r.record(j, CheckpointEntry{ContactID: j.res.ContactID, Linked: true}) {
				j.res.Linked = true
			}
		}
	}
}

// createContacts creates the contacts of jobs with one request and returns
// the jobs whose contact was created and those whose answer was lost. Right
// before the request leaves (after the rate-limit wait and any back-off),
// each job's checkpoint says that the creation was asked for, and when: a
// later run that finds no answer recorded searches amoCRM for the contact
// instead of creating it a second time.
func (r *importRun) createContacts(jobs []*importJob) (created, lost []*importJob) {
	nc := make([]amojo.NewContact, len(jobs))
	for i, j := range jobs {
		nc[i] = j.conv.Contact.newContact()
	}
	sent := make([]bool, len(jobs)) // the pending mark is written
	var markErr error
	held := false // the hook kept the last attempt back: nothing was created
	mark := amojo.BeforeSendContacts(func(_ context.Context, a amojo.ContactsAttempt) error {
		if err := r.ctx.Err(); err != nil {
			held = true // stopped before anything left: leave it to the next run
			return err
		}
		e := CheckpointEntry{ContactPending: true, ContactPendingAt: a.Time}
		for k := a.Start; k < a.End; k++ {
			if err := r.im.cfg.checkpoint.Record(context.WithoutCancel(r.ctx), jobs[k].conv.ID, e); err != nil {
				markErr, held = err, true
				return err
			}
			jobs[k].state.Apply(e)
			sent[k] = true
		}
		return nil
	})
	// Contacts are the one thing amoCRM cannot deduplicate: once sent,
	// their creation is seen through even if the run is cancelled, so their
	// ids reach the checkpoint.
	ids, err := r.im.crm.CreateContacts(context.WithoutCancel(r.ctx), nc, mark)
	cause := unbatch(err)
	var ae *amojo.APIError
	refused := held || errors.As(cause, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500
	for i, j := range jobs {
		switch {
		case i < len(ids):
			if r.record(j, CheckpointEntry{ContactID: ids[i]}) {
				j.res.ContactID, j.res.ContactCreated = ids[i], true
				created = append(created, j)
			}
		case !sent[i] && markErr != nil:
			r.failStep(j, "checkpoint", "", markErr)
		case !sent[i]:
			r.failStep(j, "create contact", "", cause)
		case refused:
			// amoCRM answered (or the request was kept back): nothing was
			// created.
			if r.record(j, CheckpointEntry{ContactNotCreated: true}) {
				r.failStep(j, "create contact", "", cause)
			}
		default:
			j.lostCause = cause
			lost = append(lost, j)
		}
	}
	return created, lost
}

// resolveContacts settles the contacts of jobs whose creation was asked for
// and never confirmed, by searching amoCRM for a contact that fits the
// conversation's ContactSpec, created since the pending mark. Where exactly
// one fits, it is adopted (recorded; the caller links it); where none does,
// the contact was not created and the job is returned in none, to be
// created. justLost says the answer was lost in this run: a search that
// finds nothing then fails the conversation for now, as amoCRM may not show
// the contact yet (the next run searches again). An ambiguous or failed
// search fails the conversation with ErrContactUnconfirmed, unless
// WithRecreateContacts allows a new contact.
func (r *importRun) resolveContacts(jobs []*importJob, justLost bool) (adopted, none []*importJob) {
	var found []*contactSearch
	for _, j := range jobs {
		at := j.state.ContactPendingAt
		if at.IsZero() {
			if r.im.cfg.recreate {
				none = append(none, j)
				continue
			}
			r.failStep(j, "create contact", "", &contactUnconfirmedError{msg: "amojo: an earlier run asked amoCRM to create this contact and never got the answer, " +
				`and its checkpoint does not say when, so it cannot be looked for: find it in amoCRM and set "contact": {"id": N} in the conversation, or allow a new one (WithRecreateContacts)`})
			continue
		}
		cands, err := r.candidates(j.conv.Contact, at)
		switch {
		case err != nil && r.ctx.Err() != nil:
			r.failStep(j, "find contact", "", err)
		case err != nil:
			r.failStep(j, "create contact", "", &contactUnconfirmedError{cause: err,
				msg: "amojo: amoCRM may have created this contact without the answer arriving, and looking for it failed (" +
					strings.TrimPrefix(err.Error(), "amojo: ") + "); the next run looks again"})
		default:
			found = append(found, &contactSearch{j, cands})
		}
	}
	r.dropLinked(found)
	// Conversations with the same contact whose creations were lost
	// together share their candidates: one each, in order, is as good as
	// any other assignment.
	groups := map[string][]*contactSearch{}
	var keys []string
	for _, f := range found {
		key := fmt.Sprint(f.cands, "|", f.j.conv.Contact.key())
		if groups[key] == nil {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], f)
	}
	for _, key := range keys {
		g := groups[key]
		cands := g[0].cands
		switch {
		case len(cands) == len(g) && !slices.ContainsFunc(cands, func(id int64) bool { return r.taken[id] }):
			for i, f := range g {
				if r.record(f.j, CheckpointEntry{ContactID: cands[i]}) {
					f.j.res.ContactID = cands[i]
					r.taken[cands[i]] = true
					adopted = append(adopted, f.j)
				}
			}
		case len(cands) == 0 && justLost && !r.im.cfg.recreate:
			for _, f := range g {
				why := "no answer"
				if f.j.lostCause != nil {
					why = strings.TrimPrefix(f.j.lostCause.Error(), "amojo: ")
				}
				r.failStep(f.j, "create contact", "", &contactUnconfirmedError{cause: f.j.lostCause,
					msg: "amojo: amoCRM may have created the contact, but its answer was lost (" + why +
						") and amoCRM shows no such contact yet; the next run looks for it again, and creates it if there is still none"})
			}
		case len(cands) == 0 || r.im.cfg.recreate:
			for _, f := range g {
				none = append(none, f.j)
			}
		default:
			ids := make([]string, len(cands))
			for i, id := range cands {
				ids[i] = strconv.FormatInt(id, 10)
			}
			for _, f := range g {
				r.failStep(f.j, "create contact", "", &contactUnconfirmedError{
					msg: fmt.Sprintf("amojo: amoCRM may have created this contact without the answer arriving, and %d contacts created since fit it (ids %s): "+
						`set "contact": {"id": N} in the conversation to use one, or allow a new one (WithRecreateContacts)`, len(cands), strings.Join(ids, ", "))})
			}
		}
	}
	return adopted, none
}

// candidates searches amoCRM for the contacts created since at (less
// contactLookupSlack) that fit spec and no conversation of this run took,
// lowest id first.
func (r *importRun) candidates(spec *ContactSpec, at time.Time) ([]int64, error) {
	var ids []int64
	q := amojo.ContactQuery{Query: spec.searchText(), CreatedFrom: at.Add(-contactLookupSlack)}
	for c, err := range r.im.crm.FindContacts(r.ctx, q) {
		if err != nil {
			return nil, err
		}
		if spec.fits(c) && !r.taken[c.ID] && !slices.Contains(ids, c.ID) {
			ids = append(ids, c.ID)
			if len(ids) == maxCandidates {
				break
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// contactSearch is what a search for one job's contact found.
type contactSearch struct {
	j     *importJob
	cands []int64
}

// dropLinked removes from the candidates of found those already linked to
// a chat: a contact whose creation answer was lost is linked to none yet, so
// a linked one belongs to another conversation. It asks amoCRM only when a
// search has more than one candidate, and keeps them all when it cannot.
func (r *importRun) dropLinked(found []*contactSearch) {
	var ids []int64
	for _, f := range found {
		if len(f.cands) > 1 {
			ids = append(ids, f.cands...)
		}
	}
	if len(ids) == 0 {
		return
	}
	links, err := r.im.crm.ChatLinks(r.ctx, amojo.ChatLinkFilter{ContactIDs: ids})
	if err != nil {
		return
	}
	linked := make(map[int64]bool, len(links))
	for _, l := range links {
		linked[l.ContactID] = true
	}
	for _, f := range found {
		if len(f.cands) > 1 {
			f.cands = slices.DeleteFunc(f.cands, func(id int64) bool { return linked[id] })
		}
	}
}

// searchText is what a contact of s is searched for by: its first phone,
// else its first e-mail, else its name.
func (s *ContactSpec) searchText() string {
	switch {
	case len(s.Phones) > 0:
		return strings.TrimSpace(s.Phones[0])
	case len(s.Emails) > 0:
		return strings.TrimSpace(s.Emails[0])
	case strings.TrimSpace(s.Name) != "":
		return strings.TrimSpace(s.Name)
	}
	return strings.TrimSpace(s.FirstName + " " + s.LastName)
}

// fits reports whether c could be the contact created from s: the names s
// gives are c's, and c has every phone (compared by digits) and e-mail
// (case aside) of s.
func (s *ContactSpec) fits(c amojo.Contact) bool {
	for _, n := range [][2]string{{s.Name, c.Name}, {s.FirstName, c.FirstName}, {s.LastName, c.LastName}} {
		if want := strings.TrimSpace(n[0]); want != "" && want != strings.TrimSpace(n[1]) {
			return false
		}
	}
	for _, p := range s.Phones {
		if !slices.ContainsFunc(c.Phones, func(cp amojo.ContactPhone) bool { return samePhone(p, cp.Value) }) {
			return false
		}
	}
	for _, e := range s.Emails {
		if !slices.ContainsFunc(c.Emails, func(ce amojo.ContactEmail) bool { return sameEmail(e, ce.Value) }) {
			return false
		}
	}
	return true
}

// key tells contact specs apart.
func (s *ContactSpec) key() string {
	return fmt.Sprintf("%q", []any{s.Name, s.FirstName, s.LastName, s.Phones, s.Emails, s.ResponsibleUserID, s.Tags})
}

func samePhone(a, b string) bool {
	da, db := digitsOf(a), digitsOf(b)
	if da == "" || db == "" {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	return da == db
}

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func sameEmail(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		if addr, err := mail.ParseAddress(s); err == nil {
			s = addr.Address
		}
		return strings.ToLower(s)
	}
	return norm(a) == norm(b)
}

// contactUnconfirmedError is an ErrContactUnconfirmed with its explanation
// and cause.
type contactUnconfirmedError struct {
	msg   string
	cause error
}

func (e *contactUnconfirmedError) Error() string { return e.msg }

func (e *contactUnconfirmedError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrContactUnconfirmed}
	}
	return []error{ErrContactUnconfirmed, e.cause}
}

// newContact returns the REST contact to create for s.
func (s *ContactSpec) newContact() amojo.NewContact {
	nc := amojo.NewContact{Name: s.Name, FirstName: s.FirstName, LastName: s.LastName, ResponsibleUserID: s.ResponsibleUserID, Tags: s.Tags}
	for _, p := range s.Phones {
		nc.Phones = append(nc.Phones, amojo.ContactPhone{Value: p})
	}
	for _, e := range s.Emails {
		nc.Emails = append(nc.Emails, amojo.ContactEmail{Value: e})
	}
	return nc
}

// unbatch returns the cause of a *amojo.BatchError: the error of the one
// request that failed, which a conversation's step reports.
func unbatch(err error) error {
	var be *amojo.BatchError
	if errors.As(err, &be) && be.Err != nil {
		return be.Err
	}
	return err
}
