package gateway

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// uploadsPage is one page of ListMultipartUploads: uploads and, with a
// delimiter, the common prefixes that roll up the others (each counts as
// one entry against max-uploads, as in S3).
type uploadsPage struct {
	uploads               []*metapb.Upload
	prefixes              []string
	truncated             bool
	nextKey, nextUploadID string
}

// maxUploadPages bounds the meta pages one listing reads.
const maxUploadPages = 1000

// uploadsPage lists up to limit uploads and common prefixes after the
// markers. Meta lists uploads without a delimiter: the uploads under a
// common prefix are skipped by restarting after every key that starts
// with it. A key marker that rolls up to a common prefix (a NextKeyMarker
// of an earlier page) continues after that prefix.
func (s *Server) uploadsPage(ctx context.Context, bucket, prefix, delim, keyMarker, idMarker string, limit int) (uploadsPage, error) {
	var page uploadsPage
	rollup := func(key string) (string, bool) {
		if delim == "" || !strings.HasPrefix(key, prefix) {
			return "", false
		}
		i := strings.Index(key[len(prefix):], delim)
		if i < 0 {
			return "", false
		}
		return key[:len(prefix)+i+len(delim)], true
	}
	// past is a key marker after every key starting with cp.
	past := func(cp string) string { return cp + string(utf8.MaxRune) }
	if cp, ok := rollup(keyMarker); ok && idMarker == "" {
		keyMarker = past(cp)
	}
	for range maxUploadPages {
		// At least one: a full page still learns whether more follow.
		want := max(1, limit-len(page.uploads)-len(page.prefixes))
		resp, err := s.objects.ListMultipartUploads(ctx, &metapb.ListUploadsRequest{
			Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker, MaxUploads: int32(want),
		})
		if err != nil {
			return page, err
		}
		restarted := false
		for _, u := range resp.GetUploads() {
			if len(page.uploads)+len(page.prefixes) == limit {
				page.truncated = true
				return page, nil
			}
			if cp, ok := rollup(u.GetKey()); ok {
				page.prefixes = append(page.prefixes, cp)
				page.nextKey, page.nextUploadID = cp, ""
				keyMarker, idMarker, restarted = past(cp), "", true
				break
			}
			page.uploads = append(page.uploads, u)
			page.nextKey, page.nextUploadID = u.GetKey(), u.GetUploadId()
		}
		if restarted {
			continue
		}
		if !resp.GetTruncated() {
			page.nextKey, page.nextUploadID = "", ""
			return page, nil
		}
		if len(page.uploads)+len(page.prefixes) == limit {
			page.truncated = true
			return page, nil
		}
		keyMarker, idMarker = resp.GetNextKeyMarker(), resp.GetNextUploadIdMarker()
	}
	page.truncated = true
	return page, nil
}
