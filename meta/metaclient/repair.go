package metaclient

import "github.com/wolke-cloud/wolke/meta/metapb"

// Repair returns a client of the Repair service over the same
// connections, error kinds and retries as the Meta service.
func (c *Client) Repair() metapb.RepairClient { return metapb.NewRepairClient(c.conn) }
