# `natgrad plot`: learning curves over seeds. The numbers it draws (--csv) are recomputed
# here from the runs' progress.csv with awk: the mean over seeds, its 95 % interval with
# Student's t, the smoothing; runs group by config; bad input is refused.
if(TARGET natgrad_cli)
  add_test(NAME cli_plot COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"; mkdir -p "$dir"; cd "$dir" || exit 1
    for s in 0 1 2; do
      "$0" train --env CartPole-v1 --steps 6144 --seed $s --eval-episodes 0 --out s$s -q || exit 1
    done
    "$0" train --env CartPole-v1 --steps 4096 --seed 0 --set max_kl=0.02 --eval-episodes 0 \
      --out k -q || exit 1
    "$0" train --resume s2 --steps 8192 -q --eval-episodes 0 || exit 1  # longer than s0, s1
    out=$("$0" plot s0 k s1 s2 --smooth 1 --csv c.csv --runs) || { echo "$out"; exit 1; }
    echo "$out"
    echo "$out" | grep -q "^CartPole-v1 TRPO, max_kl = 0.01 (3 seeds): mean_return .* at 8192 steps$" || exit 1
    echo "$out" | grep -q "^CartPole-v1 TRPO, max_kl = 0.02, seed 0: mean_return" || exit 1
    grep -q "fill-opacity" curves.svg || exit 1
    # a number written long (%.17g, as config.ini was once written) is the same value: the
    # runs are one curve, and a label shows the number short
    cp -r s1 s1long && cp -r k klong || exit 1
    sed -i 's/^gamma = 0.99$/gamma = 0.98999999999999999/; s/^max_kl = 0.01$/max_kl = 0.010000000000000000208/' s1long/config.ini
    sed -i 's/^max_kl = 0.02$/max_kl = 0.020000000000000000416/' klong/config.ini
    grep -q "^gamma = 0.98999999999999999$" s1long/config.ini && grep -q "^max_kl = 0.0200000" klong/config.ini || exit 1
    out=$("$0" plot s0 klong s1long s2 --smooth 1 --out long.svg) || { echo "$out"; exit 1; }
    echo "$out" | grep -q "^CartPole-v1 TRPO, max_kl = 0.01 (3 seeds)" || { echo "$out"; exit 1; }
    echo "$out" | grep -q "^CartPole-v1 TRPO, max_kl = 0.02, seed 0" || { echo "$out"; exit 1; }
    # the three seeds' rows: mean and 95 % CI (t(0.975, 2) = 4.303, t(0.975, 1) = 12.706)
    for s in 0 1 2; do awk -F, 'NR > 1 { print $2, $4 }' s$s/progress.csv > r$s; done
    paste -d' ' r0 r1 r2 | awk '{ n = 3; m = ($2 + $4 + $6) / 3;
        v = (($2 - m) ^ 2 + ($4 - m) ^ 2 + ($6 - m) ^ 2) / 2; h = 4.303 * sqrt(v / 3);
        printf "%d,3,%.10g,%.10g,%.10g\n", $1, m, m - h, m + h }' > want3
    awk 'NR > 6 { print $1 "," 1 "," $2 ",nan,nan" }' r2 | sed 's/ /,/' > want1
    awk -F'",' '/0.01 \(3 seeds\)/ { split($2, f, ","); if (f[2] == 3)
        printf "%d,3,%.10g,%.10g,%.10g\n", f[1], f[3], f[4], f[5] }' c.csv > got3
    awk -F'",' '/0.01 \(3 seeds\)/ { split($2, f, ","); if (f[2] == 1)
        printf "%d,1,%s,nan,nan\n", f[1], f[3] }' c.csv > got1
    awk -F, '{ print $1 "," $2 "," $3 }' want1 > want1b
    awk -F, '{ print $1 "," $2 "," $3 }' got1 > got1b
    [ "$(wc -l < got3)" -eq 6 ] && [ "$(wc -l < got1)" -eq 2 ] || { cat c.csv; exit 1; }
    awk -F, 'NR == FNR { w[NR] = $0; next }
             { split(w[FNR], a, ","); for (i = 1; i <= 5; i++) {
                 d = a[i] - $i; if (d < 0) d = -d; s = a[i] < 0 ? -a[i] : a[i];
                 if (d > 1e-8 * (s + 1)) { print "row " FNR ": want " w[FNR] ", got " $0; bad = 1 } } }
             END { exit bad }' want3 got3 || exit 1
    awk -F, 'NR == FNR { w[NR] = $3; next } { d = w[FNR] - $3; if (d < 0) d = -d;
             if (d > 1e-8 * (w[FNR] + 1)) { print "row " FNR; bad = 1 } } END { exit bad }' \
      want1b got1b || exit 1
    # --smooth 3: a run's own line is the mean of its last three values
    "$0" plot k --smooth 3 --csv k.csv --out k.svg > /dev/null || exit 1
    awk -F, 'NR > 1 { v[NR - 1] = $4; n = NR - 1; k = n < 3 ? n : 3; s = 0;
             for (i = n - k + 1; i <= n; i++) s += v[i]; printf "%.10g\n", s / k }' \
      k/progress.csv > wantk
    awk -F'",' 'NR > 1 { split($2, f, ","); printf "%.10g\n", f[3] }' k.csv > gotk
    cmp wantk gotk || { paste wantk gotk; exit 1; }
    # refused: no runs, an unknown column, an existing file, a fit run, a missing folder
    "$0" plot > /dev/null 2>&1; [ $? -eq 2 ] || exit 1
    out=$("$0" plot s0 --y bogus 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "not a value column" || exit 1
    cp curves.svg before.svg
    out=$("$0" plot s0 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "exists (--force" || exit 1
    cmp curves.svg before.svg || exit 1
    "$0" plot s0 --force -q > /dev/null 2>&1; [ $? -eq 2 ] || exit 1  # -q is no flag of plot
    printf 'a,b,label\n1,2,0\n2,1,1\n3,3,0\n4,1,1\n' > t.csv
    "$0" fit --data t.csv --model auto-4-auto --epochs 1 --out fitrun -q || exit 1
    out=$("$0" plot fitrun --out f.svg 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "not a run folder of .natgrad train" || { echo "$out"; exit 1; }
    out=$("$0" plot nowhere --out n.svg 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "cannot read" || exit 1
    "$0" plot s0 --smooth 0 --out z.svg > /dev/null 2>&1; [ $? -eq 2 ] || exit 1
    [ ! -e f.svg ] && [ ! -e n.svg ] && [ ! -e z.svg ] || exit 1
    echo ok
  ]=] $<TARGET_FILE:natgrad_cli> ${CMAKE_BINARY_DIR}/cli_plot)
  set_tests_properties(cli_plot PROPERTIES ENVIRONMENT OPENBLAS_NUM_THREADS=1 TIMEOUT 120)
endif()
