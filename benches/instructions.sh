#!/usr/bin/env bash
# The instruction-count harness: every case of benches/benches/instructions.rs
# under valgrind, as one Markdown table of instructions and allocations per
# operation, each beside its baseline.
#
#   benches/instructions.sh [FILTER]     (K=1000 benches/instructions.sh for more repeats)
#
# Instructions: callgrind counts only inside the measured loop, once for 1
# operation and once for 1 + K; the difference over K is one operation
# without setup or first-call effects. Allocations: memcheck's heap summary,
# the same difference. Both repeat exactly for the same binary and inputs.
# Needs valgrind (Debian and Ubuntu: `apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
    echo "instructions.sh needs valgrind, which is not installed (Debian and Ubuntu: apt-get install valgrind)" >&2
    exit 1
fi
filter="${1:-}"
k="${K:-100}"

# Built as `cargo bench` builds it (the release profile); the path is the
# bench's executable from cargo's own report.
bin="$(cargo bench -p callhook-benches --bench instructions --no-run --message-format=json \
    | grep '"kind":\["bench"\]' | grep '"name":"instructions"' \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "instructions.sh: cargo built no instructions bench" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Instructions of CASE run N times, counted inside the measured loop only.
instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
        --toggle-collect='*instructions*measured*' "$bin" run "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# Allocations of the whole process running CASE N times.
allocations() {
    valgrind --tool=memcheck "$bin" run "$1" "$2" 2>&1 \
        | sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' | tr -d ,
}

per_op() {
    local one="$1" more="$2"
    if [ -z "$one" ] || [ -z "$more" ]; then
        echo "instructions.sh: valgrind gave no count" >&2
        exit 1
    fi
    echo $(((more - one + k / 2) / k))
}

# An assignment, so that a case whose setup or check fails stops the run.
cases="$("$bin" list)"
: >"$work/counts"
for case in $cases; do
    case "$case" in *"$filter"*) ;; *) continue ;; esac
    ir="$(per_op "$(instructions "$case" 1)" "$(instructions "$case" $((1 + k)))")"
    allocs="$(per_op "$(allocations "$case" 1)" "$(allocations "$case" $((1 + k)))")"
    echo "$case $ir $allocs" >>"$work/counts"
    echo "counted $case: $ir instructions, $allocs allocations" >&2
done

# The table: renders and escapes against serde_json on the same input; a
# whole request against its floor (a copy of the finished request) plus its
# body rendered alone, with what is beyond both as a share of the floor; a
# signature against a pre-keyed HMAC-SHA256 of the same body; a request
# dispatched with a condition against the same with none; a request
# dispatched and prepared with a credential against the same with none.
awk '
{ ir[$1] = $2; al[$1] = $3; order[n++] = $1 }
END {
    print "| case | instructions | allocations | against | ratio |"
    print "|---|--:|--:|---|--:|"
    for (i = 0; i < n; i++) {
        c = order[i]; split(c, p, "/")
        against = ""; ratio = ""
        if ((p[1] == "render" || p[1] == "escape") && p[3] == "callhook") {
            b = p[1] "/" p[2] "/serde_json"
            if (b in ir) { against = "serde_json"; ratio = sprintf("%.2fx", ir[c] / ir[b]) }
        }
        if (p[1] == "request" && p[3] == "callhook") {
            f = "request/" p[2] "/floor"; r = "request/" p[2] "/body"
            if ((f in ir) && (r in ir)) {
                against = "floor + body"
                ratio = sprintf("%.2fx; beyond both %d, %.0f%% of the floor", \
                    ir[c] / (ir[f] + ir[r]), ir[c] - ir[f] - ir[r], 100 * (ir[c] - ir[f] - ir[r]) / ir[f])
            }
        }
        if (p[1] == "sign" && p[3] == "callhook") {
            # SHA-512 schemes against HMAC-SHA512; `NAME-K` signs K times.
            f = (p[2] ~ /sha512/) ? "sign/hmac-sha512/floor" : "sign/hmac-sha256/floor"
            times = (p[2] ~ /-[0-9]+$/) ? substr(p[2], match(p[2], /-[0-9]+$/) + 1) : 1
            if (f in ir) {
                floor = times * ir[f]; against = "pre-keyed HMAC" (times > 1 ? " x" times : "")
                ratio = sprintf("%.2fx; overhead %d, %.0f%% of the HMAC", \
                    ir[c] / floor, ir[c] - floor, 100 * (ir[c] - floor) / floor)
            }
        }
        if (p[1] == "dispatch" && p[2] ~ /-condition[0-9]+$/) {
            # A dispatch whose webhook has a condition, against the same
            # dispatch without one (issue 24: at most 5 % more for three
            # comparisons).
            b = "dispatch/" substr(p[2], 1, match(p[2], /-condition[0-9]+$/) - 1) "/callhook"
            if (b in ir) {
                against = "no condition"
                ratio = sprintf("%.3fx; %+d, %+.1f%%", ir[c] / ir[b], ir[c] - ir[b], 100 * (ir[c] - ir[b]) / ir[b])
            }
        }
        if (p[1] == "prepare" && p[2] != "ringcx-none") {
            # A request dispatched and prepared with a credential, against
            # the same request with none (issue 21: at most 5 % more).
            b = "prepare/ringcx-none/callhook"
            if (b in ir) {
                against = "no auth"
                ratio = sprintf("%.3fx; %+d, %+.1f%%", ir[c] / ir[b], ir[c] - ir[b], 100 * (ir[c] - ir[b]) / ir[b])
            }
        }
        printf "| %s | %d | %d | %s | %s |\n", c, ir[c], al[c], against, ratio
    }
}' "$work/counts"
