#!/usr/bin/env bash
# leakfix-review.sh runs leakfix on what a pull request changed and posts each
# finding, with a suggested fix on every line it changes, through reviewdog.
# action.yml runs it on GitHub; it runs the same anywhere with
# REVIEWDOG_REPORTER=local.
#
# Environment:
#   LEAKFIX_BASE           the base revision (required); findings are new when the
#                          change since its merge base with HEAD added their lines
#   LEAKFIX_PACKAGES       packages to check (default ./...)
#   LEAKFIX_FLAGS          more leakfix flags, e.g. --tags=integration
#   REVIEWDOG_REPORTER     github-pr-review (default), github-pr-check, local, ...
#   REVIEWDOG_FILTER_MODE  nofilter (default; leakfix already keeps only new
#                          findings, and edits outside the diff then reach the
#                          review's summary), added, diff_context, file
#   REVIEWDOG_FAIL_LEVEL   none (default), any, info, warning, error
#   LEAKFIX, REVIEWDOG     the binaries (default: found on PATH)
#   GITHUB_STEP_SUMMARY    when set, the complete patch is appended to it
set -euo pipefail

: "${LEAKFIX_BASE:?set LEAKFIX_BASE to the base revision of the pull request}"
leakfix=${LEAKFIX:-leakfix}
reviewdog=${REVIEWDOG:-reviewdog}
reporter=${REVIEWDOG_REPORTER:-github-pr-review}
filter=${REVIEWDOG_FILTER_MODE:-nofilter}
fail_level=${REVIEWDOG_FAIL_LEVEL:-none}
read -r -a packages <<< "${LEAKFIX_PACKAGES:-./...}"
read -r -a flags <<< "${LEAKFIX_FLAGS:-}"

# Compare with where the branch left the base, not with the base's tip, so
# that commits landed on the base since are not taken for the branch's.
rev=$(git merge-base "$LEAKFIX_BASE" HEAD)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$leakfix" check --format=rdjsonl --new-from-rev "$rev" "${flags[@]}" "${packages[@]}" > "$out" || status=$?
if [ "$status" -gt 1 ]; then
	echo "leakfix-review: leakfix failed with exit status $status" >&2
	exit "$status"
fi

# A review comment can only suggest lines inside the pull request's diff;
# the job summary gets the whole patch.
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ "$status" = 1 ]; then
	{
		echo '### leakfix'
		echo
		echo 'The complete fix (`leakfix fix` writes it):'
		echo
		echo '```diff'
		"$leakfix" diff --new-from-rev "$rev" "${flags[@]}" "${packages[@]}" || true
		echo '```'
	} >> "$GITHUB_STEP_SUMMARY"
fi

diff_args=()
if [ "$reporter" = local ]; then
	diff_args=(-diff="git diff $rev")
fi
"$reviewdog" -f=rdjsonl -name=leakfix -reporter="$reporter" -filter-mode="$filter" -fail-level="$fail_level" "${diff_args[@]}" < "$out"
