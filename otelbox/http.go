package otelbox

import (
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// propagator returns the global text map propagator once one is set
// (otel.SetTextMapPropagator), and the W3C trace context one until then:
// OpenTelemetry's default global propagator sends and reads nothing.
func propagator() propagation.TextMapPropagator {
	if p := otel.GetTextMapPropagator(); len(p.Fields()) > 0 {
		return p
	}
	return propagation.TraceContext{}
}

// Transport returns a RoundTripper that sends each request through base
// (http.DefaultTransport when nil) with the trace context of the request's
// context in its headers: the W3C traceparent and tracestate headers, or
// whatever the global propagator sends once one is set with
// otel.SetTextMapPropagator. A request whose context has no trace context
// is sent as it is; another is cloned, never modified.
//
// Set it as the Transport of the HTTP client of openrouter.Config or
// e2b.Config, and the requests of each model call or sandbox operation
// carry its span:
//
//	cfg.HTTPClient = &http.Client{Transport: otelbox.Transport(nil)}
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base}
}

// transport is what Transport returns.
type transport struct {
	base http.RoundTripper
}

// RoundTrip sends req with the trace context of its context.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	carrier := propagation.HeaderCarrier{}
	propagator().Inject(req.Context(), carrier)
	if len(carrier) == 0 {
		return t.base.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	for k, v := range carrier {
		out.Header[k] = v
	}
	return t.base.RoundTrip(out)
}

// Handler returns a handler that serves each request with h, in a context
// holding the trace context the request carries (the W3C traceparent and
// tracestate headers, or what the global propagator reads once one is set
// with otel.SetTextMapPropagator). The runs that h starts in the request's
// context, such as those of a uistream.Handler, are then part of the
// caller's trace. It starts no span of its own.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := propagator()
		ctx := p.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		if ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}
