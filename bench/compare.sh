#!/usr/bin/env bash
# compare.sh measures leakfix against the floor of a from-source type-check, a
# bare typed load, staticcheck and go vet on the same packages, in one run,
# alternating the tools so that a busy machine slows them all alike. It prints,
# per tool, the median wall time and the median peak memory (what
# /usr/bin/time -v prints as "Maximum resident set size") and their ratios to
# the floor, then how many times faster check is than staticcheck and go vet.
#
#   bench/compare.sh [-c] [-n runs] [-s runs] [-v runs] [-C dir] [-b leakfix-binary] [packages]
#
#   -c           cold: every command runs with an empty build cache (a GOCACHE of
#                its own), as on a fresh CI runner; the module cache must be
#                filled beforehand (go mod download)
#   -n runs      runs of each tool (default 3); medians need at least 3
#   -s runs      runs of staticcheck (default: the same as -n; 0 leaves it out,
#                it takes minutes on std with an empty analysis or build cache)
#   -v runs      runs of go vet (default: the same as -s)
#   -C dir       where the packages are resolved (default: the current directory)
#   -b binary    the leakfix binary to measure (default: built from this checkout)
#   packages     go list patterns (default ./...)
#
# Tools, each on the same packages:
#   floor            bench/srccheck: go list -deps -json (nothing compiled), parse every
#                    file, go/types in parallel along the import graph, the packages
#                    with their function bodies and their dependencies without
#   typedload        go/packages with NeedSyntax|NeedTypes|NeedTypesInfo, nothing else
#                    (its dependencies' types come from export data, which compiles them)
#   check            leakfix check (the syntactic pass, then types from source for the
#                    packages it keeps), from an empty result cache
#   check-cached     leakfix check again, unchanged, with the result cache the check run
#                    filled (and, cold, the build cache it left)
#   diff             leakfix diff (as check, then types for the packages to fix and their
#                    importers), from an empty result cache
#   staticcheck      staticcheck -checks SA1015 (honnef.co/go/tools v0.8.2) with an empty
#                    analysis cache
#   vet              go vet -lostcancel
#
# Without -c every run uses a warm build cache: one unmeasured typed load comes
# first.
set -euo pipefail

runs=3
scruns=
vetruns=
dir=.
leakfix=
cold=
while getopts "cn:s:v:C:b:" opt; do
	case $opt in
	c) cold=1 ;;
	n) runs=$OPTARG ;;
	s) scruns=$OPTARG ;;
	v) vetruns=$OPTARG ;;
	C) dir=$OPTARG ;;
	b) leakfix=$OPTARG ;;
	*) sed -n '2,/^set -/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
scruns=${scruns:-$runs}
vetruns=${vetruns:-$scruns}
[ $# -gt 0 ] || set -- ./...
[ -x /usr/bin/time ] || { echo "compare.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$repo" && go build -o "$tmp/typedload" ./bench/typedload && go build -o "$tmp/srccheck" ./bench/srccheck)
if [ -z "$leakfix" ]; then
	(cd "$repo" && go build -o "$tmp/leakfix" ./cmd/leakfix)
	leakfix=$tmp/leakfix
fi
staticcheck=
if [ "$scruns" -gt 0 ]; then
	GOBIN=$tmp/bin go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	staticcheck=$tmp/bin/staticcheck
fi

cd "$dir"
gocache=$(go env GOCACHE)
npkgs=$(go list -e "$@" | wc -l)
echo "packages: $* in $(pwd): $npkgs packages, $(nproc) cores, $(go version | cut -d' ' -f3), ${cold:+cold}${cold:-warm} build cache"
[ -n "$cold" ] || "$tmp/typedload" "$@" >/dev/null 2>&1 || true # warm the build cache

# measure NAME CMD... runs CMD under /usr/bin/time and appends "seconds KB" to
# $tmp/NAME. leakfix, staticcheck and go vet exit 1 (vet: 1 or 2) when they
# report something. Cold, the command gets an empty build cache, which
# $tmp/gc.NAME keeps for a command that wants to reuse it.
measure() {
	local name=$1
	shift
	local cache=$gocache
	if [ -n "$cold" ]; then
		rm -rf "$tmp/gc.$name"
		cache=$tmp/gc.$name
	fi
	GOCACHE=$cache /usr/bin/time -f '%e %M' -o "$tmp/last" "$@" >"$tmp/out.$name" 2>"$tmp/err.$name" || {
		local rc=$?
		if [ $rc -gt 2 ] || { [ $rc -eq 2 ] && [ "$name" != vet ]; }; then
			echo "compare.sh: $name exited $rc:" >&2
			tail -5 "$tmp/err.$name" >&2
		fi
	}
	tail -1 "$tmp/last" >>"$tmp/data.$name"
}

for i in $(seq "$runs"); do
	measure floor "$tmp/srccheck" "$@"
	measure typedload "$tmp/typedload" "$@"
	LEAKFIX_CACHE=$tmp/lc.check measure check "$leakfix" check "$@"
	if [ -n "$cold" ]; then
		# Again, with the build cache the first run left.
		LEAKFIX_CACHE=$tmp/lc.check GOCACHE=$tmp/gc.check /usr/bin/time -f '%e %M' -o "$tmp/last" \
			"$leakfix" check "$@" >"$tmp/out.check-cached" 2>"$tmp/err.check-cached" || true
		tail -1 "$tmp/last" >>"$tmp/data.check-cached"
	else
		LEAKFIX_CACHE=$tmp/lc.check measure check-cached "$leakfix" check "$@"
	fi
	LEAKFIX_CACHE=$tmp/lc.diff measure diff "$leakfix" diff "$@"
	rm -rf "$tmp/lc.check" "$tmp/lc.diff"
	if [ "$i" -le "$scruns" ]; then
		# A fresh analysis cache; XDG_CACHE_HOME would otherwise move GOCACHE too.
		XDG_CACHE_HOME=$tmp/xdg STATICCHECK_CACHE=$tmp/sc measure staticcheck "$staticcheck" -checks SA1015 "$@"
		rm -rf "$tmp/xdg" "$tmp/sc"
	fi
	if [ "$i" -le "$vetruns" ]; then
		measure vet go vet -lostcancel "$@"
	fi
	rm -rf "$tmp"/gc.*
done

# median FILE COLUMN prints the median of a column.
median() {
	sort -g -k"$2" "$1" | awk -v c="$2" '{v[NR] = $c} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

base_s=$(median "$tmp/data.floor" 1)
base_kb=$(median "$tmp/data.floor" 2)
check_s=$(median "$tmp/data.check" 1)
printf '\n%-13s %4s %9s %9s %9s %9s   %s\n' tool runs "median s" "peak MB" "time x" "mem x" "all runs (s)"
for name in floor typedload check check-cached diff staticcheck vet; do
	[ -s "$tmp/data.$name" ] || continue
	s=$(median "$tmp/data.$name" 1)
	kb=$(median "$tmp/data.$name" 2)
	all=$(awk '{printf "%s ", $1}' "$tmp/data.$name")
	awk -v n="$name" -v r="$(wc -l <"$tmp/data.$name")" -v s="$s" -v kb="$kb" -v bs="$base_s" -v bkb="$base_kb" -v all="$all" \
		'BEGIN {printf "%-13s %4d %9.2f %9.0f %9.2f %9.2f   %s\n", n, r, s, kb / 1024, s / bs, kb / bkb, all}'
done
awk -v c="$check_s" -v d="$(median "$tmp/data.diff" 1)" -v cc="$(median "$tmp/data.check-cached" 1)" -v n="$npkgs" 'BEGIN {
	printf "\ndiff / check: %.2f   check-cached / check: %.2f   check ms per package: %.2f\n", d / c, cc / c, 1000 * c / n
}'
for name in staticcheck vet; do
	[ -s "$tmp/data.$name" ] || continue
	awk -v n="$name" -v c="$check_s" -v o="$(median "$tmp/data.$name" 1)" 'BEGIN {printf "check is %.1fx faster than %s\n", o / c, n}'
done
echo "findings: $(grep -c . "$tmp/out.check" || true) (check), $(grep -c . "$tmp/out.check-cached" || true) (check-cached), stderr of the last check: $(wc -l <"$tmp/err.check") lines"
cmp -s "$tmp/out.check" "$tmp/out.check-cached" || echo "compare.sh: check and check-cached reported differently" >&2
