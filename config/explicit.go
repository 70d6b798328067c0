package config

import (
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// fieldSet holds the addresses of the fields of a Config that its YAML
// wrote, keyed by typed pointer (*float64, *Duration, ...). A nil set holds
// nothing.
type fieldSet map[any]bool

// written returns the fields of cfg (already decoded from doc) that doc
// sets, whatever their value, so that defaults go only where the YAML is
// silent. It follows the decoder's rules: yaml tags, inline structs, list
// items by position, anchors, aliases and merge keys.
func written(doc *yaml.Node, cfg *Config) fieldSet {
	set := fieldSet{}
	set.walk(doc, reflect.ValueOf(cfg).Elem(), 0)
	return set
}

// maxDepth stops the walk of a document whose aliases nest absurdly deep
// (the decoder has already refused alias loops).
const maxDepth = 64

func (f fieldSet) walk(n *yaml.Node, v reflect.Value, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			f.walk(n.Content[0], v, depth+1)
		}
		return
	case yaml.AliasNode:
		f.walk(n.Alias, v, depth+1)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if key.Value == "<<" && key.Tag == "!!merge" {
				f.walkMerge(val, v, depth+1)
				continue
			}
			field, ok := fieldByTag(v, key.Value)
			if !ok {
				continue
			}
			f[field.Addr().Interface()] = true
			f.walk(val, field, depth+1)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			if i < v.Len() {
				f.walk(item, v.Index(i), depth+1)
			}
		}
	}
}

// walkMerge handles `<<: *anchor` and `<<: [*a, *b]`.
func (f fieldSet) walkMerge(n *yaml.Node, v reflect.Value, depth int) {
	if n.Kind == yaml.SequenceNode {
		for _, m := range n.Content {
			f.walk(m, v, depth+1)
		}
		return
	}
	f.walk(n, v, depth+1)
}

// fieldByTag finds the field of struct v that YAML key name decodes into,
// looking into `yaml:",inline"` structs.
func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if strings.Contains(","+opts+",", ",inline,") {
			if fv, ok := fieldByTag(v.Field(i), name); ok {
				return fv, true
			}
			continue
		}
		if tag == "" {
			tag = strings.ToLower(sf.Name)
		}
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}
