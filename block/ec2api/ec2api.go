// Package ec2api serves the volume and snapshot actions of the EC2 query
// API (EBS): CreateVolume, DescribeVolumes, DeleteVolume, ModifyVolume,
// CreateSnapshot, DescribeSnapshots, DeleteSnapshot and
// DescribeAvailabilityZones. Requests are form-encoded (Action=...),
// answers are XML with a requestId; errors are EC2 error XML with the
// codes of the table in errors.go. The gateway authenticates and hands
// requests signed for service "ec2" to Handler.ServeAWS.
package ec2api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Namespace is the XML namespace of EC2 answers.
const Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// maxForm bounds a request body.
const maxForm = 1 << 20

// Volumes is the part of meta's Volumes API the EC2 actions use;
// metapb.VolumesClient implements it.
type Volumes interface {
	CreateVolume(ctx context.Context, in *metapb.CreateVolumeRequest, opts ...grpc.CallOption) (*metapb.CreateVolumeResponse, error)
	GetVolume(ctx context.Context, in *metapb.GetVolumeRequest, opts ...grpc.CallOption) (*metapb.GetVolumeResponse, error)
	ListVolumes(ctx context.Context, in *metapb.ListVolumesRequest, opts ...grpc.CallOption) (*metapb.ListVolumesResponse, error)
	DeleteVolume(ctx context.Context, in *metapb.DeleteVolumeRequest, opts ...grpc.CallOption) (*metapb.DeleteVolumeResponse, error)
	ModifyVolume(ctx context.Context, in *metapb.ModifyVolumeRequest, opts ...grpc.CallOption) (*metapb.ModifyVolumeResponse, error)
	CreateSnapshot(ctx context.Context, in *metapb.CreateSnapshotRequest, opts ...grpc.CallOption) (*metapb.CreateSnapshotResponse, error)
	GetSnapshot(ctx context.Context, in *metapb.GetSnapshotRequest, opts ...grpc.CallOption) (*metapb.GetSnapshotResponse, error)
	ListSnapshots(ctx context.Context, in *metapb.ListSnapshotsRequest, opts ...grpc.CallOption) (*metapb.ListSnapshotsResponse, error)
	DeleteSnapshot(ctx context.Context, in *metapb.DeleteSnapshotRequest, opts ...grpc.CallOption) (*metapb.DeleteSnapshotResponse, error)
}

// Disks lists the chunk disks, whose zone labels are the availability
// zones; metapb.MetaClient implements it.
type Disks interface {
	ListDisks(ctx context.Context, in *metapb.ListDisksRequest, opts ...grpc.CallOption) (*metapb.ListDisksResponse, error)
}

// Config shapes the API.
type Config struct {
	Region     string // default us-east-1
	ExtentSize int64  // extent size of new volumes; default 1 MiB
}

// Deps are the handler's collaborators.
type Deps struct {
	Volumes Volumes
	Disks   Disks
	// Flusher, if set, makes the writes a volume attached in this process
	// acknowledged stable (its write cache) before CreateSnapshot; nil:
	// volumes are attached elsewhere, and a snapshot holds what their
	// writers flushed.
	Flusher interface {
		FlushVolume(ctx context.Context, id string) error
	}
	Logger *slog.Logger // nil: discard
	// Next answers the EC2 actions this package does not know (instances,
	// say); nil answers them InvalidAction.
	Next interface {
		ServeAWS(w http.ResponseWriter, r *http.Request, auth *sigv4.Result, authErr error)
	}
}

// Handler serves the EC2 volume actions.
type Handler struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
}

// New makes a Handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.ExtentSize == 0 {
		cfg.ExtentSize = 1 << 20
	}
	if deps.Volumes == nil || deps.Disks == nil {
		return nil, errs.E("ec2api.New", errs.Invalid, "Volumes and Disks are required")
	}
	if cfg.ExtentSize < 4096 || cfg.ExtentSize%4096 != 0 || (1<<30)%cfg.ExtentSize != 0 {
		return nil, errs.Errorf("ec2api.New", errs.Invalid, "extent size %d must divide 1 GiB in 4 KiB units", cfg.ExtentSize)
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, deps: deps, log: log}, nil
}

type action func(h *Handler, ctx context.Context, q url.Values) (any, error)

var actions = map[string]action{
	"CreateVolume":              (*Handler).createVolume,
	"DescribeVolumes":           (*Handler).describeVolumes,
	"DeleteVolume":              (*Handler).deleteVolume,
	"ModifyVolume":              (*Handler).modifyVolume,
	"CreateSnapshot":            (*Handler).createSnapshot,
	"DescribeSnapshots":         (*Handler).describeSnapshots,
	"DeleteSnapshot":            (*Handler).deleteSnapshot,
	"DescribeAvailabilityZones": (*Handler).describeZones,
}

// ServeAWS answers one EC2 query request.
func (h *Handler) ServeAWS(w http.ResponseWriter, r *http.Request, auth *sigv4.Result, authErr error) {
	rid := requestID()
	if authErr != nil {
		h.fail(w, rid, authError(authErr))
		return
	}
	if auth == nil || auth.Anonymous {
		h.fail(w, rid, apiErr(http.StatusUnauthorized, "AuthFailure", "requests must be signed"))
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		h.fail(w, rid, apiErr(http.StatusBadRequest, "InvalidRequest", "use POST or GET"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.fail(w, rid, apiErr(http.StatusBadRequest, "InvalidRequest", "malformed form: "+err.Error()))
		return
	}
	q := r.Form
	name := q.Get("Action")
	act, ok := actions[name]
	if !ok {
		if h.deps.Next != nil {
			h.deps.Next.ServeAWS(w, r, auth, nil)
			return
		}
		h.fail(w, rid, apiErr(http.StatusBadRequest, "InvalidAction", "the action "+name+" is not valid for this web service"))
		return
	}
	if q.Get("DryRun") == "true" {
		h.fail(w, rid, apiErr(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."))
		return
	}
	resp, err := act(h, r.Context(), q)
	if err != nil {
		h.log.Debug("ec2 action failed", "action", name, "err", err)
		h.fail(w, rid, toAPI(err))
		return
	}
	h.reply(w, name, rid, resp)
}

// reply writes <NameResponse xmlns=...><requestId/>...fields of resp...</NameResponse>.
func (h *Handler) reply(w http.ResponseWriter, name, rid string, resp any) {
	body, err := xml.Marshal(resp)
	if err != nil {
		h.fail(w, rid, apiErr(http.StatusInternalServerError, "InternalError", err.Error()))
		return
	}
	// resp marshals as <x>fields</x>; keep the fields.
	inner := body[strings.IndexByte(string(body), '>')+1 : strings.LastIndexByte(string(body), '<')]
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<" + name + `Response xmlns="` + Namespace + `"><requestId>` + rid + "</requestId>")
	b.Write(inner)
	b.WriteString("</" + name + "Response>")
	_, _ = w.Write([]byte(b.String()))
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
