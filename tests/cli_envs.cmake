# CTest registrations for `natgrad list` and `natgrad replay` (included from the main
# CMakeLists inside if(NG_BUILD_TESTS), after the natgrad_cli target).
#
# Each test runs the CLI through a small CMake script (written here at configure time) that
# checks the exit code and that the output (stdout and stderr together) matches a regular
# expression, so that a failure case is checked for its status and its message both.
if(TARGET natgrad_cli)
  set(NG_CLI_ENVS_DIR ${CMAKE_BINARY_DIR}/cli_envs)
  file(MAKE_DIRECTORY ${NG_CLI_ENVS_DIR})

  # Runs ARGS ('|'-separated) with the CLI, expects exit code EXPECT_RC and output matching
  # EXPECT_RE; STDIN_FILE, if set, is fed to standard input.
  file(WRITE ${NG_CLI_ENVS_DIR}/run_cli.cmake [=[
string(REPLACE "|" ";" args "${ARGS}")
if(STDIN_FILE)
  execute_process(COMMAND ${CLI} ${args} INPUT_FILE ${STDIN_FILE}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
else()
  execute_process(COMMAND ${CLI} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
endif()
set(all "${out}${err}")
if(NOT "${rc}" STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECT_RC}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT all MATCHES "${EXPECT_RE}")
  message(FATAL_ERROR "output does not match '${EXPECT_RE}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
]=])

  function(ng_cli_envs_test name args rc regex)
    set(extra ${ARGN})
    add_test(NAME ${name}
             COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:natgrad_cli> "-DARGS=${args}"
                     -DEXPECT_RC=${rc} "-DEXPECT_RE=${regex}" ${extra}
                     -P ${NG_CLI_ENVS_DIR}/run_cli.cmake)
  endfunction()

  # Action files.
  file(WRITE ${NG_CLI_ENVS_DIR}/cartpole_actions.txt "# push right, left, right\n1\n0\n\n1\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/cartpole_many.txt "1\n1\n1\n1\n1\n1\n1\n1\n1\n1\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/cartpole_bad.txt "1\n0\n2\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/cartpole_text.txt "1\nleft\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/pendulum_actions.txt "0.5\n-3\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/mcc_actions.txt "0.25\n -7.5 \n1e300\n")

  ng_cli_envs_test(cli_envs_list "list" 0
    "CartPole-v1\n  observation  Box\\(4\\) low \\[-4.80000019, -inf, -0.418879032, -inf\\].*\n  action       Discrete\\(2\\)\n  time limit   500 steps.*Pendulum-v1.*Acrobot-v1.*MountainCar-v0.*MountainCarContinuous-v0\n  observation  Box\\(2\\).*time limit   999 steps")
  ng_cli_envs_test(cli_envs_list_ids "list|--ids" 0
    "^CartPole-v1\nPendulum-v1\nAcrobot-v1\nMountainCar-v0\nMountainCarContinuous-v0\n")
  ng_cli_envs_test(cli_envs_list_help "list|--help" 0 "usage: natgrad list")
  ng_cli_envs_test(cli_envs_replay_help "replay|--help" 0 "usage: natgrad replay.*exit status")

  # A few CartPole steps from the upright rest state (comment and blank lines skipped). From
  # theta = 0 a push to the right gives x_dot = tau 4F / (4M - 3m) = 0.19512195 and
  # theta_dot = -tau 3F / (l (4M - 3m)) = -0.29268293 (M = 1.1, m = 0.1, l = 0.5, F = 10,
  # tau = 0.02), then x = tau x_dot = 0.0039024 after the second step.
  ng_cli_envs_test(cli_envs_replay_cartpole
    "replay|--env|CartPole-v1|--state|0,0,0,0|--actions|${NG_CLI_ENVS_DIR}/cartpole_actions.txt" 0
    "^step,obs_0,obs_1,obs_2,obs_3,reward,terminated,truncated\n1,0,0.1951219[0-9]*,0,-0.2926829[0-9]*,1,0,0\n2,0.0039024[0-9]*,[^\n]*,1,0,0\n3,[^\n]*,1,0,0\n$")
  # Reading the actions from standard input.
  ng_cli_envs_test(cli_envs_replay_stdin
    "replay|--env|Pendulum-v1|--state|0,0|--actions|-" 0
    "^step,obs_0,obs_1,obs_2,reward,terminated,truncated\n1,0.99999[0-9]*,0.00374999[0-9]*,0.075000002[0-9]*,-0.00025000[0-9]*,0,0\n2,[^\n]*,0,0\n$"
    -DSTDIN_FILE=${NG_CLI_ENVS_DIR}/pendulum_actions.txt)
  # Stops at termination and says that actions remain.
  ng_cli_envs_test(cli_envs_replay_terminates
    "replay|--env|CartPole-v1|--state|0,0,0.2,1|--actions|${NG_CLI_ENVS_DIR}/cartpole_many.txt" 0
    "\n1,[^\n]*,1,1,0\n.*terminated at step 1; 9 remaining actions not taken")
  ng_cli_envs_test(cli_envs_replay_seed
    "replay|--env|MountainCar-v0|--seed|3|--actions|${NG_CLI_ENVS_DIR}/cartpole_actions.txt" 0
    "^step,obs_0,obs_1,reward,terminated,truncated\n1,-0\\.[0-9]+,[^\n]*,-1,0,0\n")

  # Failures: status 2 for bad input, 1 for a dynamics error; each with its message.
  ng_cli_envs_test(cli_envs_replay_unknown_env
    "replay|--env|CartPole-v9|--state|0,0,0,0|--actions|-" 2
    "unknown environment 'CartPole-v9' \\(known: CartPole-v1, Pendulum-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0")
  ng_cli_envs_test(cli_envs_replay_state_count
    "replay|--env|CartPole-v1|--state|0,0,0|--actions|-" 2
    "CartPole-v1 takes 4 values \\(x,x_dot,theta,theta_dot\\), got 3")
  ng_cli_envs_test(cli_envs_replay_state_text
    "replay|--env|Acrobot-v1|--state|0,0,zero,0|--actions|-" 2
    "--state: 'zero' is not a decimal number [^\n]* in '0,0,zero,0'")
  ng_cli_envs_test(cli_envs_replay_bad_action
    "replay|--env|CartPole-v1|--state|0,0,0,0|--actions|${NG_CLI_ENVS_DIR}/cartpole_bad.txt" 2
    "actions line 3: action 2 is not one of 0..1")
  ng_cli_envs_test(cli_envs_replay_text_action
    "replay|--env|CartPole-v1|--state|0,0,0,0|--actions|${NG_CLI_ENVS_DIR}/cartpole_text.txt" 2
    "actions line 2: expected an integer action, got 'left")
  ng_cli_envs_test(cli_envs_replay_missing_file
    "replay|--env|CartPole-v1|--state|0,0,0,0|--actions|${NG_CLI_ENVS_DIR}/no_such_file.txt" 2
    "cannot open actions file '.*no_such_file.txt'")
  ng_cli_envs_test(cli_envs_replay_usage
    "replay|--env|CartPole-v1|--actions|-" 2 "needs --env, --actions and one of --state or --seed")
  ng_cli_envs_test(cli_envs_replay_dynamics
    "replay|--env|MountainCarContinuous-v0|--state|-0.5,0|--actions|${NG_CLI_ENVS_DIR}/mcc_actions.txt" 1
    "\n1,[^\n]*\n2,[^\n]*,-5\\.625,0,0\n.*step 3 \\(actions line 3\\): the dynamics produced a NaN or Inf")

  # ---- issue 17, item 6: a strict number reader, non-finite observations, MuJoCo ------------
  # One number per token: glued numbers, two decimal points, hex, inf/nan, a missing number
  # are each a usage error naming the token and the line (they used to be read as three
  # numbers, as 0.5 then .5, as 1, and so on).
  file(WRITE ${NG_CLI_ENVS_DIR}/glued.txt "0.25\n0.1-0.2 0.3\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/two_points.txt "0.5.5 0\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/hex.txt "0x1\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/inf.txt "inf\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/empty_item.txt "1,\n")
  file(WRITE ${NG_CLI_ENVS_DIR}/accepted.txt "+.5\n5.\n -1e-3 \n2E+0\r\n")
  set(pd "replay|--env|Pendulum-v1|--state|0,0|--actions")
  ng_cli_envs_test(cli_replay_number_glued "${pd}|${NG_CLI_ENVS_DIR}/glued.txt" 2
    "actions line 2: '0.1-0.2' is not a decimal number")
  ng_cli_envs_test(cli_replay_number_two_points "${pd}|${NG_CLI_ENVS_DIR}/two_points.txt" 2
    "actions line 1: '0.5.5' is not a decimal number")
  ng_cli_envs_test(cli_replay_number_hex "${pd}|${NG_CLI_ENVS_DIR}/hex.txt" 2
    "actions line 1: '0x1' is not a decimal number")
  ng_cli_envs_test(cli_replay_number_inf "${pd}|${NG_CLI_ENVS_DIR}/inf.txt" 2
    "actions line 1: 'inf' is not a decimal number")
  ng_cli_envs_test(cli_replay_number_missing "${pd}|${NG_CLI_ENVS_DIR}/empty_item.txt" 2
    "actions line 1: a number is missing in '1,'")
  ng_cli_envs_test(cli_replay_state_hex
    "replay|--env|CartPole-v1|--state|0x1,0,0,0|--actions|-" 2
    "--state: '0x1' is not a decimal number")
  ng_cli_envs_test(cli_replay_state_needs_commas
    "replay|--env|CartPole-v1|--state|0 0 0 0|--actions|-" 2
    "--state: the numbers must be separated by commas")
  # Signs, a bare point, exponents and a CRLF line end are decimal numbers too.
  ng_cli_envs_test(cli_replay_numbers_accepted
    "replay|--env|MountainCarContinuous-v0|--state|-0.5,0|--actions|${NG_CLI_ENVS_DIR}/accepted.txt" 0
    "\n1,[^\n]*,-0\\.025[0-9]*,0,0\n2,[^\n]*,-2\\.5,0,0\n3,[^\n]*\n4,[^\n]*,-0\\.4[0-9]*,0,0\n$")
  # A NUL byte is an error naming its line (it used to cut the line short: "0<NUL>1" read 0).
  add_test(NAME cli_replay_nul_byte COMMAND sh -c [=[
    printf '1\n0\0001\n' | "$0" replay --env CartPole-v1 --state 0,0,0,0 --actions - > "$1" 2>&1
    rc=$?; cat "$1"
    [ "$rc" -eq 2 ] || { echo "exit status $rc, expected 2"; exit 1; }
    grep -q "actions line 2: a NUL byte at column 2" "$1" || exit 1
    ! grep -q '^1,' "$1" || { echo "a step was taken"; exit 1; }
  ]=] $<TARGET_FILE:natgrad_cli> ${NG_CLI_ENVS_DIR}/nul.out)
  # A state whose observation leaves float32's range: exit status 1, the step named, and no
  # row of inf printed (it printed inf observations and exited 0).
  ng_cli_envs_test(cli_replay_nonfinite_observation
    "replay|--env|CartPole-v1|--state|0,1e308,0,0|--actions|${NG_CLI_ENVS_DIR}/cartpole_many.txt" 1
    "^step,[^\n]*\n[^0-9]*step 1 \\(actions line 1\\): the observation is not finite \\(obs_0 = inf")
  # The help no longer says that MuJoCo actions are clipped (they are not, as in Gymnasium).
  ng_cli_envs_test(cli_replay_help_clipping "replay|--help" 0
    "MuJoCo environments do not clip \\(MuJoCo clamps the\n *control inside the dynamics")
  if(NG_MUJOCO AND NG_MUJOCO_INCLUDE_DIR AND NG_MUJOCO_LIBRARY)
    # Velocities of 9e8 make MuJoCo's accelerations exceed its 1e10 limit: reported as a
    # diverged simulation, not as "non-finite value (NaN or Inf)"; a state beyond the limit
    # is refused as such.
    file(WRITE ${NG_CLI_ENVS_DIR}/hopper_actions.txt "0 0 0\n0, 0, 0\n")
    ng_cli_envs_test(cli_replay_mujoco_diverged
      "replay|--env|Hopper-v5|--state|0,1.25,0,0,0,0,0,0,0,0,0,9e8|--actions|${NG_CLI_ENVS_DIR}/hopper_actions.txt" 1
      "step 1 \\(actions line 1\\): the simulation diverged: [^\n]*beyond MuJoCo's limit of 1e10")
    ng_cli_envs_test(cli_replay_mujoco_state_range
      "replay|--env|Hopper-v5|--state|0,1.25,0,0,0,0,0,0,0,0,0,2e10|--actions|-" 2
      "--state: Hopper-v5 rejected the state: a value beyond MuJoCo's limit of 1e10")
    # Replay from qpos/qvel for the last four of the suite: Reacher's target (qpos[2:4]) is
    # observed as given; a Humanoid lying at z = 0.105 is unhealthy after one step
    # (terminated), the same state in HumanoidStandup is its start (not terminated); Pusher
    # observes 23 values.
    file(WRITE ${NG_CLI_ENVS_DIR}/reacher_actions.txt "0.5 -0.5\n1 1\n")
    ng_cli_envs_test(cli_replay_reacher
      "replay|--env|Reacher-v5|--state|0,0,0.1,-0.1,0,0,0,0|--actions|${NG_CLI_ENVS_DIR}/reacher_actions.txt" 0
      "obs_9,reward,terminated,truncated\n1,[^,\n]*,[^,\n]*,[^,\n]*,[^,\n]*,0\\.10000000000000001,-0\\.10000000000000001,[^\n]*,0,0\n2,")
    file(WRITE ${NG_CLI_ENVS_DIR}/zeros17.txt "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
    set(_lying "0,0,0.105,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0")
    set(_still "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0")
    ng_cli_envs_test(cli_replay_humanoid
      "replay|--env|Humanoid-v5|--state|${_lying},${_still}|--actions|${NG_CLI_ENVS_DIR}/zeros17.txt" 0
      "obs_347,reward,terminated,truncated\n1,[^\n]*,1,0\n$")
    ng_cli_envs_test(cli_replay_humanoid_standup
      "replay|--env|HumanoidStandup-v5|--state|${_lying},${_still}|--actions|${NG_CLI_ENVS_DIR}/zeros17.txt" 0
      "obs_347,reward,terminated,truncated\n1,[^\n]*,0,0\n$")
    ng_cli_envs_test(cli_replay_pusher
      "replay|--env|Pusher-v5|--state|0,0,0,0,0,0,0,-0.2,0.1,0,0,0,0,0,0,0,0,0,0,0,0,0|--actions|-" 0
      "obs_22,reward,terminated,truncated\n$")
  endif()
endif()
