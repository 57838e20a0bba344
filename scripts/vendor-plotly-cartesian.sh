#!/usr/bin/env bash
# Replaces frontend/static/vendor/plotly.js-cartesian-dist-min with the npm package of the plotly.js version
# that the installed `plotly` Python package serves, so the explorer's standalone export matches the pages.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
version=$(python -c 'import pathlib, plotly, re
text = (pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()[:200]
print(re.search(r"plotly\.js v([0-9.]+)", text).group(1))')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "plotly.js-cartesian-dist-min@$version" >/dev/null && tar xzf ./*.tgz)
target=frontend/static/vendor/plotly.js-cartesian-dist-min
cp "$work/package/plotly-cartesian.min.js" "$work/package/LICENSE" "$work/package/package.json" "$target/"
echo "vendored plotly.js-cartesian-dist-min $version into $target; update the version and integrity in $target/README.md"
