package metaclient

import "github.com/wolke-cloud/wolke/meta/metapb"

// Volumes returns a client of the block volume service on the same
// connections, with the same error kinds and retries.
func (c *Client) Volumes() metapb.VolumesClient { return metapb.NewVolumesClient(c.conn) }
