// Command score runs leakfix on checkouts of real projects and scores its
// findings against the labelled sites in bench/labels.
//
//	go run ./bench/score -root /tmp/real -leakfix /tmp/leakfix [-rules all]
//
// The checkouts are not part of this repository: extract each project at
// the commit bench/labels/repos.tsv names into root/dir (git archive) and
// download its modules first. For each project it prints the findings, how
// many leakfix fixes, the others by reason, and, against the labels, how
// many findings are leaks, debatable, safe or unlabelled; then precision
// (leaks over labelled findings, and over findings labelled leak or safe)
// and recall (labelled leaks found over labelled leaks).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

type repo struct{ name, commit, dir, pkgs string }

type site struct {
	repo, file, rule, label, reason string
	line                            int
}

type finding struct {
	Rule     string `json:"rule"`
	Message  string `json:"message"`
	Position struct {
		File string `json:"file"`
		Line int    `json:"line"`
	} `json:"position"`
	Fixable bool   `json:"fixable"`
	Unfixed string `json:"unfixed"`
}

func main() {
	root := flag.String("root", "/tmp/real", "directory holding the extracted checkouts")
	bin := flag.String("leakfix", "leakfix", "the leakfix binary to score")
	labels := flag.String("labels", "bench/labels", "directory of repos.tsv and sites.tsv")
	rules := flag.String("rules", "", "passed to leakfix --rules (empty: the default rules)")
	only := flag.String("repos", "", "comma-separated project names to run (default all)")
	verbose := flag.Bool("v", false, "print every finding with its label")
	flag.Parse()

	repos := readRepos(filepath.Join(*labels, "repos.tsv"))
	sites := readSites(filepath.Join(*labels, "sites.tsv"))
	var total struct{ findings, fixed, leak, debatable, safe, unlabelled, leaks, found int }
	fmt.Printf("%-14s %8s %5s %4s %4s %4s %4s  %s\n", "repo", "findings", "fixed", "LEAK", "DEB", "SAFE", "?", "not fixed, by reason")
	for _, r := range repos {
		if *only != "" && !contains(strings.Split(*only, ","), r.name) {
			continue
		}
		dir := filepath.Join(*root, r.dir)
		if _, err := os.Stat(dir); err != nil {
			fmt.Printf("%-14s (no checkout at %s)\n", r.name, dir)
			continue
		}
		fs, err := run(*bin, dir, r.pkgs, *rules)
		if err != nil {
			fmt.Printf("%-14s error: %v\n", r.name, err)
			continue
		}
		reasons := map[string]int{}
		var fixed, leak, deb, safe, unl int
		matched := map[*site]bool{}
		for _, f := range fs {
			if f.Fixable {
				fixed++
			} else {
				reasons[f.Unfixed]++
			}
			s := match(sites, r.name, f)
			label := "?"
			if s != nil {
				matched[s] = true
				label = s.label
			}
			switch label {
			case "LEAK":
				leak++
			case "DEBATABLE":
				deb++
			case "SAFE":
				safe++
			default:
				unl++
			}
			if *verbose {
				fix := "fixed"
				if !f.Fixable {
					fix = "not fixed: " + f.Unfixed
				}
				fmt.Printf("    %-9s %s:%d %s: %s (%s)\n", label, f.Position.File, f.Position.Line, f.Rule, f.Message, fix)
			}
		}
		leaks, found := 0, 0
		for _, s := range sites {
			if s.repo == r.name && s.label == "LEAK" && ran(*rules, s.rule) {
				leaks++
				if matched[s] {
					found++
				}
			}
		}
		fmt.Printf("%-14s %8d %5d %4d %4d %4d %4d  %s\n", r.name, len(fs), fixed, leak, deb, safe, unl, byReason(reasons))
		total.findings += len(fs)
		total.fixed += fixed
		total.leak += leak
		total.debatable += deb
		total.safe += safe
		total.unlabelled += unl
		total.leaks += leaks
		total.found += found
	}
	fmt.Printf("%-14s %8d %5d %4d %4d %4d %4d\n", "total", total.findings, total.fixed, total.leak, total.debatable, total.safe, total.unlabelled)
	labelled := total.leak + total.debatable + total.safe
	fmt.Printf("precision: %s of labelled findings are leaks; %s of those labelled leak or safe\n",
		ratio(total.leak, labelled), ratio(total.leak, total.leak+total.safe))
	fmt.Printf("recall: %s of labelled leaks found\n", ratio(total.found, total.leaks))
}

// ran reports whether the rule a site is labelled under runs with the
// --rules value given: the default rules, all of them, or those named.
func ran(rules, rule string) bool {
	switch names := strings.Split(rules, ","); {
	case rules == "":
		return rule != "global-hook" // the one opt-in rule
	case contains(names, "all"), contains(names, rule):
		return !contains(names, "-"+rule)
	}
	return false
}

func ratio(a, b int) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d/%d = %.0f%%", a, b, 100*float64(a)/float64(b))
}

// byReason lists the reasons findings are not fixed, most frequent first.
func byReason(reasons map[string]int) string {
	var keys []string
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if reasons[keys[i]] != reasons[keys[j]] {
			return reasons[keys[i]] > reasons[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		short := k
		if len(short) > 70 {
			short = short[:70] + "…"
		}
		parts = append(parts, fmt.Sprintf("%d× %s", reasons[k], short))
	}
	return strings.Join(parts, "; ")
}

// match returns the labelled site a finding is at: same project, file,
// rule and line.
func match(sites []*site, name string, f finding) *site {
	for _, s := range sites {
		if s.repo == name && s.file == filepath.ToSlash(f.Position.File) && s.rule == f.Rule && s.line == f.Position.Line {
			return s
		}
	}
	return nil
}

// run runs leakfix check in dir and returns its findings. Packages that do
// not load (generated files missing, a nested module's absent submodule)
// are errors leakfix reports beside the findings of the others.
func run(bin, dir, pkgs, rules string) ([]finding, error) {
	args := []string{"check", "--no-cache", "--format", "json"}
	if rules != "" {
		args = append(args, "--rules", rules)
	}
	args = append(args, strings.Fields(pkgs)...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() > 2) {
		return nil, err
	}
	var doc struct {
		Findings []finding `json:"findings"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("reading leakfix's report: %v", err)
	}
	return doc.Findings, nil
}

func readRepos(path string) []repo {
	var out []repo
	for _, f := range readTSV(path) {
		if len(f) != 4 {
			fail("%s: want 4 columns: %q", path, f)
		}
		out = append(out, repo{f[0], f[1], f[2], f[3]})
	}
	return out
}

func readSites(path string) []*site {
	var out []*site
	for _, f := range readTSV(path) {
		if len(f) != 7 {
			fail("%s: want 7 columns: %q", path, f)
		}
		var line int
		fmt.Sscan(f[3], &line)
		out = append(out, &site{repo: f[0], file: f[2], line: line, rule: f[4], label: f[5], reason: f[6]})
	}
	return out
}

func readTSV(path string) [][]string {
	file, err := os.Open(path)
	if err != nil {
		fail("%v", err)
	}
	defer file.Close()
	var out [][]string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Split(line, "\t"))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "score: "+format+"\n", args...)
	os.Exit(2)
}
