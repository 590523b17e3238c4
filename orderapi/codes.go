package orderapi

// Error codes of the JSON error body {"code":N,"msg":"..."}, Binance-like
// negative numbers. Every non-200 response carries one; msg names the
// offending header or field.
const (
	CodeInternal        = -1000 // 500: a handler panicked (recovered; the server keeps running)
	CodeTooManyRequests = -1003 // 429: over --rate-limit orders/s; Retry-After says when to retry
	CodeUnsupported     = -1020 // 404 unknown route, 405 known route with another method
	CodeBadTimestamp    = -1021 // 401: X-Timestamp malformed or more than 5 s from the server clock
	CodeBadSignature    = -1022 // 401: X-Signature does not match the request
	CodeMalformedJSON   = -1100 // 400: body is not a JSON object
	CodeTooLarge        = -1101 // 413: body over --max-body
	CodeMissingParam    = -1102 // 400 missing or empty field; 401 missing signing header
	CodeBadParam        = -1104 // 400: a field of the wrong JSON type or format (client_order_id, tick_feed, tick_seq)
	CodeBadDecimal      = -1111 // 400: quantity or price is not a positive decimal
	CodeBadType         = -1116 // 400: type is not LIMIT or MARKET
	CodeBadSide         = -1117 // 400: side is not BUY or SELL
	CodeBadSymbol       = -1121 // 400: symbol is not 1..20 of A-Z 0-9
	CodeBadAPIKey       = -2015 // 401: X-API-Key is not the configured key
)

// Reasons counted under Stats.Rejected.
const (
	ReasonAuth        = "auth"         // 401
	ReasonBadRequest  = "bad_request"  // 400
	ReasonRateLimited = "rate_limited" // 429
	ReasonTooLarge    = "too_large"    // 413
	ReasonBusiness    = "business"     // 200 with status REJECTED
)

// apiError is a non-200 answer; errorHandler writes it as JSON.
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return e.msg }
