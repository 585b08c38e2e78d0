#!/bin/bash
# SPDX-License-Identifier: ISC
# tests/hostile/run.sh - the hostile benchmark behind `make bench-hostile`.
#
# For every attack that build/tests/gen_hostile registers (gen_hostile
# --list), writes the crafted capture and its control (the same size and
# shape with random values), runs imapwatch on each side by side,
# interleaved, REPS times, and prints one table row an attack: input size,
# the median time of each and their ratio, peak RSS of each, the counters
# that show what was dropped or bounded, and whether the one real LOGIN
# every capture carries was still reported.  The table also goes to
# build/bench/hostile.md.  It is a benchmark, not a test: the regression
# tests (tests/t_hostile*.py) assert structure, never time.
#
# Environment:
#	HOSTILE_DIR=/var/tmp/imapwatch-hostile	scratch directory for captures
#	HOSTILE_ONLY=NAME[,NAME]		only these attacks
#	HOSTILE_DIV=N				divide every scale by N (quick runs)
#	HOSTILE_REPS=3				runs of each capture
#	BENCH_IMAPWATCH=PATH			the binary (default ./imapwatch)
#	BENCH_STRICT=1				exit 1 when an attack is over 3x
#						its control or the LOGIN is lost
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
OUT=$ROOT/build/bench
DIR=${HOSTILE_DIR:-/var/tmp/imapwatch-hostile}
DIV=${HOSTILE_DIV:-1}
REPS=${HOSTILE_REPS:-3}
IW=${BENCH_IMAPWATCH:-$ROOT/imapwatch}
GEN=$ROOT/build/tests/gen_hostile
PY=${PYTHON:-/usr/bin/python3}
status=0

die() { echo "bench-hostile: $*" >&2; exit 1; }

mkdir -p "$OUT" "$DIR" || die "cannot create $OUT or $DIR"
[ -x "$GEN" ] || die "$GEN missing (make build/tests/gen_hostile)"
[ -x "$IW" ] || die "$IW missing (make)"
${CC:-cc} -O2 -o "$OUT/runstat" tests/bench/runstat.c || die "building runstat"

# median of the wall= (or maxrss_kib=) fields of runstat lines
median() {	# field, files...
	local f=$1; shift
	cat "$@" | sed -n "s/.*$f=\([0-9.]*\).*/\1/p" | sort -g |
	    awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}

# counters and the victim's LOGIN, from one run's events
inspect() {	# events file, counters
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
path, counters = sys.argv[1], sys.argv[2]
stats, victim = None, False
with open(path) as f:
    for line in f:
        e = json.loads(line)
        if e.get("event_type") == "stats":
            stats = e["stats"]
        elif (e.get("event_type") == "alert"
              and e["alert"]["signature"] == "cleartext_login"
              and e.get("imap", {}).get("username") == "victim"):
            victim = True
vals = []
for c in filter(None, counters.split(",")):
    v = stats
    for k in c.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    vals.append("%s=%s" % (c, v))
print(("yes" if victim else "NO") + "\t" + " ".join(vals))
EOF
}

table=$OUT/hostile.md
{
	echo "| attack | input | attack s | control s | ratio | RSS attack | RSS control | counters (attack) | LOGIN found |"
	echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
} >"$table"
cat "$table"

while IFS=$'\t' read -r name scale args counters desc; do
	if [ -n "${HOSTILE_ONLY:-}" ] && [[ ",$HOSTILE_ONLY," != *",$name,"* ]]; then
		continue
	fi
	[ "$args" = - ] && args=""
	[ "$counters" = - ] && counters=""
	scale=$((scale / DIV)); [ "$scale" -gt 0 ] || scale=1
	a=$DIR/$name.pcap c=$DIR/$name.control.pcap
	"$GEN" "$name" --scale "$scale" -o "$a" || die "generating $name"
	"$GEN" "$name" --control --scale "$scale" -o "$c" || die "generating $name control"
	rm -f "$OUT"/hs-"$name".*
	for i in $(seq "$REPS"); do
		# shellcheck disable=SC2086
		"$OUT/runstat" "$OUT/hs-$name.a$i" "$IW" -r "$a" $args \
		    -o "$OUT/hs-$name.a.json" >/dev/null 2>&1
		# shellcheck disable=SC2086
		"$OUT/runstat" "$OUT/hs-$name.c$i" "$IW" -r "$c" $args \
		    -o "$OUT/hs-$name.c.json" >/dev/null 2>&1
		[ "$i" -lt "$REPS" ] && rm -f "$OUT/hs-$name.a.json" "$OUT/hs-$name.c.json"
	done
	ta=$(median wall "$OUT"/hs-"$name".a[0-9]*)
	tc=$(median wall "$OUT"/hs-"$name".c[0-9]*)
	ra=$(median maxrss_kib "$OUT"/hs-"$name".a[0-9]*)
	rc=$(median maxrss_kib "$OUT"/hs-"$name".c[0-9]*)
	ratio=$(awk -v a="$ta" -v c="$tc" 'BEGIN { printf "%.2f", (c > 0) ? a / c : 0 }')
	IFS=$'\t' read -r victim vals < <(inspect "$OUT/hs-$name.a.json" "$counters")
	IFS=$'\t' read -r cvictim _ < <(inspect "$OUT/hs-$name.c.json" "")
	size=$(stat -c %s "$a")
	row=$(printf '| %s | %s MB | %s | %s | %s | %d MiB | %d MiB | %s | %s |' \
	    "$name" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')" \
	    "$ta" "$tc" "$ratio" $((ra / 1024)) $((rc / 1024)) "$vals" \
	    "$victim (control: $cvictim)")
	echo "$row" | tee -a "$table"
	if [ "$victim" != yes ] || awk -v r="$ratio" 'BEGIN { exit !(r > 3) }'; then
		[ -n "${BENCH_STRICT:-}" ] && status=1
	fi
done < <("$GEN" --list)
echo "bench-hostile: table in $table" >&2
exit $status
