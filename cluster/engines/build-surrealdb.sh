#!/usr/bin/env bash
# Builds the SurrealDB server (`surreal`) once and caches it outside the repository; prints its path.
#
# No package registry ships a `surreal` binary: crates.io has the server as a library
# (`surrealdb-server`). A binary crate whose main calls `surrealdb_server::init` is what the
# upstream binary is. Built with the crate's own Cargo.lock, with memory and RocksDB storage and
# without the other default features that pull large builds (JavaScript scripting, GraphQL).
# Not SurrealKV: in 3.0.5 two transactions that update one record concurrently can both commit
# (a lost update), which breaks the feed counter; RocksDB detects the conflict (docs/running-at-scale.md).
# RocksDB's bindings are generated with libclang (Debian: libclang-dev).
# On Rust >= 1.94 the 3.0.x library needs `#![recursion_limit = "256"]` (rust-lang/rust#154476,
# surrealdb/surrealdb#7162), so a patched copy of the crate is used.
set -euo pipefail

VERSION="${SURREALDB_SERVER_VERSION:-3.0.5}"
CACHE="${PLANS_ENGINE_CACHE:-$HOME/.cache/execution-plans/engines}"
BIN="$CACHE/surrealdb-$VERSION-rocksdb/bin/surreal"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

say() { echo "[build-surrealdb] $*" >&2; }
WORK="$CACHE/build/surrealdb-$VERSION-rocksdb"
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || ls /usr/lib/*/libclang*.so* >/dev/null 2>&1 ||
  { echo "[build-surrealdb] RocksDB needs libclang to build: apt-get install libclang-dev" >&2; exit 1; }
mkdir -p "$WORK/src"
cd "$WORK"

# 1. The library's source, as crates.io has it.
if [ ! -d crate ]; then
  say "fetching surrealdb-server $VERSION from crates.io …"
  mkdir -p fetch/src
  printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nsurrealdb-server = { version = "=%s", default-features = false }\n' "$VERSION" > fetch/Cargo.toml
  echo 'fn main() {}' > fetch/src/main.rs
  (cd fetch && cargo fetch --quiet)
  SRC=$(cargo metadata --manifest-path fetch/Cargo.toml --format-version 1 2>/dev/null |
    python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "surrealdb-server"))')
  rm -rf crate.tmp && cp -r "$(dirname "$SRC")" crate.tmp
  grep -q 'recursion_limit' crate.tmp/src/lib.rs || sed -i '1i #![recursion_limit = "256"]' crate.tmp/src/lib.rs
  mv crate.tmp crate
fi

# 2. The binary crate, pinned by the library's lock file.
cat > Cargo.toml <<TOML
[package]
name = "plans-surreal"
version = "$VERSION"
edition = "2021"
publish = false

[[bin]]
name = "surreal"
path = "src/main.rs"

[dependencies]
surrealdb-server = { version = "=$VERSION", default-features = false, features = ["storage-mem", "storage-rocksdb", "cli"] }

[patch.crates-io]
surrealdb-server = { path = "crate" }

[profile.release]
strip = true
TOML
cat > src/main.rs <<'RUST'
#![recursion_limit = "256"]
//! The `surreal` binary, as upstream builds it.
fn main() -> std::process::ExitCode {
	surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
RUST
[ -f Cargo.lock ] || cp crate/Cargo.lock Cargo.lock

say "compiling (30-60 minutes on 2 cores; cargo's progress follows) …"
cargo build --release
mkdir -p "$(dirname "$BIN")"
cp target/release/surreal "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
say "built $BIN"
echo "$BIN"
