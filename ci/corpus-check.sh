#!/bin/sh
# The shared corpus of real server responses (MailKit's, ../shared/corpus) through
# mailjig's parsers: ci/corpus-check.sh CORPUS_CHECK_BINARY
# The corpus is looked for in $MJ_CORPUS, else ../shared/corpus/mailkit relative to
# the checkout (as ci/fuzz-smoke.sh does); without it the check is skipped, saying so.
set -eu
bin=$1
corpus=${MJ_CORPUS:-../shared/corpus/mailkit}
if [ ! -d "$corpus/imap" ]; then
    echo "corpus check: skipped, no corpus at $corpus (set MJ_CORPUS)"
    exit 0
fi
"$bin" "$corpus"
