#!/usr/bin/env bash
# Regenerates docs/CONFIGURATION.md, the configuration reference, from the key registry
# (Sources/HATConfig/ConfigurationKeys.swift) through `hat keys --markdown`. KeysCommandTests fails while
# the committed file differs from what the binary prints. Builds first when a source is newer than the
# binary, so the reference comes from the sources as they are.
# Usage: bash scripts/gen-config-docs.sh   (HAT=path/to/hat to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
hat=${HAT:-.build/release/hat}
if [ ! -x "$hat" ] || [ -n "$(find Sources -newer "$hat" -name '*.swift' | head -1)" ]; then
  swift build -c release >/dev/null
fi
"$hat" keys --markdown > docs/CONFIGURATION.md.tmp
mv docs/CONFIGURATION.md.tmp docs/CONFIGURATION.md
echo "wrote docs/CONFIGURATION.md"
