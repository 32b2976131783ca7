# CTest registrations that run `natgrad fit` end to end on tiny data: a CSV table written
# here, and tests/data/idx-tiny (90 + 30 MNIST-style 4x4 images of three classes, made by a
# few lines of Python; the test labels gzipped). Nothing needs Debian's Fashion-MNIST package:
# `--data fashion-mnist` is pointed at idx-tiny through NATGRAD_FASHION_MNIST_DIR. Scripts are
# POSIX sh in bracket arguments; paths reach them as positional parameters ($0 is the CLI).
if(TARGET natgrad_cli)
  set(NG_FIT_CLI $<TARGET_FILE:natgrad_cli>)
  set(NG_FIT_DIR ${CMAKE_BINARY_DIR}/fit_tests)
  set(NG_FIT_IDX ${CMAKE_SOURCE_DIR}/tests/data/idx-tiny)
  file(MAKE_DIRECTORY ${NG_FIT_DIR})

  # A three-class table with a scikit-learn style header: class = which of x0, x1 - x2 wins,
  # features spread deterministically (no RNG, so every awk gives the same file).
  set(csv "120,3,a,b,c\n")
  foreach(i RANGE 119)
    math(EXPR a "(${i} * 37) % 101 - 50")
    math(EXPR b "(${i} * 53) % 97 - 48")
    math(EXPR c "(${i} * 29) % 89 - 44")
    math(EXPR d "${b} - ${c}")
    if(a GREATER 10)
      set(label 0)
    elseif(d GREATER 0)
      set(label 1)
    else()
      set(label 2)
    endif()
    string(APPEND csv "${a}.5,${b},${c}.25,${label}\n")
  endforeach()
  file(WRITE ${NG_FIT_DIR}/table.csv "${csv}")
  # a regression table: y = 0.5 x0 - x1 + 0.1 x0 x1
  set(reg "x0,x1,y\n")
  foreach(i RANGE 99)
    math(EXPR a "(${i} * 37) % 41 - 20")
    math(EXPR b "(${i} * 17) % 43 - 21")
    math(EXPR y "5 * ${a} - 10 * ${b} + ${a} * ${b} / 10")
    string(APPEND reg "${a},${b},${y}\n")
  endforeach()
  file(WRITE ${NG_FIT_DIR}/reg.csv "${reg}")
  file(WRITE ${NG_FIT_DIR}/ragged.csv "1,2,0\n3,4,1\n5,0\n")
  file(WRITE ${NG_FIT_DIR}/corrupt/checkpoint.ngc "this is not a checkpoint, though it is longer than a header\n")
  # a folder of fit runs as natgrad wrote them before run folders
  file(WRITE ${NG_FIT_DIR}/oldlayout/kfac.ckpt "an old run\n")

  # ---- help and usage errors (exit 2) --------------------------------------------------------
  ng_cli_expect(cli_fit_help 0 "usage: natgrad fit --data" fit --help)
  ng_cli_expect(cli_fit_keys 0 "^inverse_every +[0-9]" fit --keys)
  ng_cli_expect(cli_fit_listed 0 "^  fit +train an MLP" --help)
  ng_cli_expect(cli_fit_no_data 2 "no data: pass --data" fit --opt kfac --out ${NG_FIT_DIR}/x)
  ng_cli_expect(cli_fit_bad_opt 2 "unknown optimiser 'lbfgs'" fit --data x.csv --opt lbfgs)
  ng_cli_expect(cli_fit_bad_flag 2 "unknown option '--frobnicate'" fit --frobnicate)
  ng_cli_expect(cli_fit_bad_epochs 2 "--epochs: expected an integer" fit --data x --epochs -3)
  ng_cli_expect(cli_fit_bad_set 2 "unknown optimiser setting 'speed'" fit --data x --set speed=9)
  ng_cli_expect(cli_fit_set_no_equals 2 "--set expects KEY=VALUE, got 'lr'" fit --data x --set lr)
  ng_cli_expect(cli_fit_bad_value 2 "lr must be > 0" fit --data x --lr 0)
  ng_cli_expect(cli_fit_bad_act 2 "act = 'sigmoid': expected tanh or relu" fit --data x --act sigmoid)
  ng_cli_expect(cli_fit_empirical_cg 2 "empirical applies only to diag-ng and kfac"
                fit --data x --opt cg-ng --fisher empirical)
  ng_cli_expect(cli_fit_model_in 2 "the data has 3 input features, the model takes 5"
                fit --data ${NG_FIT_DIR}/table.csv --model 5-8-3 --out ${NG_FIT_DIR}/m1)
  ng_cli_expect(cli_fit_model_out 2 "needs 3 outputs .one per class., the model has 4"
                fit --data ${NG_FIT_DIR}/table.csv --model 3-8-4 --out ${NG_FIT_DIR}/m2)
  ng_cli_expect(cli_fit_model_syntax 2 "'x' is not a layer width"
                fit --data ${NG_FIT_DIR}/table.csv --model 3-x-3 --out ${NG_FIT_DIR}/m3)
  ng_cli_expect(cli_fit_resume_change 2 "--lr cannot be used with --resume"
                fit --resume ${NG_FIT_DIR} --lr 0.1)
  ng_cli_expect(cli_fit_resume_none 2 "no checkpoint to resume: '.*/checkpoint.ngc' does not exist"
                fit --resume ${NG_FIT_DIR})
  ng_cli_expect(cli_fit_resume_old_layout 2 "holds fit runs in the old layout .kfac.ckpt.*mkdir"
                fit --resume ${NG_FIT_DIR}/oldlayout)

  # ---- data and file failures (exit 1) ------------------------------------------------------------
  ng_cli_expect(cli_fit_missing_csv 1 "nope.csv: cannot open"
                fit --data ${NG_FIT_DIR}/nope.csv --out ${NG_FIT_DIR}/f1)
  ng_cli_expect(cli_fit_ragged_csv 1 "ragged.csv:3: expected 3 fields, found 2"
                fit --data ${NG_FIT_DIR}/ragged.csv --out ${NG_FIT_DIR}/f2)
  ng_cli_expect(cli_fit_corrupt_ckpt 1 "not a natgrad fit checkpoint"
                fit --resume ${NG_FIT_DIR}/corrupt)
  add_test(NAME cli_fit_no_fashion_mnist COMMAND sh -c [=[
    out=$(NATGRAD_FASHION_MNIST_DIR=/nonexistent "$0" fit --data fashion-mnist --out "$1" 2>&1); rc=$?
    printf '%s\n' "$out"
    [ "$rc" -eq 1 ] || { echo "exit status $rc, expected 1"; exit 1; }
    printf '%s\n' "$out" | grep -q "install Debian's dataset-fashion-mnist" || exit 1
  ]=] ${NG_FIT_CLI} ${NG_FIT_DIR}/f3)
  add_test(NAME cli_fit_truncated_idx COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"; mkdir -p "$dir"
    cp "$src"/* "$dir"/
    head -c 700 "$src/train-images-idx3-ubyte" > "$dir/train-images-idx3-ubyte"
    out=$("$0" fit --data "$dir" --out "$dir/run" 2>&1); rc=$?
    printf '%s\n' "$out"
    [ "$rc" -eq 1 ] || { echo "exit status $rc, expected 1"; exit 1; }
    printf '%s\n' "$out" | grep -Eq "train-images-idx3-ubyte: truncated: the header promises 90x4x4" || exit 1
  ]=] ${NG_FIT_CLI} ${NG_FIT_IDX} ${NG_FIT_DIR}/trunc)
  set_tests_properties(cli_fit_no_fashion_mnist cli_fit_truncated_idx PROPERTIES
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 60)

  # ---- every optimiser on the table, into one folder ---------------------------------------------------
  add_test(NAME cli_fit_all_optimisers COMMAND sh -c [=[
    dir=$1; csv=$2; rm -rf "$dir"
    mkdir -p "$dir"
    for opt in sgd adam diag-ng cg-ng kfac; do
      "$0" fit --data "$csv" --model auto-16-auto --act tanh --opt $opt --epochs 6 --batch 16 \
        --seed 3 --out "$dir/$opt" > "$dir.$opt.out" 2>&1; rc=$?
      cat "$dir.$opt.out"
      [ "$rc" -eq 0 ] || { echo "$opt: exit status $rc"; exit 1; }
      for f in config.ini progress.csv checkpoint.ngc curve.svg; do
        [ -s "$dir/$opt/$f" ] || { echo "$opt: missing $f"; exit 1; }
      done
      head -n 1 "$dir/$opt/progress.csv" | grep -q '^epoch,steps,seconds,batch_loss,train_loss,train_acc,test_loss,test_acc' || exit 1
      # rows 0..6; epoch 0 is the initial model; the training loss fell
      awk -F, 'NR > 1 && $1 != NR - 2 { print "bad row " NR; bad = 1 }
               NR == 2 { l0 = $5 } END { if (NR != 8 || !($5 < l0)) { print "rows " NR ", loss " l0 " -> " $5; bad = 1 }; exit bad }' \
        "$dir/$opt/progress.csv" || { echo "$opt: bad log"; exit 1; }
      grep -Eq '^epoch +6 +train loss [0-9.]+ acc [0-9.]+%  test loss' "$dir.$opt.out" || exit 1
    done
    # one plot with every run in the folder above: five legend entries per panel
    for opt in sgd adam diag-ng cg-ng kfac; do
      [ "$(grep -c ">$opt<" "$dir/fit.svg")" -ge 4 ] || { echo "fit.svg lacks $opt"; exit 1; }
    done
    # a second run in the same folder needs --force
    "$0" fit --data "$csv" --opt kfac --out "$dir/kfac" --epochs 1 > /dev/null 2>&1
    [ $? -eq 2 ] || { echo "rerun without --force was not refused"; exit 1; }
  ]=] ${NG_FIT_CLI} ${NG_FIT_DIR}/all ${NG_FIT_DIR}/table.csv)
  set_tests_properties(cli_fit_all_optimisers PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                       TIMEOUT 120)

  # ---- a resumed fit continues bit for bit ---------------------------------------------------------------
  # Run a: 4 epochs straight. Run b: 2 epochs, then --resume to 4. Every column but the
  # timing ones must agree, including the CRC-32 of the parameters after every epoch.
  foreach(opt sgd adam diag-ng cg-ng kfac)
    add_test(NAME cli_fit_resume_${opt} COMMAND sh -c [=[
      dir=$1; opt=$2; rm -rf "$dir"
      common="--data fashion-mnist --model auto-12-auto --opt $opt --batch 10 --seed 7 -q"
      "$0" fit $common --out "$dir/a" --epochs 4 || exit 1
      "$0" fit $common --out "$dir/b" --epochs 2 || exit 1
      "$0" fit --resume "$dir/b" --epochs 4 -q || { echo "resume failed"; exit 1; }
      cut -d, -f1,2,4-9,11,12 "$dir/a/progress.csv" > "$dir/a.cmp"
      cut -d, -f1,2,4-9,11,12 "$dir/b/progress.csv" > "$dir/b.cmp"
      cat "$dir/a.cmp"
      [ "$(wc -l < "$dir/a.cmp")" -eq 6 ] || { echo "expected 5 epochs of rows"; exit 1; }
      cmp "$dir/a.cmp" "$dir/b.cmp" || { diff "$dir/a.cmp" "$dir/b.cmp"; exit 1; }
    ]=] ${NG_FIT_CLI} ${NG_FIT_DIR}/resume_${opt} ${opt})
    set_tests_properties(cli_fit_resume_${opt} PROPERTIES TIMEOUT 60
                         ENVIRONMENT "OPENBLAS_NUM_THREADS=1;NATGRAD_FASHION_MNIST_DIR=${NG_FIT_IDX}")
  endforeach()

  # ---- K-FAC on the IDX folder learns the three classes; regression with both variances ----------------
  add_test(NAME cli_fit_idx_kfac COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    "$0" fit --data "$2" --model 16-32-auto --opt kfac --epochs 8 --batch 15 --out "$dir" || exit 1
    acc=$(tail -n 1 "$dir/progress.csv" | cut -d, -f8)
    echo "test accuracy $acc"
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || { echo "K-FAC did not learn idx-tiny"; exit 1; }
  ]=] ${NG_FIT_CLI} ${NG_FIT_DIR}/idx ${NG_FIT_IDX})
  add_test(NAME cli_fit_regression COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    for v in fixed learned; do
      "$0" fit --data "$2" --task regress --variance $v --model auto-16-auto --act tanh \
        --opt kfac --epochs 15 --batch 20 --out "$dir/$v" || exit 1
      awk -F, 'NR == 2 { r0 = $9 } END { print "rmse " r0 " -> " $9; exit !($9 < 0.5 * r0) }' \
        "$dir/$v/progress.csv" || exit 1
    done
    grep -q 'test RMSE' "$dir/fit.svg" || exit 1
  ]=] ${NG_FIT_CLI} ${NG_FIT_DIR}/reg ${NG_FIT_DIR}/reg.csv)
  set_tests_properties(cli_fit_idx_kfac cli_fit_regression PROPERTIES
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 120)
endif()
