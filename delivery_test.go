package amojo

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const vecAmojoMsgID = "079e44fb-fc22-476b-9e8a-421b688ec53b"

// TestDeliveryStatusVector4 pins the signature of the documented body. That
// body sends error_code with status 2, which SetDeliveryStatus refuses, so the
// exact bytes are signed directly.
func TestDeliveryStatusVector4(t *testing.T) {
	t.Parallel()
	body := []byte(`{"msgid":"079e44fb-fc22-476b-9e8a-421b688ec53b","delivery_status":2,"error_code":905,"error":"Error text"}`)
	md := ContentMD5(body)
	require.Equal(t, "a0bbbac729c6341f0a521e2db7a8a236", md, "Content-MD5")
	path := "/v2/origin/custom/" + vecScopeID + "/" + vecAmojoMsgID + "/delivery_status"
	assert.Equal(t, "ca51f810785031385a801f41103244713c1a2352", Signature(vecSecret, "POST", md, ContentTypeJSON, "Thu, 16 Dec 2021 12:58:40 +0000", path), "X-Signature")
	assert.Error(t, DeliveryStatus{Status: DeliveryRead, ErrorCode: DeliveryErrorOther, Error: "Error text"}.Validate(), "status 2 with an error code was accepted")
}

func TestSetDeliveryStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		golden string
		status DeliveryStatus
		answer string
	}{
		{"delivery_delivered.json", DeliveryStatus{Status: DeliveryDelivered}, ""},
		{"delivery_read.json", DeliveryStatus{Status: DeliveryRead}, "{}"},
		{"delivery_failed.json", DeliveryStatus{Status: DeliveryFailed, ErrorCode: DeliveryErrorCannotCreateChat}, ""},
		{"delivery_failed_other.json", DeliveryStatus{Status: DeliveryFailed, ErrorCode: DeliveryErrorOther, Error: "Error text"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			now := vecDate(t, "Thu, 16 Dec 2021 12:58:40 +0000")
			s := newWireServer(t, now, answer(http.StatusOK, tt.answer))
			require.NoError(t, s.client.SetDeliveryStatus(t.Context(), vecScopeID, vecAmojoMsgID, tt.status))
			r := s.only()
			checkWire(t, r, "POST", "/v2/origin/custom/"+vecScopeID+"/"+vecAmojoMsgID+"/delivery_status", "", now)
			checkGolden(t, tt.golden, r.Body)
		})
	}
}

func TestSetDeliveryStatusEscapesPath(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, answer(http.StatusOK, ""))
	require.NoError(t, s.client.SetDeliveryStatus(t.Context(), vecScopeID, "a/b?c", DeliveryStatus{Status: DeliveryRead}))
	checkWire(t, s.only(), "POST", "/v2/origin/custom/"+vecScopeID+"/a%2Fb%3Fc/delivery_status", "", vecMsgTime)
}

func TestDeliveryStatusValidation(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, refuseAll(t))
	tests := []struct {
		name   string
		msgID  string
		status DeliveryStatus
		field  string
	}{
		{"no msgid", "", DeliveryStatus{Status: DeliveryRead}, "msgID"},
		{"sent is never reported", vecAmojoMsgID, DeliveryStatus{}, "Status"},
		{"unknown status", vecAmojoMsgID, DeliveryStatus{Status: 3}, "Status"},
		{"code with delivered", vecAmojoMsgID, DeliveryStatus{Status: DeliveryDelivered, ErrorCode: DeliveryErrorInternal}, "ErrorCode"},
		{"text with read", vecAmojoMsgID, DeliveryStatus{Status: DeliveryRead, Error: "x"}, "Error"},
		{"failed without code", vecAmojoMsgID, DeliveryStatus{Status: DeliveryFailed}, "ErrorCode"},
		{"failed unknown code", vecAmojoMsgID, DeliveryStatus{Status: DeliveryFailed, ErrorCode: 906}, "ErrorCode"},
		{"other without text", vecAmojoMsgID, DeliveryStatus{Status: DeliveryFailed, ErrorCode: DeliveryErrorOther, Error: " "}, "Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantValidation(t, s.client.SetDeliveryStatus(t.Context(), vecScopeID, tt.msgID, tt.status), tt.field)
		})
	}
	assert.Empty(t, s.requests(), "requests sent for invalid input")
	for _, code := range []DeliveryErrorCode{DeliveryErrorUserDeletedChat, DeliveryErrorIntegrationDisabled, DeliveryErrorInternal, DeliveryErrorCannotCreateChat} {
		assert.NoError(t, DeliveryStatus{Status: DeliveryFailed, ErrorCode: code}.Validate(), "code %d", code)
	}
}
