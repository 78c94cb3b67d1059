package gateway

import (
	"context"
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/iam/policy"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Cross-origin resource sharing: PUT/GET/DELETE ?cors store the rules;
// OPTIONS preflights are answered from them and matching requests get
// Access-Control-* headers.

const maxCORSRules = 100

type corsConfiguration struct {
	XMLName xml.Name   `xml:"CORSConfiguration"`
	NS      string     `xml:"xmlns,attr,omitempty"`
	Rules   []corsRule `xml:"CORSRule"`
}

type corsRule struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds"`
}

// parseCORS reads and validates a CORS configuration.
func parseCORS(b []byte) (*corsConfiguration, error) {
	var c corsConfiguration
	if err := xml.Unmarshal(b, &c); err != nil {
		return nil, apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	if len(c.Rules) == 0 || len(c.Rules) > maxCORSRules {
		return nil, apiErr(codeMalformedXML, "a CORS configuration holds 1 to 100 rules")
	}
	for _, r := range c.Rules {
		if len(r.AllowedMethods) == 0 || len(r.AllowedOrigins) == 0 {
			return nil, apiErr(codeMalformedXML, "every CORS rule needs an AllowedMethod and an AllowedOrigin")
		}
		for _, m := range r.AllowedMethods {
			switch m {
			case "GET", "PUT", "POST", "DELETE", "HEAD":
			default:
				return nil, apiErr(sigv4.CodeInvalidRequest, "found unsupported HTTP method in CORS config: "+m)
			}
		}
		for _, o := range append(append([]string(nil), r.AllowedOrigins...), r.AllowedHeaders...) {
			if strings.Count(o, "*") > 1 {
				return nil, apiErr(sigv4.CodeInvalidArgument, o+" can not have more than one wildcard")
			}
		}
		if r.MaxAgeSeconds != nil && *r.MaxAgeSeconds < 0 {
			return nil, apiErr(codeMalformedXML, "MaxAgeSeconds must not be negative")
		}
	}
	c.NS = s3NS
	return &c, nil
}

// match finds the first rule allowing origin and method, and all the
// request headers of a preflight.
func (c *corsConfiguration) match(origin, method string, headers []string) *corsRule {
	for i := range c.Rules {
		r := &c.Rules[i]
		if !slices.Contains(r.AllowedMethods, method) {
			continue
		}
		if !slices.ContainsFunc(r.AllowedOrigins, func(p string) bool { return policy.Match(p, origin) }) {
			continue
		}
		ok := true
		for _, h := range headers {
			if !slices.ContainsFunc(r.AllowedHeaders, func(p string) bool {
				return policy.Match(strings.ToLower(p), strings.ToLower(h))
			}) {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

func (r *corsRule) setHeaders(h http.Header, origin string) {
	if slices.Contains(r.AllowedOrigins, "*") {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(*r.MaxAgeSeconds))
	}
	h.Add("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

func bucketCORS(b *metapb.Bucket) *corsConfiguration {
	doc := b.GetConfig()[configCORS]
	if len(doc) == 0 {
		return nil
	}
	c, err := parseCORS(doc)
	if err != nil {
		return nil
	}
	return c
}

// applyCORS adds the Access-Control-* headers to a request with an Origin
// that a rule of the bucket allows.
func (s *Server) applyCORS(rq *request, b *metapb.Bucket) {
	origin := rq.r.Header.Get("Origin")
	if origin == "" || rq.r.Method == http.MethodOptions {
		return
	}
	c := bucketCORS(b)
	if c == nil {
		return
	}
	if r := c.match(origin, rq.r.Method, nil); r != nil {
		r.setHeaders(rq.w.Header(), origin)
	}
}

// preflight answers an OPTIONS request.
func (s *Server) preflight(ctx context.Context, rq *request) error {
	h := rq.r.Header
	origin, method := h.Get("Origin"), h.Get("Access-Control-Request-Method")
	if origin == "" {
		return apiErr(codeBadRequest, "insufficient information: the Origin request header is needed")
	}
	if method == "" {
		return apiErr(codeBadRequest, "invalid Access-Control-Request-Method: null")
	}
	b := rq.bucketRec
	if b == nil {
		var err error
		if b, err = s.objects.GetBucket(ctx, rq.bucket); err != nil {
			return bucketErr(err)
		}
	}
	c := bucketCORS(b)
	if c == nil {
		return apiErr(codeAccessForbidden, "CORSResponse: CORS is not enabled for this bucket")
	}
	var headers []string
	for _, v := range h.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				headers = append(headers, name)
			}
		}
	}
	r := c.match(origin, method, headers)
	if r == nil {
		return apiErr(codeAccessForbidden, "CORSResponse: this CORS request is not allowed")
	}
	r.setHeaders(rq.w.Header(), origin)
	if len(headers) > 0 {
		rq.w.Header().Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) putBucketCORS(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	c, err := parseCORS(doc)
	if err != nil {
		return err
	}
	out, _ := xml.Marshal(c)
	return s.storeConfig(ctx, rq, configCORS, out)
}

func (s *Server) getBucketCORS(ctx context.Context, rq *request) error {
	return s.loadConfig(ctx, rq, configCORS, codeNoSuchCORS, "application/xml")
}
