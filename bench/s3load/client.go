package s3load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// newClient builds a plain S3 client: path-style, static credentials, no
// retries (every failure is counted), no automatic checksums beyond what S3
// requires and unsigned payloads (UNSIGNED-PAYLOAD) so the client does not
// hash every body: the generator measures the server, not SHA-256.
// The returned release closes the idle connections of a transport it made.
func newClient(cfg Config) (c *s3.Client, release func()) {
	hc, release := cfg.HTTPClient, func() {}
	if hc == nil {
		tr := &http.Transport{
			Proxy:               nil, // straight to the endpoint, whatever HTTP_PROXY says
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        cfg.Concurrent * 2,
			MaxIdleConnsPerHost: cfg.Concurrent * 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}
		hc, release = &http.Client{Transport: tr}, tr.CloseIdleConnections
	}
	return s3.New(s3.Options{
		Region:                     cfg.Region,
		BaseEndpoint:               aws.String(cfg.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		Retryer:                    aws.NopRetryer{},
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		// No Expect: 100-continue round trip before large bodies.
		ContinueHeaderThresholdBytes:              -1,
		DisableLogOutputChecksumValidationSkipped: true,
		APIOptions: []func(*middleware.Stack) error{v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware},
	}), release
}

// ensureBucket creates the bucket if it does not exist and says whether it did.
func ensureBucket(ctx context.Context, c *s3.Client, bucket string) (created bool, err error) {
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return false, nil
	}
	if errorCode(err) != "NotFound" && errorCode(err) != "NoSuchBucket" {
		return false, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	switch errorCode(err) {
	case "":
		return true, nil
	case "BucketAlreadyOwnedByYou":
		return false, nil
	}
	return false, fmt.Errorf("create bucket %s: %w", bucket, err)
}

// errorCode is the S3 error code of err, "" for nil.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "error"
}

// shortError renders an operation error for the table and CSV: the S3 code
// and message when there is one, not the SDK's long wrapping.
func shortError(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if m := ae.ErrorMessage(); m != "" {
			return ae.ErrorCode() + ": " + m
		}
		return ae.ErrorCode()
	}
	return err.Error()
}

// bucketVersioned tells whether the bucket keeps versions (or did: a
// suspended bucket still holds them).
func bucketVersioned(ctx context.Context, c *s3.Client, bucket string) (bool, error) {
	out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		return false, fmt.Errorf("bucket %s versioning: %w", bucket, err)
	}
	return out.Status != "", nil
}

func enableVersioning(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		return fmt.Errorf("bucket %s: enable versioning: %w", bucket, err)
	}
	return nil
}

// objectID names one object, or one version of it, to delete.
type objectID struct{ key, version string }

// clearPrefix deletes every object under prefix (every version and delete
// marker, when versioned) with n workers and returns how many it deleted;
// it keeps going past failures and reports the first.
func clearPrefix(ctx context.Context, c *s3.Client, bucket, prefix string, n int, versioned bool) (int, error) {
	ids := make(chan objectID, 1000)
	var (
		mu       sync.Mutex
		deleted  int
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for range n {
		wg.Go(func() {
			for id := range ids {
				in := &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(id.key)}
				if id.version != "" {
					in.VersionId = aws.String(id.version)
				}
				if _, err := c.DeleteObject(ctx, in); err != nil {
					fail(fmt.Errorf("delete %s: %w", id.key, err))
					continue
				}
				mu.Lock()
				deleted++
				mu.Unlock()
			}
		})
	}
	var err error
	if versioned {
		err = listVersions(ctx, c, bucket, prefix, ids)
	} else {
		err = listKeys(ctx, c, bucket, prefix, ids)
	}
	if err != nil {
		fail(fmt.Errorf("list %s: %w", prefix, err))
	}
	close(ids)
	wg.Wait()
	return deleted, firstErr
}

func listKeys(ctx context.Context, c *s3.Client, bucket, prefix string, ids chan<- objectID) error {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			ids <- objectID{key: aws.ToString(o.Key)}
		}
	}
	return nil
}

func listVersions(ctx context.Context, c *s3.Client, bucket, prefix string, ids chan<- objectID) error {
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, v := range page.Versions {
			ids <- objectID{key: aws.ToString(v.Key), version: aws.ToString(v.VersionId)}
		}
		for _, m := range page.DeleteMarkers {
			ids <- objectID{key: aws.ToString(m.Key), version: aws.ToString(m.VersionId)}
		}
	}
	return nil
}
