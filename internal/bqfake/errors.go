package bqfake

import (
	"net/http"
	"strconv"
)

// apiError is an error in Google's JSON error format:
//
//	{"error": {"code": 404, "message": "...", "status": "NOT_FOUND",
//	           "errors": [{"message": "...", "domain": "global", "reason": "notFound"}]}}
//
// which the client's googleapi.CheckResponse turns into *googleapi.Error.
type apiError struct {
	Code     int
	Reason   string
	Message  string
	Location string
}

func (e *apiError) response() (int, any) {
	item := map[string]any{"message": e.Message, "domain": "global", "reason": e.Reason}
	if e.Location != "" {
		item["location"] = e.Location
		item["locationType"] = "header"
	}
	return e.Code, map[string]any{"error": map[string]any{
		"code":    e.Code,
		"message": e.Message,
		"errors":  []any{item},
		"status":  statusName(e.Code),
	}}
}

// errorProto is the ErrorProto shape used inside job statuses.
func (e *apiError) errorProto() map[string]any {
	return map[string]any{"reason": e.Reason, "message": e.Message}
}

func errNotFound(msg string) *apiError {
	return &apiError{Code: http.StatusNotFound, Reason: "notFound", Message: msg}
}

func errInvalid(msg string) *apiError {
	return &apiError{Code: http.StatusBadRequest, Reason: "invalid", Message: msg}
}

func errInvalidQuery(msg string) *apiError {
	return &apiError{Code: http.StatusBadRequest, Reason: "invalidQuery", Message: msg}
}

func statusName(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

func itoa(n int) string { return strconv.Itoa(n) }
