package agentbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
)

// Bounds of an invalid arguments error: it goes back to the model and out
// in events, and quotes what the model wrote.
const (
	maxProblems     = 12  // problems listed; the rest are counted
	maxProblemBytes = 240 // bytes of one problem
	maxValueBytes   = 60  // bytes of a value quoted in a problem
)

// An argsChecker checks a tool call's arguments against the tool's schema
// and names every problem it finds, each at its place in the arguments.
//
// It walks objects and arrays itself and checks the common keywords of each
// value (type, enum, const, minimum, maximum, lengths, pattern, item
// counts, required and additional properties). A part of the schema it does
// not walk (a $ref, allOf, anyOf, oneOf, not, if, patternProperties and the
// like) is checked whole by the JSON Schema library, and gives one problem.
// The library checks the whole arguments as well, and has the last word:
// arguments it finds valid are valid.
type argsChecker struct {
	schema *jsonschema.Schema
	root   *jsonschema.Resolved
	nodes  map[*jsonschema.Schema]*checkNode // nil: only root checks, one problem
}

// A checkNode is what an argsChecker checks of one schema.
type checkNode struct {
	whole   *jsonschema.Resolved // the schema, checked whole by the library; nil when walked
	rest    *jsonschema.Resolved // its keywords the walk leaves to the library, nil if none
	pattern *regexp.Regexp
	enum    []any // Enum, as JSON values
	cnst    *any  // Const, as a JSON value
	never   bool  // the schema is false: nothing is valid
}

// newArgsChecker returns the checker of schema, resolved as root. A schema
// whose parts cannot be checked apart is checked whole.
func newArgsChecker(schema *jsonschema.Schema, root *jsonschema.Resolved) *argsChecker {
	c := &argsChecker{schema: schema, root: root, nodes: map[*jsonschema.Schema]*checkNode{}}
	if err := c.compile(schema, schema); err != nil {
		c.nodes = nil
	}
	return c
}

// walked reports whether the checker walks s rather than handing it whole to
// the library.
func walked(s *jsonschema.Schema) bool {
	return s.Ref == "" && s.DynamicRef == "" && s.ID == "" && s.Anchor == "" && s.DynamicAnchor == "" &&
		s.AllOf == nil && s.AnyOf == nil && s.OneOf == nil && s.Not == nil &&
		s.If == nil && s.Then == nil && s.Else == nil &&
		s.DependentSchemas == nil && s.DependencySchemas == nil && s.DependencyStrings == nil &&
		s.PatternProperties == nil && s.PropertyNames == nil && s.UnevaluatedProperties == nil &&
		s.UnevaluatedItems == nil && s.Contains == nil && s.AdditionalItems == nil && s.ItemsArray == nil &&
		s.ContentSchema == nil
}

// isFalse reports whether s is the schema false, as
// "additionalProperties": false is.
func isFalse(s *jsonschema.Schema) bool {
	return s != nil && s.Not != nil && reflect.DeepEqual(*s.Not, jsonschema.Schema{}) &&
		reflect.DeepEqual(*s, jsonschema.Schema{Not: s.Not})
}

func (c *argsChecker) compile(s, root *jsonschema.Schema) error {
	if s == nil || c.nodes[s] != nil {
		return nil
	}
	n := &checkNode{}
	c.nodes[s] = n
	switch {
	case isFalse(s):
		n.never = true
		return nil
	case !walked(s):
		whole := s.CloneSchemas()
		if whole.Defs == nil {
			whole.Defs = root.Defs
		}
		if whole.Definitions == nil {
			whole.Definitions = root.Definitions
		}
		whole.Schema = root.Schema
		r, err := whole.Resolve(nil)
		if err != nil {
			return err
		}
		n.whole = r
		return nil
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return err
		}
		n.pattern = re
	}
	for _, v := range s.Enum {
		jv, err := jsonValue(v)
		if err != nil {
			return err
		}
		n.enum = append(n.enum, jv)
	}
	if s.Const != nil {
		jv, err := jsonValue(*s.Const)
		if err != nil {
			return err
		}
		n.cnst = &jv
	}
	// What the walk does not check itself.
	rest := &jsonschema.Schema{
		Schema:     root.Schema,
		MultipleOf: s.MultipleOf, ExclusiveMinimum: s.ExclusiveMinimum, ExclusiveMaximum: s.ExclusiveMaximum,
		UniqueItems: s.UniqueItems, MinProperties: s.MinProperties, MaxProperties: s.MaxProperties,
		DependentRequired: s.DependentRequired, Format: s.Format,
	}
	if !reflect.DeepEqual(*rest, jsonschema.Schema{Schema: root.Schema}) {
		r, err := rest.Resolve(nil)
		if err != nil {
			return err
		}
		n.rest = r
	}
	for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
		if err := c.compile(s.Properties[k], root); err != nil {
			return err
		}
	}
	for _, sub := range append([]*jsonschema.Schema{s.AdditionalProperties, s.Items}, s.PrefixItems...) {
		if err := c.compile(sub, root); err != nil {
			return err
		}
	}
	return nil
}

// check checks v, the arguments as decoded into an any, returning nil when
// they are valid and otherwise an error naming every problem found.
func (c *argsChecker) check(v any) error {
	err := c.root.Validate(v)
	if err == nil {
		return nil
	}
	var ps problems
	if c.nodes != nil {
		c.walk("", c.schema, v, &ps)
	}
	if ps.count == 0 {
		ps.add("", libraryProblem(err))
	}
	return fmt.Errorf("%w: %s", ErrInvalidArguments, ps.String())
}

// walk checks v, found at path p, against s.
func (c *argsChecker) walk(p string, s *jsonschema.Schema, v any, ps *problems) {
	n := c.nodes[s]
	switch {
	case s == nil || n == nil:
		return
	case n.never:
		ps.add(p, "is not allowed")
		return
	case n.whole != nil:
		if err := n.whole.Validate(v); err != nil {
			ps.add(p, libraryProblem(err))
		}
		return
	}
	got := typeOf(v)
	if want := s.Types; s.Type != "" || want != nil {
		if s.Type != "" {
			want = []string{s.Type}
		}
		if !slices.Contains(want, got) && !(got == "integer" && slices.Contains(want, "number")) {
			ps.add(p, fmt.Sprintf("want %s, got %s", typeList(want), describe(v)))
			return // the rest would only repeat it
		}
	}
	if n.enum != nil && !slices.ContainsFunc(n.enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		ps.add(p, fmt.Sprintf("%s is not one of %s", quote(v), valueList(n.enum)))
	}
	if n.cnst != nil && !reflect.DeepEqual(*n.cnst, v) {
		ps.add(p, fmt.Sprintf("want %s, got %s", quote(*n.cnst), quote(v)))
	}
	switch v := v.(type) {
	case float64:
		if s.Minimum != nil && v < *s.Minimum {
			ps.add(p, fmt.Sprintf("%s is less than the minimum, %s", number(v), number(*s.Minimum)))
		}
		if s.Maximum != nil && v > *s.Maximum {
			ps.add(p, fmt.Sprintf("%s is more than the maximum, %s", number(v), number(*s.Maximum)))
		}
	case string:
		length := utf8.RuneCountInString(v)
		if s.MinLength != nil && length < *s.MinLength {
			ps.add(p, fmt.Sprintf("%s has %d characters, fewer than the %d required", quote(v), length, *s.MinLength))
		}
		if s.MaxLength != nil && length > *s.MaxLength {
			ps.add(p, fmt.Sprintf("has %d characters, more than the %d allowed", length, *s.MaxLength))
		}
		if n.pattern != nil && !n.pattern.MatchString(v) {
			ps.add(p, fmt.Sprintf("%s does not match the pattern %s", quote(v), quote(s.Pattern)))
		}
	case []any:
		if s.MinItems != nil && len(v) < *s.MinItems {
			ps.add(p, fmt.Sprintf("has %d %s, fewer than the %d required", len(v), plural(len(v), "item", "items"), *s.MinItems))
		}
		if s.MaxItems != nil && len(v) > *s.MaxItems {
			ps.add(p, fmt.Sprintf("has %d items, more than the %d allowed", len(v), *s.MaxItems))
		}
	case map[string]any:
		var missing []string
		for _, name := range s.Required {
			if _, ok := v[name]; !ok {
				missing = append(missing, name)
			}
		}
		if missing != nil {
			ps.add(p, fmt.Sprintf("missing required %s %s", plural(len(missing), "property", "properties"), nameList(missing)))
		}
	}
	if n.rest != nil {
		if err := n.rest.Validate(v); err != nil {
			ps.add(p, libraryProblem(err))
		}
	}
	switch v := v.(type) {
	case []any:
		for i, item := range v {
			sub := s.Items
			if i < len(s.PrefixItems) {
				sub = s.PrefixItems[i]
			}
			c.walk(fmt.Sprintf("%s[%d]", p, i), sub, item, ps)
		}
	case map[string]any:
		var unexpected []string
		for _, k := range slices.Sorted(maps.Keys(v)) {
			sub, ok := s.Properties[k]
			switch {
			case ok:
			case isFalse(s.AdditionalProperties):
				unexpected = append(unexpected, k)
				continue
			default:
				sub = s.AdditionalProperties // nil allows anything
			}
			c.walk(propertyPath(p, k), sub, v[k], ps)
		}
		if unexpected != nil {
			msg := fmt.Sprintf("unexpected %s %s", plural(len(unexpected), "property", "properties"), nameList(unexpected))
			if len(s.Properties) > 0 {
				msg += "; the properties are " + nameList(slices.Sorted(maps.Keys(s.Properties)))
			} else {
				msg += "; no properties are allowed"
			}
			ps.add(p, msg)
		}
	}
}

// problems collects what is wrong with arguments, keeping the first
// maxProblems.
type problems struct {
	list  []string
	count int
}

// add records a problem of the value at path p ("" for the arguments
// object itself).
func (ps *problems) add(p, problem string) {
	ps.count++
	if len(ps.list) == maxProblems {
		return
	}
	if p != "" {
		problem = p + ": " + problem
	}
	ps.list = append(ps.list, capText(problem, maxProblemBytes))
}

// String lists the problems: one on its own, several one per line.
func (ps *problems) String() string {
	if ps.count == 1 {
		return ps.list[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", ps.count)
	for _, p := range ps.list {
		b.WriteString("\n- " + p)
	}
	if more := ps.count - len(ps.list); more > 0 {
		fmt.Fprintf(&b, "\n- and %d more", more)
	}
	return b.String()
}

// libraryPrefix is how the JSON Schema library begins each level of an
// error: "validating root: ", "validating /properties/x: ".
var libraryPrefix = regexp.MustCompile(`^validating [^:]*: `)

// libraryProblem is the text of a problem the JSON Schema library found, on
// one line, without the schema locations its lines begin with.
func libraryProblem(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	for i, s := range lines {
		for loc := libraryPrefix.FindStringIndex(s); loc != nil; loc = libraryPrefix.FindStringIndex(s) {
			s = s[loc[1]:]
		}
		lines[i] = s
	}
	return strings.ReplaceAll(strings.Join(lines, "; "), ":; ", ": ")
}

// propertyPath is the path of property k of the value at p: p.k, or
// p["k"] when k is not a plain name.
func propertyPath(p, k string) string {
	if plainName.MatchString(k) {
		if p == "" {
			return k
		}
		return p + "." + k
	}
	return fmt.Sprintf("%s[%s]", p, strconv.Quote(capText(k, maxValueBytes)))
}

var plainName = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// typeOf is the JSON type of a decoded value, "integer" for whole numbers.
func typeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if _, frac := math.Modf(v); frac == 0 {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// typeList says which JSON types are wanted: "a string", "an integer or null".
func typeList(types []string) string {
	named := make([]string, len(types))
	for i, t := range types {
		named[i] = article(t)
	}
	return strings.Join(named, " or ")
}

func article(t string) string {
	switch t {
	case "null":
		return "null"
	case "integer", "object", "array":
		return "an " + t
	}
	return "a " + t
}

// describe names a value's type and shows it, if short: `the number 4.5`,
// `an object`.
func describe(v any) string {
	switch t := typeOf(v); t {
	case "null":
		return "null"
	case "object", "array":
		return article(t)
	case "integer":
		return "the number " + quote(v)
	default:
		return "the " + t + " " + quote(v)
	}
}

// quote shows a value as JSON, capped.
func quote(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return capText(string(b), maxValueBytes)
}

func valueList(vs []any) string {
	shown := make([]string, len(vs))
	for i, v := range vs {
		shown[i] = quote(v)
	}
	return strings.Join(shown, ", ")
}

func nameList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(capText(n, maxValueBytes))
	}
	return strings.Join(quoted, ", ")
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// jsonValue converts a Go value to the value decoding its JSON gives, to
// compare it with decoded arguments.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}
