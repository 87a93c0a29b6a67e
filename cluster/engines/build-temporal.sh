#!/usr/bin/env bash
# Builds the Temporal server and its SQL schema tool once and caches them outside the repository;
# prints the directory that holds `temporal-server`, `temporal-sql-tool` and the PostgreSQL schema.
#
# The Go module proxy serves go.temporal.io/server; its go.mod asks for a newer Go than the
# machine's, so the go command fetches the 1.27.3 toolchain from the proxy (GOTOOLCHAIN).
set -euo pipefail

VERSION="${TEMPORAL_SERVER_VERSION:-1.32.2}"
CACHE="${PLANS_ENGINE_CACHE:-$HOME/.cache/execution-plans/engines}"
DIR="$CACHE/temporal-$VERSION"
if [ -x "$DIR/temporal-server" ] && [ -x "$DIR/temporal-sql-tool" ] && [ -d "$DIR/schema/postgresql" ]; then echo "$DIR"; exit 0; fi

say() { echo "[build-temporal] $*" >&2; }
export GOTOOLCHAIN="${GOTOOLCHAIN_FOR_TEMPORAL:-go1.27.3}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
WORK="$CACHE/build/temporal-$VERSION"
mkdir -p "$WORK/bin" "$DIR"
say "building go.temporal.io/server $VERSION with $GOTOOLCHAIN (about 5 minutes on 2 cores) …"
GOBIN="$WORK/bin" go install -v "go.temporal.io/server/cmd/server@v$VERSION" "go.temporal.io/server/cmd/tools/sql@v$VERSION" 2>&1 |
  awk '{ n++; if (n % 50 == 0) { printf "[build-temporal] %d packages compiled …\n", n > "/dev/stderr" } }'
MODULE="$(go env GOMODCACHE)/go.temporal.io/server@v$VERSION"
rm -rf "$DIR/schema" && mkdir -p "$DIR/schema" && cp -r "$MODULE/schema/postgresql" "$DIR/schema/" && chmod -R u+w "$DIR/schema"
cp "$WORK/bin/server" "$DIR/temporal-server.tmp" && mv "$DIR/temporal-server.tmp" "$DIR/temporal-server"
cp "$WORK/bin/sql" "$DIR/temporal-sql-tool.tmp" && mv "$DIR/temporal-sql-tool.tmp" "$DIR/temporal-sql-tool"
say "built into $DIR"
echo "$DIR"
