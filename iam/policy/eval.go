package policy

import (
	"strings"
)

// Evaluate returns Deny if a Deny statement matches r, else Allow if an
// Allow statement matches, else NotApplicable. A nil policy is
// NotApplicable.
func (p *Policy) Evaluate(r Request) Decision {
	if p == nil {
		return NotApplicable
	}
	d := NotApplicable
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.matches(r) {
			continue
		}
		if s.Effect == "Deny" {
			return Deny
		}
		d = Allow
	}
	return d
}

func (s *Statement) matches(r Request) bool {
	switch {
	case s.Principal != nil && !s.Principal.matches(r.Principals):
		return false
	case s.NotPrincipal != nil && s.NotPrincipal.matches(r.Principals):
		return false
	case len(s.Action) > 0 && !anyMatch(s.Action, r.Action, true):
		return false
	case len(s.NotAction) > 0 && anyMatch(s.NotAction, r.Action, true):
		return false
	case len(s.Resource) > 0 && !anyMatch(s.Resource, r.Resource, false):
		return false
	case len(s.NotResource) > 0 && anyMatch(s.NotResource, r.Resource, false):
		return false
	}
	for _, c := range s.Conditions {
		if !c.holds(r.Context) {
			return false
		}
	}
	return true
}

// matches reports whether one of the caller's names is listed. An ARN
// listed as "arn:aws:iam::<account>:user/NAME" matches the user NAME of any
// account, as Wolke has a single account.
func (p *Principal) matches(names []string) bool {
	if p.Any {
		return true
	}
	for _, id := range p.IDs {
		if len(names) > 0 && isAccount(id) {
			return true // the account: every signed caller of this (single-account) cloud
		}
		for _, n := range names {
			if id == n || userOfARN(id) == n && n != "" {
				return true
			}
		}
	}
	return false
}

// isAccount reports whether id names an account: a 12-digit id or
// "arn:aws:iam::<id>:root".
func isAccount(id string) bool {
	if rest, ok := strings.CutPrefix(id, "arn:aws:iam::"); ok {
		id, ok = strings.CutSuffix(rest, ":root")
		if !ok {
			return false
		}
	}
	if len(id) != 12 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

func userOfARN(arn string) string {
	if !strings.HasPrefix(arn, "arn:aws:iam::") {
		return ""
	}
	_, user, ok := strings.Cut(arn, ":user/")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(user, '/'); i >= 0 { // a path
		user = user[i+1:]
	}
	return user
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if Match(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if Match(p, s) {
			return true
		}
	}
	return false
}

// Match reports whether s matches pattern, where "*" stands for any run of
// characters (slashes included) and "?" for any one character.
func Match(pattern, s string) bool {
	// Iterative matching with backtracking to the last star.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
