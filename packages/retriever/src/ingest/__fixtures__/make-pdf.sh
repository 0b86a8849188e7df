#!/usr/bin/env bash
# Regenerates docs/safety-manual.pdf (a real two-page PDF with a text layer) from
# sources/safety-manual.html with headless Chromium. The PDF is committed; run this only to change it.
set -euo pipefail
cd "$(dirname "$0")"
chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
  --print-to-pdf=docs/safety-manual.pdf sources/safety-manual.html
