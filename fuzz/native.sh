#!/usr/bin/env bash
# Coverage-guided fuzzing of the compiled parser itself (not only the Python around it).
#
# Builds a copy of the C extensions with clang's sanitizer coverage into a scratch directory,
# preloads libFuzzer, and runs fuzz/fuzz_parser.py there, so libFuzzer sees the C parser's
# branches. Needs clang and its fuzzer runtime (Debian: clang-14 libclang-rt-14-dev).
#   fuzz/native.sh [SECONDS]        (default 300; crashes land in the scratch directory)
set -euo pipefail
seconds=${1:-300}
repo=$(cd "$(dirname "$0")/.." && pwd)
clang=$(command -v clang-14 || command -v clang || true)
[ -n "$clang" ] || { echo "fuzz/native.sh: clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
runtime=$("$clang" -print-resource-dir)/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a
[ -f "$runtime" ] || { echo "fuzz/native.sh: $runtime missing (libclang-rt-14-dev)" >&2; exit 2; }
work=$(mktemp -d /tmp/fastxmpp-fuzz.XXXXXX)
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$work")
"$clang" -shared -fPIC -o "$work/libfuzzer.so" -Wl,--whole-archive "$runtime" \
    -Wl,--no-whole-archive -lstdc++ -lpthread
(cd "$work" && CC="$clang" LDSHARED="$clang -shared" CFLAGS="-fsanitize=fuzzer-no-link -g -O1" \
    python3 setup.py -q build_ext --inplace >/dev/null)
mkdir -p "$work/corpus"
cd "$work"
echo "fuzzing in $work for ${seconds}s"
env LD_PRELOAD="$work/libfuzzer.so" python3 fuzz/fuzz_parser.py corpus -dict=fuzz/xmpp.dict \
    -max_total_time="$seconds"
