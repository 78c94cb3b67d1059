package gateway

import (
	"context"
	"encoding/xml"

	"github.com/wolke-cloud/wolke/iam/sigv4"
)

// Lifecycle configuration: validated and stored (?lifecycle); running the
// rules is the lifecycle worker's job.

type lifecycleConfiguration struct {
	XMLName xml.Name        `xml:"LifecycleConfiguration"`
	Rules   []lifecycleRule `xml:"Rule"`
}

type lifecycleRule struct {
	ID         string    `xml:"ID"`
	Status     string    `xml:"Status"`
	Prefix     *string   `xml:"Prefix"`
	Filter     *struct{} `xml:"Filter"`
	Expiration *struct {
		Days                      *int    `xml:"Days"`
		Date                      *string `xml:"Date"`
		ExpiredObjectDeleteMarker *bool   `xml:"ExpiredObjectDeleteMarker"`
	} `xml:"Expiration"`
	Transitions []struct {
		Days         *int    `xml:"Days"`
		Date         *string `xml:"Date"`
		StorageClass string  `xml:"StorageClass"`
	} `xml:"Transition"`
	NoncurrentExpiration *struct {
		NoncurrentDays *int `xml:"NoncurrentDays"`
	} `xml:"NoncurrentVersionExpiration"`
	NoncurrentTransitions []struct {
		NoncurrentDays *int   `xml:"NoncurrentDays"`
		StorageClass   string `xml:"StorageClass"`
	} `xml:"NoncurrentVersionTransition"`
	AbortIncomplete *struct {
		DaysAfterInitiation *int `xml:"DaysAfterInitiation"`
	} `xml:"AbortIncompleteMultipartUpload"`
}

func positive(p *int) bool { return p != nil && *p > 0 }

// checkLifecycle validates a lifecycle configuration as S3 does.
func checkLifecycle(doc []byte) error {
	var c lifecycleConfiguration
	if err := xml.Unmarshal(doc, &c); err != nil {
		return apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	if len(c.Rules) == 0 || len(c.Rules) > maxLifecycleRules {
		return apiErr(codeMalformedXML, "a lifecycle configuration holds 1 to 1000 rules")
	}
	ids := map[string]bool{}
	for _, r := range c.Rules {
		if len(r.ID) > 255 {
			return apiErr(sigv4.CodeInvalidArgument, "ID length should not exceed allowed limit of 255")
		}
		if r.ID != "" && ids[r.ID] {
			return apiErr(sigv4.CodeInvalidArgument, "rule ID must be unique; found same ID for more than one rule")
		}
		ids[r.ID] = true
		if r.Status != "Enabled" && r.Status != "Disabled" {
			return apiErr(codeMalformedXML, "Status must be Enabled or Disabled")
		}
		if r.Prefix != nil && r.Filter != nil {
			return apiErr(codeMalformedXML, "a rule has either Prefix or Filter")
		}
		actions := 0
		if e := r.Expiration; e != nil {
			actions++
			n := 0
			for _, set := range []bool{e.Days != nil, e.Date != nil, e.ExpiredObjectDeleteMarker != nil} {
				if set {
					n++
				}
			}
			if n != 1 || e.Days != nil && !positive(e.Days) {
				return apiErr(codeMalformedXML, "Expiration needs exactly one of a positive Days, a Date or ExpiredObjectDeleteMarker")
			}
		}
		for _, t := range r.Transitions {
			actions++
			if (t.Days == nil) == (t.Date == nil) || t.Days != nil && *t.Days < 0 || t.StorageClass == "" {
				return apiErr(codeMalformedXML, "a Transition needs Days or Date, and a StorageClass")
			}
		}
		if e := r.NoncurrentExpiration; e != nil {
			actions++
			if !positive(e.NoncurrentDays) {
				return apiErr(sigv4.CodeInvalidArgument, "NoncurrentDays for NoncurrentVersionExpiration must be a positive integer")
			}
		}
		for _, t := range r.NoncurrentTransitions {
			actions++
			if t.NoncurrentDays == nil || *t.NoncurrentDays < 0 || t.StorageClass == "" {
				return apiErr(codeMalformedXML, "a NoncurrentVersionTransition needs NoncurrentDays and a StorageClass")
			}
		}
		if a := r.AbortIncomplete; a != nil {
			actions++
			if !positive(a.DaysAfterInitiation) {
				return apiErr(sigv4.CodeInvalidArgument, "DaysAfterInitiation must be a positive integer")
			}
		}
		if actions == 0 {
			return apiErr(sigv4.CodeInvalidRequest, "at least one action needs to be specified in a rule")
		}
	}
	return nil
}

func (s *Server) putBucketLifecycle(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	if err := checkLifecycle(doc); err != nil {
		return err
	}
	return s.storeConfig(ctx, rq, configLifecycle, doc)
}

func (s *Server) getBucketLifecycle(ctx context.Context, rq *request) error {
	return s.loadConfig(ctx, rq, configLifecycle, codeNoSuchLifecycle, "application/xml")
}
