package amojo_test

import (
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCreateContactValidationErrorFixture replays amoCRM's 400 with
// validation-errors to a batch of contacts: a *BatchError naming the
// rejected item around the *APIError, and a single-contact call that
// returns the *APIError itself. A 400 is never retried.
func TestCreateContactValidationErrorFixture(t *testing.T) {
	t.Parallel()
	crm, mt := newMockCRM(t)
	problem := mockFixture(t, "rest/problem_400_validation.json")
	mt.RegisterResponder("POST", mockCRMURL+"/api/v4/contacts", mockReply(400, problemJSON, problem))

	_, err := crm.CreateContacts(t.Context(), []amojo.NewContact{{Name: "ok"}, {Name: "bad"}})
	var be *amojo.BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, 0, be.Done)
	require.Equal(t, []int{1}, be.Failed)
	var ae *amojo.APIError
	require.ErrorAs(t, err, &ae)
	assert.EqualExportedValues(t, amojo.APIError{
		StatusCode: 400, Method: "POST", Path: "/api/v4/contacts", Body: problem, ContentType: problemJSON,
		Title: "Bad Request", Type: "https://httpstatus.es/400", Detail: "Request validation failed",
		ValidationErrors: []amojo.ItemErrors{{RequestID: "1", Errors: []amojo.FieldError{{
			Code: "NotSupportedChoice", Path: "custom_fields_values.0.values.0.enum_code", Detail: "The value you selected is not a valid choice.",
		}}}},
	}, *ae)
	assert.Contains(t, err.Error(), "none done")
	assert.Contains(t, err.Error(), "(rejected: 1)")

	// The one-contact form returns the APIError itself.
	_, err = crm.CreateContact(t.Context(), amojo.NewContact{Name: "bad"})
	assert.IsType(t, &amojo.APIError{}, err)
	assert.Equal(t, 2, mt.GetTotalCallCount(), "400 must not be retried")
}
