#!/usr/bin/env bash
# Replaces frontend/static/vendor/plotly.js-cartesian-dist-min (the Plotly.js every page and the explorer's
# standalone export run) with the npm package at the version given: scripts/vendor-plotly-cartesian.sh 4.1.1
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?"usage: $0 VERSION (a plotly.js release, e.g. 4.1.1)"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "plotly.js-cartesian-dist-min@$version" >/dev/null && tar xzf ./*.tgz)
target=frontend/static/vendor/plotly.js-cartesian-dist-min
cp "$work/package/plotly-cartesian.min.js" "$work/package/LICENSE" "$work/package/package.json" "$target/"
echo "vendored plotly.js-cartesian-dist-min $version into $target; update the version and integrity in $target/README.md"
