package amojo

import (
	"context"
	"net/url"
)

// DeliveryStatusCode is the delivery state of an outgoing message in the
// messenger. "Sent" is the initial state and is never reported.
type DeliveryStatusCode int

// Delivery states an integration reports.
const (
	DeliveryDelivered DeliveryStatusCode = 1  // delivered to the client
	DeliveryRead      DeliveryStatusCode = 2  // read by the client
	DeliveryFailed    DeliveryStatusCode = -1 // not delivered; give an error code
)

// DeliveryErrorCode says why an outgoing message could not be delivered.
type DeliveryErrorCode int

// Reasons for DeliveryFailed.
const (
	DeliveryErrorUserDeletedChat     DeliveryErrorCode = 901 // the client deleted the conversation
	DeliveryErrorIntegrationDisabled DeliveryErrorCode = 902 // the integration is disabled on the channel side
	DeliveryErrorInternal            DeliveryErrorCode = 903 // internal error of the integration
	DeliveryErrorCannotCreateChat    DeliveryErrorCode = 904 // the conversation cannot be created (e.g. not registered in the messenger)
	DeliveryErrorOther               DeliveryErrorCode = 905 // another reason, described in Error
)

// DeliveryStatus reports the fate of an outgoing message. ErrorCode and Error
// belong to DeliveryFailed only: a failure needs ErrorCode, and
// DeliveryErrorOther needs the Error text, which amoCRM shows to its user.
type DeliveryStatus struct {
	Status    DeliveryStatusCode
	ErrorCode DeliveryErrorCode
	Error     string
}

// Validate reports the first rule s breaks as a *ValidationError.
func (s DeliveryStatus) Validate() error {
	switch s.Status {
	case DeliveryDelivered, DeliveryRead:
		if s.ErrorCode != 0 {
			return invalid("ErrorCode", "only allowed with DeliveryFailed")
		}
		if s.Error != "" {
			return invalid("Error", "only allowed with DeliveryFailed")
		}
	case DeliveryFailed:
		if s.ErrorCode < DeliveryErrorUserDeletedChat || s.ErrorCode > DeliveryErrorOther {
			return invalid("ErrorCode", "must be one of 901-905 with DeliveryFailed")
		}
		if s.ErrorCode == DeliveryErrorOther && isBlank(s.Error) {
			return invalid("Error", "required with DeliveryErrorOther")
		}
	default:
		return invalid("Status", "must be DeliveryDelivered, DeliveryRead or DeliveryFailed")
	}
	return nil
}

type deliveryStatusBody struct {
	MsgID          string             `json:"msgid"`
	DeliveryStatus DeliveryStatusCode `json:"delivery_status"`
	ErrorCode      DeliveryErrorCode  `json:"error_code,omitempty"`
	Error          string             `json:"error,omitempty"`
}

// wireMessageDelivery is message.delivery_status inside edit_message.
type wireMessageDelivery struct {
	StatusCode DeliveryStatusCode `json:"status_code"`
	ErrorCode  DeliveryErrorCode  `json:"error_code,omitempty"`
	Error      string             `json:"error,omitempty"`
}

func (s *DeliveryStatus) wireEdit() *wireMessageDelivery {
	if s == nil {
		return nil
	}
	return &wireMessageDelivery{StatusCode: s.Status, ErrorCode: s.ErrorCode, Error: s.Error}
}

// SetDeliveryStatus reports the delivery status of an outgoing message. msgID
// is amojo's message id, as received in the outgoing-message webhook. It is
// sent as "msgid" and "delivery_status", with "error_code" and "error" for a
// failure only.
func (c *Client) SetDeliveryStatus(ctx context.Context, scopeID, msgID string, s DeliveryStatus) error {
	if err := checkID("scopeID", scopeID); err != nil {
		return err
	}
	if err := checkID("msgID", msgID); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	_, err := c.r.do(ctx, request{
		method: "POST",
		path:   "/v2/origin/custom/" + url.PathEscape(scopeID) + "/" + url.PathEscape(msgID) + "/delivery_status",
		in: deliveryStatusBody{
			MsgID:          msgID,
			DeliveryStatus: s.Status,
			ErrorCode:      s.ErrorCode,
			Error:          s.Error,
		},
	})
	return err
}
