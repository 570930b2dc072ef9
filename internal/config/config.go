// Package config reads .leakfix.yaml, found the way golangci-lint finds its
// configuration: in the working directory or the nearest directory above it.
//
//	# .leakfix.yaml
//	rules: [unstoppable-loop]   # the rules to run; default all
//	exclude:                    # paths not reported, relative to this file
//	  - internal/legacy/**
//	  - "**/*_mock.go"
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/leakfix/leakfix/rules"
)

// Names are the file names looked for, in order.
var Names = []string{".leakfix.yaml", ".leakfix.yml"}

// Config is the content of a configuration file.
type Config struct {
	// Rules lists the rules to run by name; empty means all. The --rules
	// flag overrides it.
	Rules []string `yaml:"rules"`
	// Exclude lists slash-separated glob patterns, relative to the file's
	// directory, of paths whose findings are not reported (nor fixed). A
	// pattern matches a file or any file below a directory it matches; **
	// matches any number of directories.
	Exclude []string `yaml:"exclude"`

	dir string // the directory holding the file
}

// Find returns the path of the configuration file in dir or the nearest
// directory above it, or "" when there is none.
func Find(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		for _, name := range Names {
			p := filepath.Join(dir, name)
			if info, err := os.Stat(p); err == nil && !info.IsDir() {
				return p, nil
			} else if err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", err
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// Load reads and checks the configuration file at file. Unknown keys and
// unknown rules are errors, so that a typo does not silently change what
// is checked.
func Load(file string) (*Config, error) {
	file, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	c := &Config{dir: filepath.Dir(file)}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err != io.EOF {
		return nil, yamlError(file, err)
	}
	if _, err := rules.Choose(c.Rules, "invalid-ignore"); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, p := range c.Exclude {
		if _, err := path.Match(strings.ReplaceAll(p, "**", "*"), ""); err != nil {
			return nil, fmt.Errorf("%s: bad exclude pattern %q: %w", file, p, err)
		}
	}
	return c, nil
}

// Excluded reports whether file (absolute) matches an exclude pattern.
func (c *Config) Excluded(file string) bool {
	rel, err := filepath.Rel(c.dir, file)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for _, p := range c.Exclude {
		if match(strings.Split(strings.Trim(p, "/"), "/"), parts) {
			return true
		}
	}
	return false
}

// match reports whether the pattern's segments match a leading run of the
// path's segments (a directory matches everything below it).
func match(pattern, parts []string) bool {
	if len(pattern) == 0 {
		return true
	}
	if pattern[0] == "**" {
		for i := 0; i <= len(parts); i++ {
			if match(pattern[1:], parts[i:]) {
				return true
			}
		}
		return false
	}
	if len(parts) == 0 {
		return false
	}
	ok, _ := path.Match(pattern[0], parts[0])
	return ok && match(pattern[1:], parts[1:])
}

// yamlError words a decoding error for a person who wrote the file, not
// the Go type it is decoded into: one "file:line: message" per problem.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return fmt.Errorf("%s:%s: %s", file, m[1], m[2])
		}
		return fmt.Errorf("%s: %s", file, msg)
	}
	var lines []string
	for _, e := range te.Errors {
		msg := e
		line := ""
		if m := yamlLine.FindStringSubmatch(e); m != nil {
			line, msg = ":"+m[1], m[2]
		}
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			msg = "unknown key " + m[1] + " (the keys are rules and exclude)"
		} else if m := badType.FindStringSubmatch(msg); m != nil {
			msg = "want " + yamlKinds[m[3]] + ", not " + yamlKinds[m[1]] + m[2]
		}
		lines = append(lines, file+line+": "+msg)
	}
	return errors.New(strings.Join(lines, "\n"))
}

var (
	yamlLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	badType      = regexp.MustCompile("^cannot unmarshal (!!\\w+)( `.*`)? into (\\S+)$")
)

// yamlKinds names YAML tags and the Go types of Config's fields as the
// file's author knows them.
var yamlKinds = map[string]string{
	"!!str": "a string", "!!int": "a number", "!!float": "a number", "!!bool": "true or false",
	"!!map": "a mapping", "!!seq": "a list", "!!null": "nothing",
	"[]string": "a list ([a, b])", "config.Config": "a mapping of keys (rules:, exclude:)",
}
