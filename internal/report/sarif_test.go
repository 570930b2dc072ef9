package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/engine"
)

// sarifSchema is the part of the SARIF 2.1.0 JSON schema (OASIS,
// sarif-schema-2.1.0.json) that covers every object leakfix writes: for
// each definition, its required properties and the type of each property
// it allows. Every one of these definitions has additionalProperties:
// false, so a property not listed is an error. Types: "string", "bool",
// "int>=1", "int>=-1", "uri" (absolute), "uri-reference", "level" (the
// enum none, note, warning, error), "2.1.0" (the version enum), "#def" (an
// object of that definition), "[]#def" and "[1]#def" (an array, the
// latter with minItems 1), "{}string" and "{}#def" (an object whose every
// value has that type).
var sarifSchema = map[string]struct {
	required []string
	props    map[string]string
}{
	"root": {[]string{"version", "runs"}, map[string]string{
		"$schema": "uri", "version": "2.1.0", "runs": "[]#run", "inlineExternalProperties": "-", "properties": "-"}},
	"run": {[]string{"tool"}, map[string]string{
		"tool": "#tool", "results": "[]#result", "invocations": "[]#invocation", "originalUriBaseIds": "{}#artifactLocation",
		"addresses": "-", "artifacts": "-", "automationDetails": "-", "baselineGuid": "-", "columnKind": "-", "conversion": "-",
		"defaultEncoding": "-", "defaultSourceLanguage": "-", "externalPropertyFileReferences": "-", "graphs": "-", "language": "-",
		"logicalLocations": "-", "newlineSequences": "-", "policies": "-", "properties": "-", "redactionTokens": "-",
		"runAggregates": "-", "specialLocations": "-", "taxonomies": "-", "threadFlowLocations": "-", "translations": "-",
		"versionControlProvenance": "-", "webRequests": "-", "webResponses": "-"}},
	"tool":          {[]string{"driver"}, map[string]string{"driver": "#toolComponent", "extensions": "-", "properties": "-"}},
	"toolComponent": {[]string{"name"}, map[string]string{"name": "string", "version": "string", "informationUri": "uri", "rules": "[]#reportingDescriptor", "associatedComponent": "-", "contents": "-", "dottedQuadFileVersion": "-", "downloadUri": "-", "fullDescription": "-", "fullName": "-", "globalMessageStrings": "-", "guid": "-", "isComprehensive": "-", "language": "-", "localizedDataSemanticVersion": "-", "locations": "-", "minimumRequiredLocalizedDataSemanticVersion": "-", "notifications": "-", "organization": "-", "product": "-", "productSuite": "-", "properties": "-", "releaseDateUtc": "-", "semanticVersion": "-", "shortDescription": "-", "supportedTaxonomies": "-", "taxa": "-", "translationMetadata": "-"}},
	"reportingDescriptor": {[]string{"id"}, map[string]string{
		"id": "string", "shortDescription": "#multiformatMessageString", "fullDescription": "#multiformatMessageString",
		"help": "#multiformatMessageString", "helpUri": "uri", "defaultConfiguration": "#reportingConfiguration",
		"deprecatedGuids": "-", "deprecatedIds": "-", "deprecatedNames": "-", "guid": "-", "messageStrings": "-", "name": "-", "properties": "-", "relationships": "-"}},
	"reportingConfiguration":   {nil, map[string]string{"level": "level", "enabled": "-", "parameters": "-", "properties": "-", "rank": "-"}},
	"multiformatMessageString": {[]string{"text"}, map[string]string{"text": "string", "markdown": "string", "properties": "-"}},
	"message":                  {nil, map[string]string{"text": "string", "markdown": "string", "arguments": "-", "id": "-", "properties": "-"}},
	"result": {[]string{"message"}, map[string]string{
		"ruleId": "string", "ruleIndex": "int>=-1", "level": "level", "message": "#message", "locations": "[]#location",
		"relatedLocations": "[]#location", "partialFingerprints": "{}string", "fixes": "[]#fix",
		"analysisTarget": "-", "attachments": "-", "baselineState": "-", "codeFlows": "-", "correlationGuid": "-", "fingerprints": "-",
		"graphTraversals": "-", "graphs": "-", "guid": "-", "hostedViewerUri": "-", "kind": "-", "occurrenceCount": "-", "properties": "-",
		"provenance": "-", "rank": "-", "rule": "-", "stacks": "-", "suppressions": "-", "taxa": "-", "webRequest": "-", "webResponse": "-", "workItemUris": "-"}},
	"location": {nil, map[string]string{"id": "int>=-1", "physicalLocation": "#physicalLocation", "message": "#message",
		"annotations": "-", "logicalLocations": "-", "properties": "-", "relationships": "-"}},
	"physicalLocation": {nil, map[string]string{"artifactLocation": "#artifactLocation", "region": "#region", "address": "-", "contextRegion": "-", "properties": "-"}},
	"artifactLocation": {nil, map[string]string{"uri": "uri-reference", "uriBaseId": "string", "description": "-", "index": "-", "properties": "-"}},
	"region": {nil, map[string]string{"startLine": "int>=1", "startColumn": "int>=1", "endLine": "int>=1", "endColumn": "int>=1",
		"byteLength": "-", "byteOffset": "-", "charLength": "-", "charOffset": "-", "message": "-", "properties": "-", "snippet": "-", "sourceLanguage": "-"}},
	"fix":             {[]string{"artifactChanges"}, map[string]string{"description": "#message", "artifactChanges": "[1]#artifactChange", "properties": "-"}},
	"artifactChange":  {[]string{"artifactLocation", "replacements"}, map[string]string{"artifactLocation": "#artifactLocation", "replacements": "[1]#replacement", "properties": "-"}},
	"replacement":     {[]string{"deletedRegion"}, map[string]string{"deletedRegion": "#region", "insertedContent": "#artifactContent", "properties": "-"}},
	"artifactContent": {nil, map[string]string{"text": "string", "binary": "-", "rendered": "-", "properties": "-"}},
	"invocation": {[]string{"executionSuccessful"}, map[string]string{"executionSuccessful": "bool", "toolExecutionNotifications": "[]#notification",
		"account": "-", "arguments": "-", "commandLine": "-", "endTimeUtc": "-", "environmentVariables": "-", "executableLocation": "-",
		"exitCode": "-", "exitCodeDescription": "-", "exitSignalName": "-", "exitSignalNumber": "-", "machine": "-",
		"notificationConfigurationOverrides": "-", "processId": "-", "processStartFailureMessage": "-", "properties": "-",
		"responseFiles": "-", "ruleConfigurationOverrides": "-", "startTimeUtc": "-", "stderr": "-", "stdin": "-", "stdout": "-",
		"stdoutStderr": "-", "toolConfigurationNotifications": "-", "workingDirectory": "-"}},
	"notification": {[]string{"message"}, map[string]string{"message": "#message", "level": "level",
		"locations": "[]#location", "associatedRule": "-", "descriptor": "-", "exception": "-", "properties": "-", "threadId": "-", "timeUtc": "-"}},
}

// validateSARIF checks v against sarifSchema. Properties typed "-" are
// allowed by the schema but leakfix never writes them, so meeting one is
// an error too: the table does not know their types.
func validateSARIF(v any, typ, at string) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{at}, args...)...))
	}
	switch {
	case typ == "-":
		fail("a property this check does not know")
	case typ == "string" || typ == "2.1.0" || typ == "level" || typ == "uri" || typ == "uri-reference":
		s, ok := v.(string)
		if !ok {
			fail("%v is not a string", v)
			break
		}
		switch typ {
		case "2.1.0":
			if s != "2.1.0" {
				fail("version %q, want 2.1.0", s)
			}
		case "level":
			if s != "none" && s != "note" && s != "warning" && s != "error" {
				fail("level %q not in none, note, warning, error", s)
			}
		case "uri":
			if u, err := url.Parse(s); err != nil || !u.IsAbs() {
				fail("%q is not an absolute URI", s)
			}
		case "uri-reference":
			if _, err := url.Parse(s); err != nil {
				fail("%q is not a URI reference: %v", s, err)
			}
		}
	case typ == "bool":
		if _, ok := v.(bool); !ok {
			fail("%v is not a boolean", v)
		}
	case strings.HasPrefix(typ, "int"):
		n, ok := v.(float64)
		min := map[string]float64{"int>=1": 1, "int>=-1": -1}[typ]
		if !ok || n != float64(int(n)) || n < min {
			fail("%v is not an integer >= %v", v, min)
		}
	case strings.HasPrefix(typ, "[]") || strings.HasPrefix(typ, "[1]"):
		items, ok := v.([]any)
		if !ok {
			fail("%v is not an array", v)
			break
		}
		if strings.HasPrefix(typ, "[1]") && len(items) == 0 {
			fail("empty array, want at least one item")
		}
		elem := typ[strings.Index(typ, "]")+1:]
		for i, item := range items {
			errs = append(errs, validateSARIF(item, elem, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case strings.HasPrefix(typ, "{}"):
		m, ok := v.(map[string]any)
		if !ok {
			fail("%v is not an object", v)
			break
		}
		for k, item := range m {
			errs = append(errs, validateSARIF(item, typ[2:], at+"."+k)...)
		}
	case strings.HasPrefix(typ, "#"):
		def, ok := sarifSchema[typ[1:]]
		if !ok {
			fail("no definition %s in the table", typ)
			break
		}
		m, ok := v.(map[string]any)
		if !ok {
			fail("%v is not an object", v)
			break
		}
		for _, r := range def.required {
			if _, ok := m[r]; !ok {
				fail("missing required property %s", r)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			pt, ok := def.props[k]
			if !ok {
				fail("property %s not allowed in %s", k, typ[1:])
				continue
			}
			errs = append(errs, validateSARIF(m[k], pt, at+"."+k)...)
		}
	default:
		fail("bad type %q in the table", typ)
	}
	return errs
}

// checkSARIFLinks checks what the schema cannot say but consumers rely on:
// ruleIndex points at the rule named by ruleId, each uriBaseId is defined
// as an absolute directory URI, artifact URIs are relative, and regions do
// not end before they start.
func checkSARIFLinks(log map[string]any) []error {
	var errs []error
	for ri, r := range log["runs"].([]any) {
		run := r.(map[string]any)
		bases := map[string]bool{}
		for id, loc := range run["originalUriBaseIds"].(map[string]any) {
			uri := loc.(map[string]any)["uri"].(string)
			if u, err := url.Parse(uri); err != nil || !u.IsAbs() || !strings.HasSuffix(uri, "/") {
				errs = append(errs, fmt.Errorf("run %d: base %s is %q, want an absolute URI ending in /", ri, id, uri))
			}
			bases[id] = true
		}
		var ids []string
		for _, rule := range run["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any) {
			ids = append(ids, rule.(map[string]any)["id"].(string))
		}
		var walk func(v any, at string)
		walk = func(v any, at string) {
			switch v := v.(type) {
			case map[string]any:
				if base, ok := v["uriBaseId"].(string); ok && !bases[base] {
					errs = append(errs, fmt.Errorf("%s: uriBaseId %s not defined", at, base))
				}
				if uri, ok := v["uri"].(string); ok && v["uriBaseId"] != nil {
					if u, _ := url.Parse(uri); u == nil || u.IsAbs() || strings.HasPrefix(uri, "/") {
						errs = append(errs, fmt.Errorf("%s: %q is not a relative path", at, uri))
					}
				}
				if sl, ok := v["startLine"].(float64); ok {
					if el, ok := v["endLine"].(float64); ok && (el < sl || el == sl && v["endColumn"].(float64) < v["startColumn"].(float64)) {
						errs = append(errs, fmt.Errorf("%s: region ends before it starts", at))
					}
				}
				for k, x := range v {
					walk(x, at+"."+k)
				}
			case []any:
				for i, x := range v {
					walk(x, fmt.Sprintf("%s[%d]", at, i))
				}
			}
		}
		walk(run, fmt.Sprintf("runs[%d]", ri))
		for i, r := range run["results"].([]any) {
			res := r.(map[string]any)
			idx := int(res["ruleIndex"].(float64))
			if idx < 0 || idx >= len(ids) || ids[idx] != res["ruleId"] {
				errs = append(errs, fmt.Errorf("results[%d]: ruleIndex %d does not name rule %v", i, idx, res["ruleId"]))
			}
		}
	}
	return errs
}

// TestSARIFStructure checks leakfix's SARIF against the structure the
// SARIF 2.1.0 schema requires, on the sample (findings with and without a
// fix, related locations, an input error) and on an empty run.
func TestSARIFStructure(t *testing.T) {
	dir, findings := sample(t)
	for name, in := range map[string]*Input{
		"sample": {Dir: dir, Findings: findings, Errors: []error{errors.New("broken/b.go:3:9: expected ')'"), &engine.PosError{Path: filepath.Join(dir, "p", "p.go"), Line: 3, Msg: "bad"}}},
		"empty":  {Dir: dir},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := SARIF(&buf, in); err != nil {
				t.Fatal(err)
			}
			var log map[string]any
			if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
				t.Fatal(err)
			}
			errs := validateSARIF(log, "#root", "$")
			if len(errs) == 0 {
				errs = checkSARIFLinks(log)
			}
			for _, err := range errs {
				t.Error(err)
			}
			if name == "sample" && !strings.Contains(buf.String(), `"artifactChanges"`) {
				t.Error("the sample's SARIF has no fix")
			}
		})
	}
}

// TestSARIFErrorLocations checks where SARIF places input errors: on the
// line and column of a file below the run's directory, on the file alone
// when no line is known, and nowhere for a directory, a file outside the
// directory, a file that is not there, or an error with no place.
func TestSARIFErrorLocations(t *testing.T) {
	dir, _ := sample(t)
	file := filepath.Join(dir, "p", "p.go")
	for _, tt := range []struct {
		err  error
		want string // the notification's location, as uri:line:column
	}{
		{&engine.PosError{Path: file, Line: 3, Col: 9, Msg: "m"}, "p/p.go:3:9"},
		{&engine.PosError{Path: file, Line: 3, Msg: "m"}, "p/p.go:3:0"},
		{&engine.PosError{Path: file, Msg: "m"}, "p/p.go"},
		{&engine.PosError{Path: filepath.Join(dir, "p"), Msg: "m"}, ""},
		{&engine.PosError{Path: filepath.Join(dir, "p", "gone.go"), Line: 1, Msg: "m"}, ""},
		{&engine.PosError{Path: filepath.Join(filepath.Dir(dir), "elsewhere.go"), Line: 1, Msg: "m"}, ""},
		{&engine.PosError{Path: "example.com/p", Msg: "m"}, ""},
		{errors.New("p/p.go:3:9: m"), ""},
	} {
		var buf bytes.Buffer
		if err := SARIF(&buf, &Input{Dir: dir, Errors: []error{tt.err}}); err != nil {
			t.Fatal(err)
		}
		var log struct {
			Runs []struct {
				Invocations []struct {
					ToolExecutionNotifications []struct {
						Locations []struct {
							PhysicalLocation struct {
								ArtifactLocation struct{ URI string }
								Region           *struct{ StartLine, StartColumn int }
							}
						}
					}
				}
			}
		}
		if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, l := range log.Runs[0].Invocations[0].ToolExecutionNotifications[0].Locations {
			got = l.PhysicalLocation.ArtifactLocation.URI
			if r := l.PhysicalLocation.Region; r != nil {
				got += fmt.Sprintf(":%d:%d", r.StartLine, r.StartColumn)
			}
		}
		if got != tt.want {
			t.Errorf("%v: located at %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestSARIFCheckFails makes sure the check above can fail: each broken
// log must be rejected.
func TestSARIFCheckFails(t *testing.T) {
	dir, findings := sample(t)
	var buf bytes.Buffer
	if err := SARIF(&buf, &Input{Dir: dir, Findings: findings}); err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(log map[string]any){
		"no driver name": func(l map[string]any) { delete(driver(l), "name") },
		"bad level":      func(l map[string]any) { result(l)["level"] = "severe" },
		"unknown field":  func(l map[string]any) { result(l)["severity"] = "high" },
		"empty changes":  func(l map[string]any) { result(l)["fixes"].([]any)[0].(map[string]any)["artifactChanges"] = []any{} },
		"line 0":         func(l map[string]any) { location(l)["region"].(map[string]any)["startLine"] = 0.0 },
		"relative help":  func(l map[string]any) { driver(l)["rules"].([]any)[0].(map[string]any)["helpUri"] = "README.md" },
		"bad ruleIndex":  func(l map[string]any) { result(l)["ruleIndex"] = 3.0 },
		"undefined base": func(l map[string]any) { location(l)["artifactLocation"].(map[string]any)["uriBaseId"] = "%OTHER%" },
	} {
		var log map[string]any
		if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
			t.Fatal(err)
		}
		breakIt(log)
		if errs := append(validateSARIF(log, "#root", "$"), checkSARIFLinks(log)...); len(errs) == 0 {
			t.Errorf("%s: the broken log passed the check", name)
		}
	}
}

func run0(l map[string]any) map[string]any { return l["runs"].([]any)[0].(map[string]any) }
func driver(l map[string]any) map[string]any {
	return run0(l)["tool"].(map[string]any)["driver"].(map[string]any)
}
func result(l map[string]any) map[string]any { return run0(l)["results"].([]any)[0].(map[string]any) }
func location(l map[string]any) map[string]any {
	return result(l)["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
}
