#!/usr/bin/env bash
# Refresh the vendored front-end libraries in gridgov/static/vendor/ from the npm registry
# (their dist/ files and LICENSE). Pages never load anything from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
LEAFLET_VERSION="${LEAFLET_VERSION:-1.9.4}"
HTMX_VERSION="${HTMX_VERSION:-2.0.11}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "leaflet@${LEAFLET_VERSION}" >/dev/null && tar xzf leaflet-*.tgz)
dest=gridgov/static/vendor/leaflet
rm -rf "$dest"
mkdir -p "$dest/images"
# leaflet.js.map is kept: ManifestStaticFilesStorage follows the sourceMappingURL comment.
cp "$tmp/package/dist/leaflet.js" "$tmp/package/dist/leaflet.js.map" "$tmp/package/dist/leaflet.css" "$dest/"
cp "$tmp/package/dist/images/"*.png "$dest/images/"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "leaflet $(node -p "require('$tmp/package/package.json').version") -> $dest (update gridgov/static/vendor/README.md)"

(cd "$tmp" && npm pack --silent "htmx.org@${HTMX_VERSION}" >/dev/null && mkdir htmx && tar xzf htmx.org-*.tgz -C htmx)
dest=gridgov/static/vendor/htmx
rm -rf "$dest"
mkdir -p "$dest"
cp "$tmp/htmx/package/dist/htmx.min.js" "$tmp/htmx/package/LICENSE" "$dest/"
echo "htmx $(node -p "require('$tmp/htmx/package/package.json').version") -> $dest (update gridgov/static/vendor/README.md)"
