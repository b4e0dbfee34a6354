#!/bin/sh
# Fuzz smoke run (make fuzz): each libFuzzer target in build/fuzz/ runs for
# SECONDS with a corpus seeded from ../shared/corpus (MailKit's real server
# responses, LF converted to CRLF) when it is there.  Any crash, leak or
# sanitizer report fails the run; the crashing input is kept in build/fuzz/.
#   ci/fuzz-smoke.sh SECONDS FUZZER...
set -eu
seconds=$1
shift
corpus_root=${MJ_CORPUS:-../shared/corpus/mailkit}

seed() { # seed PROTO DIR: the corpus files of PROTO, CRLF line ends
    [ -d "$corpus_root/$1" ] || return 0
    find "$corpus_root/$1" -type f -name '*.txt' | head -400 | while read -r f; do
        sed 's/$/\r/' "$f" > "$2/$(echo "$f" | cksum | cut -d' ' -f1)"
    done
}

for bin in "$@"; do
    name=$(basename "$bin")
    proto=$(echo "$name" | sed -n 's/^fuzz_\([a-z0-9]*\)_.*/\1/p')
    corpus=build/fuzz/corpus-$name
    mkdir -p "$corpus"
    [ -n "$(ls -A "$corpus")" ] || seed "$proto" "$corpus"
    echo "== $name: $seconds s, $(ls "$corpus" | wc -l) corpus inputs"
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=build/fuzz/"$name"- "$corpus" 2>build/fuzz/"$name".log ||
        { tail -40 build/fuzz/"$name".log; echo "fuzz: $name FAILED"; exit 1; }
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build/fuzz/"$name".log | tr '\n' ' '
    echo
done
echo "fuzz smoke: $# targets, no finding"
