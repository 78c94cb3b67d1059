package policy

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
)

// Condition is one operator applied to one key, e.g. IpAddress on
// aws:SourceIp with a list of CIDRs.
type Condition struct {
	Operator string // as written, e.g. "StringLikeIfExists"
	Key      string // lower-case
	Values   []string

	base     string // the operator without IfExists
	ifExists bool
	prefixes []netip.Prefix
}

// operators lists the condition operators understood, and whether each
// is a negation (true when no request value matches).
func operators() map[string]bool {
	return map[string]bool{
		"StringEquals": false, "StringNotEquals": true,
		"StringEqualsIgnoreCase": false, "StringNotEqualsIgnoreCase": true,
		"StringLike": false, "StringNotLike": true,
		"IpAddress": false, "NotIpAddress": true,
		"Bool": false, "Null": false,
		"NumericEquals": false, "NumericNotEquals": true,
		"NumericLessThan": false, "NumericLessThanEquals": false,
		"NumericGreaterThan": false, "NumericGreaterThanEquals": false,
		"ArnEquals": false, "ArnLike": false, "ArnNotEquals": true, "ArnNotLike": true,
	}
}

func parseConditions(raw map[string]map[string]json.RawMessage) ([]Condition, error) {
	ops := operators()
	var out []Condition
	for op, keys := range raw {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		if _, ok := ops[base]; !ok {
			return nil, malformed("invalid condition operator " + op)
		}
		for key, rv := range keys {
			var vals []any
			if err := oneOrMany(rv, &vals); err != nil || len(vals) == 0 {
				return nil, malformed("invalid values for condition key " + key)
			}
			c := Condition{Operator: op, Key: strings.ToLower(key), base: base, ifExists: ifExists}
			for _, v := range vals {
				switch v := v.(type) {
				case string:
					c.Values = append(c.Values, v)
				case bool:
					c.Values = append(c.Values, strconv.FormatBool(v))
				case float64:
					c.Values = append(c.Values, strconv.FormatFloat(v, 'f', -1, 64))
				default:
					return nil, malformed("invalid value for condition key " + key)
				}
			}
			if base == "IpAddress" || base == "NotIpAddress" {
				for _, v := range c.Values {
					p, err := parsePrefix(v)
					if err != nil {
						return nil, malformed("invalid IP address or CIDR " + v)
					}
					c.prefixes = append(c.prefixes, p)
				}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func lookup(ctx map[string][]string, key string) ([]string, bool) {
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// holds evaluates the condition against the request context.
func (c Condition) holds(ctx map[string][]string) bool {
	got, present := lookup(ctx, c.Key)
	if c.base == "Null" {
		// Null true: the key must be absent.
		want := len(c.Values) > 0 && strings.EqualFold(c.Values[0], "true")
		return want != present
	}
	negated := operators()[c.base]
	if !present {
		return c.ifExists || negated
	}
	hit := false
	for _, g := range got {
		for i, w := range c.Values {
			if c.match(g, w, i) {
				hit = true
			}
		}
	}
	return hit != negated
}

// match compares one request value with one policy value (the i-th).
func (c Condition) match(got, want string, i int) bool {
	switch c.base {
	case "StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals":
		return got == want
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return strings.EqualFold(got, want)
	case "StringLike", "StringNotLike", "ArnLike", "ArnNotLike":
		return Match(want, got)
	case "Bool":
		return strings.EqualFold(got, want)
	case "IpAddress", "NotIpAddress":
		a, err := netip.ParseAddr(got)
		return err == nil && c.prefixes[i].Contains(a.Unmap())
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	switch c.base {
	case "NumericEquals", "NumericNotEquals":
		return g == w
	case "NumericLessThan":
		return g < w
	case "NumericLessThanEquals":
		return g <= w
	case "NumericGreaterThan":
		return g > w
	case "NumericGreaterThanEquals":
		return g >= w
	}
	return false
}
