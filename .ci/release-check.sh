#!/usr/bin/env bash
# Checks the release without publishing anything:
#   1. goreleaser check: .goreleaser.yaml is valid;
#   2. goreleaser release --snapshot: every archive and package of a release
#      (linux amd64 and arm64, cgo, static, version ldflags; .deb and .rpm)
#      builds on a release machine (see .goreleaser.yaml for what it needs);
#   3. the amd64 binary records an event in a new SQLite store and lists it
#      again (which only a cgo build of the SQLite store can do) and reports
#      the snapshot version set by the ldflags;
#   4. the .deb passes lintian with no error or warning (where lintian is
#      installed), installs with dpkg (as root), puts the command, its man
#      pages, completions and units where they belong, and removes cleanly.
# RELEASE_CHECK_QUICK=1 builds this platform's binary only (steps 1 and 3).
# GoReleaser is installed with `go install` when it is missing (a few
# minutes on a cold module cache). Run it with: make release-check
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:$(go env GOPATH)/bin"
# v2.16.0 is the newest GoReleaser that builds with Go 1.26 (v2.18 needs Go
# 1.27; v2.17.0 depends on a module the proxy does not serve).
GORELEASER_VERSION="${GORELEASER_VERSION:-v2.16.0}"
if ! command -v goreleaser >/dev/null 2>&1; then
	echo "release-check: installing goreleaser $GORELEASER_VERSION"
	go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
fi
goreleaser --version | grep -E '^GitVersion' || true

goreleaser check
if [ -z "${RELEASE_CHECK_QUICK:-}" ] && ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
	echo "!!! release-check: no aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu): only this platform's binary is checked, the full snapshot release is SKIPPED !!!" >&2
	RELEASE_CHECK_QUICK=1
fi
if [ -n "${RELEASE_CHECK_QUICK:-}" ]; then
	goreleaser build --snapshot --clean --single-target
else
	goreleaser release --snapshot --clean --skip=publish,sign
fi

bin=$(find dist -type f -name audit -perm -u+x -path '*amd64*' | head -n 1)
[ -n "$bin" ] || bin=$(find dist -type f -name audit -perm -u+x | head -n 1)
if [ -z "$bin" ]; then
	echo "release-check: goreleaser built no audit binary under dist/" >&2
	exit 1
fi
echo "release-check: testing $bin"
"$bin" version
if "$bin" version | grep -q 'version dev'; then
	echo "release-check: the version ldflags were not applied" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export AUDIT_STORE="$tmp/audit.db" XDG_CONFIG_HOME="$tmp/config" NO_COLOR=1
"$bin" record --user jdavis --user-name "John Davis" --type update --action Updated \
	--resource-type server --resource bbb-node-1 \
	--details "Changed load_multiplier from 1.0 to 1.5" --ip 192.168.1.100
out=$("$bin" list -o jsonl)
echo "$out"
case "$out" in
*'"resource":"bbb-node-1"'*) ;;
*)
	echo "release-check: the recorded event was not listed" >&2
	exit 1
	;;
esac
"$bin" completion bash | grep -q '__start_audit'
[ -n "${RELEASE_CHECK_QUICK:-}" ] && { echo "release-check: ok (quick)"; exit 0; }

deb=$(ls dist/*_amd64.deb 2>/dev/null | head -n 1)
rpm=$(ls dist/*.x86_64.rpm 2>/dev/null | head -n 1)
arm=$(find dist -type f -name audit -path '*arm64*' | head -n 1)
for f in "$deb" "$rpm" "$arm"; do
	[ -n "$f" ] || { echo "release-check: the snapshot lacks a package or the arm64 binary" >&2; ls dist >&2; exit 1; }
done
file "$arm" 2>/dev/null | grep -q 'aarch64' || { echo "release-check: $arm is not an arm64 binary" >&2; exit 1; }

echo "release-check: dpkg-deb --info $deb"
info=$(dpkg-deb --info "$deb")
for field in 'Package: audit-cli' 'Maintainer: audit-cli maintainers <' 'Section: admin' 'Homepage: https://'; do
	grep -q "^ $field" <<<"$info" || { echo "release-check: the .deb's control lacks \"$field\":" >&2; echo "$info" >&2; exit 1; }
done
if dpkg-deb --contents "$deb" | grep -E '/usr/share/man/man1/.*\.1$'; then
	echo "release-check: the .deb has uncompressed man pages" >&2
	exit 1
fi

if command -v lintian >/dev/null 2>&1; then
	echo "release-check: lintian $deb"
	lintian --fail-on error,warning "$deb"
else
	echo "!!! release-check: lintian is not installed: the .deb was NOT checked (apt-get install lintian) !!!" >&2
fi

if [ "$(id -u)" = 0 ] && command -v dpkg >/dev/null 2>&1; then
	echo "release-check: installing $deb"
	dpkg -i "$deb" >/dev/null
	trap 'dpkg -r audit-cli >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
	/usr/bin/audit --version | grep -q "$("$bin" version | head -n 1 | awk '{print $3}')"
	for f in /usr/share/man/man1/audit.1.gz /usr/share/man/man1/audit-list.1.gz \
		/usr/share/bash-completion/completions/audit /usr/lib/systemd/system/audit-serve.service \
		/usr/share/doc/audit-cli/copyright /usr/share/doc/audit-cli/changelog.gz /etc/audit-cli/serve.env; do
		[ -e "$f" ] || { echo "release-check: the package did not install $f" >&2; exit 1; }
	done
	zcat /usr/share/man/man1/audit.1.gz | grep -q 'EXIT STATUS'
	if command -v man >/dev/null 2>&1; then
		[ "$(man -w audit)" = /usr/share/man/man1/audit.1.gz ] || { echo "release-check: man -w audit: $(man -w audit 2>&1)" >&2; exit 1; }
	fi
	bash -c 'source /usr/share/bash-completion/completions/audit && complete -p audit' | grep -q 'audit' ||
		{ echo "release-check: the installed bash completion does not complete audit" >&2; exit 1; }
	dpkg -r audit-cli >/dev/null
	[ ! -e /usr/bin/audit ] || { echo "release-check: dpkg -r left /usr/bin/audit" >&2; exit 1; }
	echo "release-check: the .deb installs and removes cleanly"
else
	echo "release-check: not root (or no dpkg): the install test was skipped" >&2
fi
echo "release-check: ok"
