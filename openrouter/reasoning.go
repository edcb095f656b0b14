package openrouter

import "encoding/json"

// reasoningDetails puts together the reasoning_details a stream sends in
// pieces: entries with the same index are one entry, whose texts are joined
// and whose other fields are the last non-null ones.
type reasoningDetails struct {
	entries []map[string]any
	byIndex map[float64]int // entry index → position in entries
}

// joined are the fields whose pieces are concatenated.
var joined = map[string]bool{"text": true, "summary": true, "data": true}

// add adds the pieces of one delta, a JSON array.
func (r *reasoningDetails) add(raw json.RawMessage) {
	var pieces []map[string]any
	if json.Unmarshal(raw, &pieces) != nil {
		return
	}
	if r.byIndex == nil {
		r.byIndex = map[float64]int{}
	}
	for _, piece := range pieces {
		idx, ok := piece["index"].(float64)
		pos, seen := r.byIndex[idx]
		if !ok || !seen {
			if ok {
				r.byIndex[idx] = len(r.entries)
			}
			r.entries = append(r.entries, piece)
			continue
		}
		entry := r.entries[pos]
		for k, v := range piece {
			if s, isString := v.(string); isString && joined[k] {
				prev, _ := entry[k].(string)
				entry[k] = prev + s
			} else if v != nil {
				entry[k] = v
			}
		}
	}
}

// json returns the entries as a JSON array, or nil when there are none.
func (r *reasoningDetails) json() json.RawMessage {
	if len(r.entries) == 0 {
		return nil
	}
	data, err := json.Marshal(r.entries)
	if err != nil {
		return nil
	}
	return data
}
