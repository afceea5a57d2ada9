#!/usr/bin/env bash
# Prepares what the .deb and .rpm carry besides the binary, for the release
# VERSION (GoReleaser runs it before building, with {{ .Version }}):
#   build/pkg/man/*.1.gz    the man pages, compressed (gzip -9n: no name or
#                           time inside, so a release is reproducible)
#   build/pkg/changelog.gz  a Debian-format changelog entry for VERSION: the
#                           release notes (the commits since the previous
#                           tag, at most 30), dated by the commit, not the
#                           build
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: packaging/prepare.sh VERSION}
out=build/pkg
rm -rf "$out"
mkdir -p "$out/man"
for page in docs/man/*.1; do
	gzip -9n <"$page" >"$out/man/$(basename "$page").gz"
done
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
range=HEAD
if prev=$(git describe --tags --abbrev=0 HEAD^ 2>/dev/null); then
	range="$prev..HEAD"
fi
{
	printf 'audit-cli (%s) unstable; urgency=medium\n\n' "$version"
	# One item a commit subject, wrapped as Debian changelogs are.
	git log --no-merges --format=%s -n 30 "$range" 2>/dev/null | while IFS= read -r subject; do
		printf '%s\n' "$subject" | fold -s -w 72 | sed -e 's/ *$//' -e '1s/^/  * /' -e '2,$s/^/    /'
	done
	printf '  * The full release notes: https://github.com/audit-cli/audit/releases\n\n'
	printf ' -- audit-cli maintainers <audit-cli@users.noreply.github.com>  %s\n' "$date"
} | gzip -9n >"$out/changelog.gz"
