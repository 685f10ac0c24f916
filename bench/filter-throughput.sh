#!/bin/bash
# Usage: bench/filter-throughput.sh [N=1000000]
#
# Filter throughput, banjo against fail2ban-regex and a bare libsystemd loop, in one
# run on the same data:
#   (a) banjo test-filter sshd --journal-dir DIR --json
#   (b) fail2ban-regex "systemd-journal[journalpath=DIR]" sshd
#   (c) bench/bare-journal.c: sd_journal_next + sd_journal_get_data("MESSAGE") over the
#       same _COMM matches as banjo's sshd jail
#   (d) the same sshd entries as text (journalctl -o short-iso), banjo and fail2ban-regex
#   (e) banjo's max RSS on a SMALL-entry journal/text against the N-entry one
#   (f) the log-file path: N-line auth.log and nginx access.log (bench/make-logfiles.py)
#       read as the daemon reads logpath files, by `banjo test-filter --logpath` (line
#       reader + filter) and `banjo replay --logpath` (the daemon's file source and the
#       whole pipeline): lines/s, failures (truth.json), max RSS against N/10 lines
#   (g) more jails must not slow banjo down: `banjo replay --route in-process` of the
#       N-entry journal (the daemon's path: every entry read and routed, every jail's
#       filter, trackers, bans) with sshd alone and with every built-in jail enabled;
#       journal entries/s of each and their ratio (target >= 0.9); and sshd alone with
#       libsystemd's matches (`--route libsystemd`) for information
# and checks banjo's failure count against the generator's truth.json.
#
# Environment:
#   SEED=1          generator seed (data is cached under bench/data/, keyed by N and SEED)
#   RUNS=3          runs per measurement (median time, largest RSS)
#   SMALL=100000    the small journal for (e), also fail2ban's input when N > F2B_MAX
#   F2B_MAX=100000  fail2ban-regex does ~10-15k entries/s: above this N it reads the
#                   SMALL journal/text instead (rates are compared, not totals);
#                   F2B_MAX=0 makes it read the full N (minutes per run)
#   F2B_RUNS=$RUNS  runs for fail2ban-regex
#   NO_BUILD=1      skip `cargo build --release`
#   FLAT_N=3000000  also run banjo once on an FLAT_N-entry journal and its text (memory
#                   flatness beyond N; ~4 min to generate the first time, 1.5 GB)
#   ONLY_FILES=1    run stage (f) only: no journal is made (seconds, not minutes)
#   BASELINE=BIN    another banjo binary (e.g. a release build of the last landed commit):
#                   its journal and text runs interleaved with this build's, and the ratio
#   ONLY_JAILS=1    run stage (g) only (the N-entry journal is made if missing)
#   PERF=1          also profile banjo (perf, DWARF call graphs) on the SMALL journal and text
#
# Needs: systemd-journal-remote, libsystemd-dev, gcc, fail2ban, /usr/bin/time.
set -euo pipefail

n=${1:-1000000}
seed=${SEED:-1}
runs=${RUNS:-3}
small=${SMALL:-100000}
f2b_max=${F2B_MAX:-100000}
f2b_runs=${F2B_RUNS:-$runs}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
data=$here/data
out=$here/out
mkdir -p "$data" "$out"

stage() { printf '\n### %s\n' "$*"; }

# Run "$@" $runs times, its output to $1: appends each elapsed time to the caller's
# `times` and keeps the largest max RSS (KiB) in the caller's `rss`.
timed_runs() {
    local result=$1 secs kb
    shift
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >"$result"
        read -r secs kb <"$out/time.txt"
        times+=("$secs")
        [ "$kb" -gt "$rss" ] && rss=$kb
    done
}

for tool in /lib/systemd/systemd-journal-remote /usr/bin/fail2ban-regex /usr/bin/time gcc journalctl; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done

stage "machine: $(nproc) cores; $(uptime | sed 's/^ *//')"
# CPU time the hypervisor gave to other guests ("steal" in /proc/stat): on a shared
# machine it explains a slow run that the load average does not.
steal() { awk '/^cpu /{print $9}' /proc/stat; }
steal0=$(steal) t0=$(date +%s)

if [ -z "${NO_BUILD:-}" ]; then
    stage "cargo build --release"
    (cd "$root" && cargo build --release 2>&1 | tail -n 3)
fi
banjo=$root/target/release/banjo
[ -x "$banjo" ] || { echo "$0: no $banjo" >&2; exit 1; }
echo "banjo: $($banjo --version), binary built $(date -r "$banjo" "+%F %T"); tree: $(git -C "$root" log -1 --format="%h %cd" --date=format:"%F %T" 2>/dev/null) + $(git -C "$root" status --porcelain 2>/dev/null | wc -l) changed files"

# (f) The log-file path. Lines/s of the median of $runs runs; RSS the largest.
logfiles() {
    local k=$1 dir=$data/logfiles-n$1-s$seed
    if [ ! -s "$dir/truth.json" ]; then
        mkdir -p "$dir"
        echo "making $k-line log files in $dir" >&2
        python3 "$here/make-logfiles.py" "$k" "$dir" "$seed"
    fi
    echo "$dir"
}
files_stage() {
    local ldir sdir cfg what file filter size lines d rss result
    ldir=$(logfiles "$n")
    sdir=$(logfiles $((n / 10)))
    cat "$ldir"/*.log "$sdir"/*.log >/dev/null
    cfg=$out/logfiles-etc
    mkdir -p "$cfg"
    printf '%s\n' "[jail.sshd]" "enabled = true" \
        "logpath = [\"$ldir/auth.log\", \"$sdir/auth.log\"]" "maxretry = 5" \
        "[jail.nginx-botsearch]" "enabled = true" \
        "logpath = [\"$ldir/access.log\", \"$sdir/access.log\"]" "maxretry = 5" \
        "[jail.recidive]" "enabled = false" >"$cfg/banjo.toml"
    stage "(f) log files: $n lines each ($(du -sh "$ldir/auth.log" | cut -f1) auth.log, $(du -sh "$ldir/access.log" | cut -f1) access.log); truth $(cat "$ldir/truth.json")"
    for what in "test-filter sshd auth.log" "test-filter nginx-botsearch access.log" \
                "replay - auth.log" "replay - access.log"; do
        set -- $what
        filter=$2 file=$3
        for size in "$n:$ldir" "$((n / 10)):$sdir"; do
            lines=${size%%:*} d=${size#*:} rss=0
            local times=()
            if [ "$1" = test-filter ]; then
                cmd=("$banjo" test-filter "$filter" --logpath "$d/$file" --json)
            else
                cmd=("$banjo" replay --config "$cfg" --no-ignoreself --logpath "$d/$file" --json)
            fi
            timed_runs "$out/files-result.json" "${cmd[@]}"
            result=$(python3 -c '
import json, statistics, sys
r = json.load(open(sys.argv[1]))
lines = int(sys.argv[2])
times = [float(t) for t in sys.argv[3:]]
failures = r["failures"] if "failures" in r else sum(j["failures"] for j in r["jails"])
med = statistics.median(times)
print(f"{lines / med:,.0f} lines/s (median {med:.2f} s of {len(times)}), failures {failures}")
' "$out/files-result.json" "$lines" "${times[@]}")
            echo "$1 ${filter/-/} $file, $lines lines: $result, max RSS $((rss / 1024)) MiB"
        done
    done
}
if [ -n "${ONLY_FILES:-}" ]; then
    files_stage
    exit 0
fi

# (g) sshd alone against every built-in jail, `banjo replay` on the N-entry journal.
# The daemon reads every entry and routes it in-process (no libsystemd matches), so
# the target compares both configurations on that path (`--route in-process`), same
# binary, same run. sshd alone with libsystemd's matches (replay's default for few
# terms: entries no jail names are never decoded) is printed for information.
jails_stage() {
    local jdir=$1 one=$out/jails-sshd all=$out/jails-all rss result label cfg route
    mkdir -p "$one" "$all"
    printf '%s\n' "[jail.sshd]" "enabled = true" "[jail.recidive]" "enabled = false" >"$one/banjo.toml"
    rm -f "$all/banjo.toml"
    "$banjo" check --config "$all" --json | python3 -c '
import json, sys
for j in json.load(sys.stdin)["jails"]:
    print("[jail.%s]\nenabled = true" % j["name"])' >"$all/banjo.toml.tmp"
    mv "$all/banjo.toml.tmp" "$all/banjo.toml"
    "$banjo" check --config "$all" >/dev/null || { echo "$0: every jail enabled does not check" >&2; exit 1; }
    stage "(g) banjo replay of $n journal entries: sshd alone against all $(grep -c '^\[jail' "$all/banjo.toml") built-in jails"
    local -A median=()
    for label in sshd-in-process all-in-process sshd-libsystemd; do
        cfg=$one route=${label#*-}
        [ "${label%%-*}" = all ] && cfg=$all
        local times=()
        rss=0
        timed_runs "$out/jails-result.json" "$banjo" replay --config "$cfg" --journal-dir "$jdir" \
            --no-ignoreself --json --route "$route"
        result=$(python3 -c '
import json, statistics, sys
r = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
times = [float(t) for t in sys.argv[3:]]
med = statistics.median(times)
taken = [j for j in r["jails"] if j["entries"]]
runs = " ".join(sys.argv[3:])
jails = r["jails"]
bans = sum(j["bans"] for j in jails)
print(f"{med:.3f} {n / med:,.0f} entries/s (median {med:.2f} s of {len(times)}: {runs}),",
      f"{len(jails)} jails, {len(taken)} took entries, {bans} bans")
' "$out/jails-result.json" "$n" "${times[@]}")
        median[$label]=${result%% *}
        echo "$label: ${result#* }, max RSS $((rss / 1024)) MiB"
    done
    python3 -c '
import sys
one, all_, sd = map(float, sys.argv[1:])
print(f"daemon path (every entry read, routed in-process): every jail / sshd alone: {one / all_:.2f}x throughput (target >= 0.9)")
print(f"for information, against sshd alone with libsystemd matches: {sd / all_:.2f}x")
' "${median[sshd-in-process]}" "${median[all-in-process]}" "${median[sshd-libsystemd]}"
}

stage "bare loop: gcc -O2 bench/bare-journal.c -lsystemd"
gcc -O2 -Wall -o "$out/bare-journal" "$here/bare-journal.c" -lsystemd

# A journal of N entries (cached), and its sshd entries as text (cached).
journal() {
    local k=$1 dir=$data/journal-n$1-s$seed
    if [ ! -f "$dir/truth.json" ] || ! ls "$dir"/*.journal >/dev/null 2>&1; then
        rm -rf "$dir"
        echo "making a $k-entry journal in $dir (~1-2 min per million entries)" >&2
        "$here/make-journal.sh" "$k" "$dir" "$seed" >&2
    fi
    echo "$dir"
}
text() {
    local k=$1 file=$data/sshd-n$1-s$seed.txt
    if [ ! -s "$file" ]; then
        echo "exporting _COMM=sshd of the $k-entry journal to $file" >&2
        journalctl --directory="$(journal "$k")" _COMM=sshd -o short-iso >"$file.tmp"
        mv "$file.tmp" "$file"
    fi
    echo "$file"
}

stage "data: N=$n and SMALL=$small entries, seed $seed (cached in $data)"
jdir=$(journal "$n")
if [ -n "${ONLY_JAILS:-}" ]; then
    cat "$jdir"/*.journal >/dev/null
    jails_stage "$jdir"
    exit 0
fi
tfile=$(text "$n")
sjdir=$(journal "$small")
stfile=$(text "$small")
f2b=()
flat=()
if [ -n "${FLAT_N:-}" ]; then
    flat=(--flat-journal "$(journal "$FLAT_N")" --flat-text "$(text "$FLAT_N")")
fi
if [ "$f2b_max" != 0 ] && [ "$n" -gt "$f2b_max" ]; then
    f2b=(--f2b-journal "$sjdir" --f2b-text "$stfile")
    echo "NOTE: fail2ban-regex reads the $small-entry journal/text, not the $n-entry one" \
         "(it does ~10-15k entries/s; F2B_MAX=0 to force the full input)"
fi
for d in "$jdir" "$sjdir"; do
    echo "$d: $(ls "$d"/*.journal | wc -l) files, $(du -sh "$d" | cut -f1)"
done
for f in "$tfile" "$stfile"; do
    echo "$f: $(wc -l <"$f") lines, $(du -sh "$f" | cut -f1)"
done
# Page cache warm for everyone: the first tool must not pay for the disk.
cat "$jdir"/*.journal "$sjdir"/*.journal "$tfile" "$stfile" >/dev/null
[ -n "${FLAT_N:-}" ] && cat "$data/journal-n$FLAT_N-s$seed"/*.journal "$data/sshd-n$FLAT_N-s$seed.txt" >/dev/null

stage "measuring ($runs runs each, fail2ban $f2b_runs)"
python3 "$here/throughput.py" --banjo "$banjo" --bare "$out/bare-journal" \
    --journal "$jdir" --text "$tfile" --small-journal "$sjdir" --small-text "$stfile" \
    "${f2b[@]}" "${flat[@]}" ${BASELINE:+--baseline "$BASELINE"} \
    --runs "$runs" --f2b-runs "$f2b_runs" --json-out "$out/throughput-n$n-s$seed.json"

files_stage
jails_stage "$jdir"

if [ -n "${PERF:-}" ]; then
    # DWARF call graphs (the release build has debuginfo, no frame pointers); on the
    # SMALL journal and text, as DWARF samples are large.
    for what in journal text; do
        if [ $what = journal ]; then src=(--journal-dir "$sjdir"); else src=("$stfile"); fi
        stage "perf record --call-graph dwarf: banjo test-filter sshd ($what, $small entries); inclusive %"
        rm -f "$out/perf-$what.data" "$out/perf-$what.data.old"
        perf record -q --call-graph dwarf,16384 -o "$out/perf-$what.data" -- \
            "$banjo" test-filter sshd "${src[@]}" --json >/dev/null 2>&1
        perf report -i "$out/perf-$what.data" --children --stdio --sort symbol -g none \
            --percent-limit 1.5 2>/dev/null | grep -E '^ +[0-9]' | sed -E 's/ +- +- *$//' \
            | grep -E 'banjo::|sd_journal|regex_automata::(hybrid::search::find_fwd|nfa::thompson::backtrack::BoundedBacktracker::search_imp)|hashbrown|memcmp' \
            | grep -v '(inlined)' | tee "$out/perf-$what.txt"
    done
    echo "(perf data: $out/perf-*.data)"
fi

stage "load after the run: $(uptime | sed 's/^ *//')"
stage "CPU stolen by the hypervisor during the run: $(( ($(steal) - steal0) / $(getconf CLK_TCK) )) s of $(( ($(date +%s) - t0) * $(nproc) )) core-seconds"
