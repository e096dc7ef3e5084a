#!/usr/bin/env bash
# The footprint of the embedded digits classifier, read off the built
# artifact: the crate alone as a static library, with neither `std` nor an
# allocator (the build fails if anything needs one), release, panic=abort.
# Prints the sections of the crate's own object file (code, weights,
# constants), the size of each entry point's machine code (inference and
# on-device fine-tuning) and every function each calls.
# Needs binutils (ar, size, objdump); runs from anywhere in the checkout.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Read off one build: `$1` is the cargo feature flags, `$2` its title.
measure() {
    cargo rustc --quiet -p staticflow-embedded --release $1 \
        --crate-type staticlib --config 'profile.release.panic="abort"'
    local lib="$PWD/target/release/libstaticflow_embedded.a"
    local work
    work="$(mktemp -d)"
    (
        cd "$work"
        # The crate's own code can span several object files (codegen units).
        mapfile -t objects < <(ar t "$lib" | grep '^staticflow_embedded-')
        ar x "$lib" "${objects[@]}"
        echo "== $2"
        echo "Sections of the crate's objects (bytes):"
        size -A "${objects[@]}" | grep -E '^\.(text|rodata|data)' | grep -v ' 0 ' |
            sed -E 's/_ZN[0-9]+staticflow_embedded[0-9]+//; s/17h[0-9a-f]{16}E//' |
            awk '{ printf "%-70s %8s\n", substr($1, 1, 70), $2 }'
        echo
        echo "Machine code in all (bytes of .text): $(size -A "${objects[@]}" |
            awk '/^\.text/ { total += $2 } END { print total }')"
        for entry in classify fine_tune; do
            echo
            echo "Functions called by $entry (none: every kernel is inlined):"
            for object in "${objects[@]}"; do
                objdump -dr -C "$object" |
                    awk "/<staticflow_embedded::$entry>:/,/^\$/" |
                    grep -oE 'R_X86_64_(PLT32|GOTPCREL)[[:space:]]+[^ ]+' || true
            done | sort -u
        done
        echo
    )
    rm -rf "$work"
}

measure "--no-default-features --features staticlib" "inference alone (classify)"
measure "--features staticlib" "inference and on-device fine-tuning (classify, fine_tune)"
