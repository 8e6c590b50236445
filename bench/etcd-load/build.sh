#!/usr/bin/env bash
# Builds bin/etcd-load (gitignored), the bench's Go load generator for etcd (main.go beside this
# script), from Debian's packaged etcd client source and Debian's Go, offline: GOPATH mode on
# /usr/share/gocode, no module proxy. What is missing is installed with apt-get (as root):
# golang-go and golang-etcd-server-dev for the build, etcd-server for the members the bench
# starts. `npm run bench -- --with-etcd` runs this when the binary is missing or older than its
# source; it can also be run by hand.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode
fail() {
  echo "bench/etcd-load/build.sh: $*" >&2
  exit 1
}

missing=()
command -v go >/dev/null || missing+=(golang-go)
[ -d "$gocode/src/go.etcd.io/etcd/clientv3" ] || missing+=(golang-etcd-server-dev)
command -v etcd >/dev/null || missing+=(etcd-server)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing ${missing[*]}; install them as root: apt-get install ${missing[*]}"
  echo "bench/etcd-load/build.sh: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed (see above)"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed (see above)"
fi

# Go needs a build cache; a CI or service environment may have no HOME.
export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/go-build}"
mkdir -p "$here/bin"
(cd "$here" && GO111MODULE=off GOPATH="$gocode" GOPROXY=off GOFLAGS= go build -o bin/etcd-load.tmp .) ||
  fail "go build failed (see above): $(go version) on $gocode/src/go.etcd.io/etcd (golang-etcd-server-dev $(dpkg-query -W -f '${Version}' golang-etcd-server-dev 2>/dev/null || echo '?'))"
mv "$here/bin/etcd-load.tmp" "$here/bin/etcd-load"
echo "bench/etcd-load/build.sh: built $here/bin/etcd-load" >&2
