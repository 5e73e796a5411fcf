#!/bin/sh
# @@TITLE@@
#
# A self-extracting executable (written by release/build.ts): this POSIX sh
# header, then a tar.gz payload from byte @@PAYLOAD_OFFSET@@ + 1 on (release/layout.ts:
# Deno, the bundled server, the dashboard, the agent, the migrations). The first
# run unpacks the payload into a directory per build under the cache
# ($DROVER_CACHE_DIR, else $XDG_CACHE_HOME/drover, else $HOME/.cache/drover);
# every run then execs the unpacked Deno on the bundle with the arguments.
set -eu

build_id='@@BUILD_ID@@'
payload_offset=@@PAYLOAD_OFFSET@@

fail() {
  printf 'drover: %s\n' "$*" >&2
  exit 1
}

[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] ||
  fail "this executable is for Linux x86_64, not $(uname -s) $(uname -m)"

if [ -n "${DROVER_CACHE_DIR:-}" ]; then
  cache=$DROVER_CACHE_DIR
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
  cache=$XDG_CACHE_HOME/drover
elif [ -n "${HOME:-}" ]; then
  cache=$HOME/.cache/drover
else
  fail "nowhere to unpack: set DROVER_CACHE_DIR (or XDG_CACHE_HOME or HOME)"
fi
dir=$cache/$build_id

if [ ! -d "$dir" ]; then
  mkdir -p "$cache" || fail "cannot create $cache, where this executable unpacks (set DROVER_CACHE_DIR)"
  # Unpack beside the final place, then rename it there in one step: no run ever sees a half-unpacked
  # directory, and of two runs unpacking at once one rename wins and the other drops its own copy.
  tmp=$(mktemp -d "$cache/.$build_id.XXXXXX") || fail "cannot create a directory in $cache"
  trap 'rm -rf "$tmp"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  tail -c +$((payload_offset + 1)) "$0" | tar -xzf - -C "$tmp" || fail "cannot unpack $0 into $tmp"
  # mv -T renames onto the name itself, never into a directory already there (it fails when one is).
  mv -T "$tmp" "$dir" 2>/dev/null || [ -d "$dir" ] || fail "cannot rename $tmp to $dir"
  rm -rf "$tmp"
  trap - EXIT INT TERM
fi
[ -x "$dir/bin/deno" ] && [ -f "$dir/server/drover.js" ] || fail "$dir is incomplete: remove it and run again"

# Deno's own caches (its code cache) stay with this build, apart from any other Deno's.
DENO_DIR=$dir/deno-dir
DENO_NO_UPDATE_CHECK=1
export DENO_DIR DENO_NO_UPDATE_CHECK
# No config, lock file, npm or remote modules: the bundle imports only node: built-ins, so nothing is fetched.
exec "$dir/bin/deno" run --no-config --no-lock --no-npm --no-remote --no-prompt @@DENO_FLAGS@@ \
  "$dir/server/drover.js" "$@"
