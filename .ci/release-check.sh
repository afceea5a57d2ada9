#!/usr/bin/env bash
# Checks the release configuration without publishing anything:
#   1. goreleaser check: .goreleaser.yaml is valid;
#   2. goreleaser build --snapshot --single-target: the release build of this
#      machine's platform (cgo, static, version ldflags) succeeds;
#   3. the binary it produced records an event in a new SQLite store and
#      lists it again (which only a cgo build of the SQLite store can do)
#      and reports the snapshot version set by the ldflags.
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
goreleaser build --snapshot --clean --single-target

bin=$(find dist -type f -name audit -perm -u+x | head -n 1)
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
echo "release-check: ok"
