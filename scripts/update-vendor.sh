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

ECHARTS_VERSION="${ECHARTS_VERSION:-6.1.0}"
(cd "$tmp" && npm pack --silent "echarts@${ECHARTS_VERSION}" >/dev/null && mkdir echarts && tar xzf echarts-*.tgz -C echarts)
dest=gridgov/static/vendor/echarts
rm -rf "$dest"
mkdir -p "$dest"
cp "$tmp/echarts/package/dist/echarts.min.js" "$tmp/echarts/package/LICENSE" "$dest/"
[ -f "$tmp/echarts/package/NOTICE" ] && cp "$tmp/echarts/package/NOTICE" "$dest/"
echo "echarts $(node -p "require('$tmp/echarts/package/package.json').version") -> $dest (update gridgov/static/vendor/README.md)"

MARKERCLUSTER_VERSION="${MARKERCLUSTER_VERSION:-1.5.3}"
(cd "$tmp" && npm pack --silent "leaflet.markercluster@${MARKERCLUSTER_VERSION}" >/dev/null && mkdir mc \
  && tar xzf leaflet.markercluster-*.tgz -C mc)
dest=gridgov/static/vendor/leaflet.markercluster
rm -rf "$dest"
mkdir -p "$dest"
# the .map is kept for the same reason as Leaflet's (the manifest storage follows sourceMappingURL)
cp "$tmp/mc/package/dist/leaflet.markercluster.js" "$tmp/mc/package/dist/leaflet.markercluster.js.map" \
  "$tmp/mc/package/dist/MarkerCluster.css" "$tmp/mc/package/dist/MarkerCluster.Default.css" "$dest/"
cp "$tmp/mc/package/MIT-LICENCE.txt" "$dest/LICENSE"
echo "leaflet.markercluster $(node -p "require('$tmp/mc/package/package.json').version") -> $dest (update gridgov/static/vendor/README.md)"
