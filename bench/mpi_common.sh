# Shared by bench/mpi_results.sh and bench/mpi_blocks.sh (sourced; both set $work): one
# timed run into $work/NAME, and the median over the repetitions of a column of
# $work/runs.txt (one line per run: REP NAME numbers...).

run() { # NAME COMMAND...: COMMAND --out $work/NAME under nice; its output in NAME.out,
  # its wall seconds in NAME.wall
  local name=$1 t0 t1; shift
  t0=$(date +%s.%N)
  nice "$@" --out "$work/$name" > "$work/$name.out" 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc > "$work/$name.wall"
}

median() { # NAME COLUMN
  awk -v n="$1" -v k="$2" '$2 == n { print $k }' "$work/runs.txt" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
