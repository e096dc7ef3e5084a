#!/usr/bin/env bash
# The footprint of the embedded digits classifier, read off the built
# artifact: the crate alone as a static library, with neither `std` nor an
# allocator (the build fails if anything needs one), release, panic=abort.
# Prints the sections of the crate's own object file (code, weights,
# constants) and every function the inference function calls.
# Needs binutils (ar, size, objdump); runs from anywhere in the checkout.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo rustc --quiet -p staticflow-embedded --release --features staticlib \
    --crate-type staticlib --config 'profile.release.panic="abort"'
lib="$PWD/target/release/libstaticflow_embedded.a"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
object="$(ar t "$lib" | grep '^staticflow_embedded-')"
ar x "$lib" "$object"

echo "Sections of $object (bytes):"
size -A "$object" | grep -E '^\.(text|rodata|data)' | grep -v ' 0 ' |
    sed -E 's/_ZN[0-9]+staticflow_embedded[0-9]+//; s/17h[0-9a-f]{16}E//'
echo
echo "Functions called by classify (none: every kernel is inlined):"
objdump -dr -C "$object" |
    awk '/<staticflow_embedded::classify>:/,/^$/' |
    grep -oE 'R_X86_64_(PLT32|GOTPCREL)[[:space:]]+[^ ]+' | sort -u || true
