package agentboxtest

import (
	"context"
	"slices"
	"sync"

	"github.com/agentbox/agentbox"
)

// An Approver plays a person answering approval requests: its Approve method
// is an [agentbox.Options].Approve that answers each call with the scripted
// answer of its ID, and waits, as a person who stepped away does, until ctx
// is done for a call it has no answer for. It records every request it
// gets. It is safe for concurrent use.
type Approver struct {
	mu       sync.Mutex
	answers  map[string]agentbox.Approval
	requests []agentbox.ApprovalRequest
	asked    chan struct{} // closed and replaced at each request
}

// NewApprover returns an Approver with the given answers, each for the call
// its ID names.
func NewApprover(answers ...agentbox.Approval) *Approver {
	a := &Approver{answers: map[string]agentbox.Approval{}, asked: make(chan struct{})}
	for _, ans := range answers {
		a.answers[ans.ID] = ans
	}
	return a
}

// Approve records req and returns the answer for its call, or waits until
// ctx is done and returns ctx's error.
func (a *Approver) Approve(ctx context.Context, req agentbox.ApprovalRequest) (agentbox.Approval, error) {
	a.mu.Lock()
	a.requests = append(a.requests, req)
	close(a.asked)
	a.asked = make(chan struct{})
	ans, ok := a.answers[req.ID]
	a.mu.Unlock()
	if ok {
		return ans, nil
	}
	<-ctx.Done()
	return agentbox.Approval{}, context.Cause(ctx)
}

// Requests returns the requests Approve got, in order.
func (a *Approver) Requests() []agentbox.ApprovalRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.requests)
}

// Asked returns a channel closed when Approve gets its next request, for a
// test that acts while a run waits for an answer.
func (a *Approver) Asked() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.asked
}
