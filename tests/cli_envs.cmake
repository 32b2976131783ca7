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
    "replay|--env|Acrobot-v1|--state|0,0,zero,0|--actions|-" 2 "--state: '0,0,zero,0'")
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
    "\n1,[^\n]*\n2,[^\n]*,-5\\.625,0,0\n.*step 3 \\(actions line 3\\): non-finite value")
endif()
