/* Environments: one-step dynamics against the documented equations recomputed here in their
 * own form (Cramer's rule for the Acrobot, the textbook CartPole), thresholds and clipping,
 * the time limit, initial-state distributions, float32 observations, bad inputs, and no
 * allocation after create.
 *
 * Gymnasium itself is not installed on this machine (Debian 12 has no python3-gymnasium),
 * so trajectories are not compared with it here; the one-step checks pin down the same
 * equations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/env.h"
#include "ng_test.h"

/* One step recomputed in another algebraic form agrees to this (relative, with the same
 * absolute floor). */
#define STEP_TOL 1e-12
/* Observations are float32 roundings of a state known to STEP_TOL: one float32 ulp. */
#define OBS_TOL 1.2e-7
#define PI 3.141592653589793

/* ---- helpers ---- */

/* The classic-control environments this file covers (the registry holds others too). */
static const char *const classic_ids[] = {"CartPole-v1", "Pendulum-v1", "Acrobot-v1",
                                          "MountainCar-v0", "MountainCarContinuous-v0"};
#define N_CLASSIC (sizeof classic_ids / sizeof classic_ids[0])

/* float32 rounding through a volatile so that no optimiser can drop the round trip. */
static double f32(double x) {
  volatile float f = (float)x;
  return (double)f;
}

static int is_f32(size_t n, const double *x) {
  for (size_t i = 0; i < n; i++)
    if (f32(x[i]) != x[i]) return 0;
  return 1;
}

static ng_env_t *make(const char *id) {
  ng_env_t *env = NULL;
  int s = ng_env_create(&env, id, NULL);
  NG_CHECK_STATUS(s, NG_OK);
  if (s != NG_OK) {
    fprintf(stderr, "cannot create %s\n", id);
    exit(1);
  }
  return env;
}

typedef struct {
  double obs[8], reward, state[4];
  int terminated, truncated, status;
} step_t;

/* Sets state s, takes action a (n doubles), records everything. */
static step_t step_from(ng_env_t *env, const double *s, const double *a) {
  step_t r;
  memset(&r, 0, sizeof r);
  double obs0[8];
  NG_CHECK_OK(ng_env_set_state(env, s, obs0));
  r.status = ng_env_step(env, a, r.obs, &r.reward, &r.terminated, &r.truncated);
  NG_CHECK_OK(ng_env_get_state(env, r.state));
  return r;
}

/* The observation must be float32 values and, for the envs whose observation is the
 * state, exactly the float32 rounding of the state. */
static void check_obs_f32(const ng_env_t *env, const double *obs) {
  size_t n = ng_space_size(&ng_env_info(env)->observation_space);
  NG_CHECK(is_f32(n, obs));
}

/* ---- registry and spaces ---- */

static void test_registry(void) {
  static const int limits[] = {500, 200, 500, 200, 999};
  NG_CHECK(ng_env_count() >= N_CLASSIC);
  for (size_t i = 0; i < N_CLASSIC; i++) {
    const ng_env_info_t *info = ng_env_find(classic_ids[i]);
    NG_CHECK(info != NULL);
    if (!info) continue;
    NG_CHECK(ng_env_info_at(i) == info);
    NG_CHECK(info->max_episode_steps == limits[i]);
    NG_CHECK(info->state_doc && info->summary && info->state_size <= 4);
    const ng_space_t *o = &info->observation_space;
    NG_CHECK(o->kind == NG_SPACE_BOX && ng_space_size(o) == o->dim);
    for (size_t k = 0; k < o->dim; k++) {
      NG_CHECK(o->low[k] < o->high[k]);
      NG_CHECK(isinf(o->high[k]) || f32(o->high[k]) == o->high[k]);
      NG_CHECK(isinf(o->low[k]) || f32(o->low[k]) == o->low[k]);
    }
  }
  NG_CHECK(ng_env_info_at(ng_env_count()) == NULL);
  NG_CHECK(ng_env_find("CartPole-v0") == NULL);
  NG_CHECK(ng_env_find(NULL) == NULL);

  /* The bounds Gymnasium declares (float32 arrays). */
  const ng_env_info_t *cp = ng_env_find("CartPole-v1");
  NG_CHECK(cp->observation_space.high[0] == (double)4.8f);
  NG_CHECK(isinf(cp->observation_space.high[1]) && isinf(cp->observation_space.high[3]));
  NG_CHECK(cp->observation_space.high[2] == f32(2 * (24 * PI / 360)));
  NG_CHECK(cp->action_space.kind == NG_SPACE_DISCRETE && cp->action_space.dim == 2);
  NG_CHECK(ng_space_size(&cp->action_space) == 1);
  const ng_env_info_t *pd = ng_env_find("Pendulum-v1");
  NG_CHECK(pd->observation_space.dim == 3 && pd->observation_space.high[2] == 8.0);
  NG_CHECK(pd->action_space.kind == NG_SPACE_BOX && pd->action_space.high[0] == 2.0 &&
           pd->action_space.low[0] == -2.0);
  const ng_env_info_t *ab = ng_env_find("Acrobot-v1");
  NG_CHECK(ab->observation_space.dim == 6 && ab->observation_space.high[4] == f32(4 * PI) &&
           ab->observation_space.high[5] == f32(9 * PI));
  NG_CHECK(ab->action_space.dim == 3);
  const ng_env_info_t *mc = ng_env_find("MountainCar-v0");
  NG_CHECK(mc->observation_space.low[0] == (double)-1.2f &&
           mc->observation_space.high[0] == (double)0.6f &&
           mc->observation_space.high[1] == (double)0.07f);
  NG_CHECK(mc->action_space.dim == 3);
  const ng_env_info_t *mcc = ng_env_find("MountainCarContinuous-v0");
  NG_CHECK(mcc->action_space.kind == NG_SPACE_BOX && mcc->action_space.low[0] == -1.0 &&
           mcc->action_space.high[0] == 1.0);
  NG_CHECK(mcc->observation_space.low[1] == (double)-0.07f);

  ng_space_t none = {.kind = NG_SPACE_BOX, .dim = 0, .low = NULL, .high = NULL};
  NG_CHECK(ng_space_size(&none) == 0 && ng_space_size(NULL) == 0);

  ng_env_t *env = NULL;
  ng_error_t err;
  NG_CHECK_STATUS(ng_env_create(&env, "Nope-v9", &err), NG_ENOTFOUND);
  NG_CHECK(env == NULL && err.status == NG_ENOTFOUND);
  NG_CHECK(strstr(err.message, "Nope-v9") && strstr(err.message, "CartPole-v1") &&
           strstr(err.message, "MountainCarContinuous-v0"));
  NG_CHECK_STATUS(ng_env_create(NULL, "CartPole-v1", NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_env_create(&env, NULL, NULL), NG_EINVAL);
  NG_CHECK(ng_env_info(NULL) == NULL);
  NG_CHECK(ng_env_rng(NULL) == NULL);
  ng_env_destroy(NULL);
}

/* ---- CartPole ---- */

/* The textbook form (Florian 2005, eqs. 23-24 with mu = 0): the pole's angular acceleration
 * and the cart's acceleration F + m l (w^2 sin - a cos) over the total mass. */
static void cartpole_ref(const double s[4], int action, double out[4]) {
  const double g = 9.8, mc = 1.0, mp = 0.1, l = 0.5, tau = 0.02;
  double M = mc + mp, F = action == 1 ? 10.0 : -10.0;
  double th = s[2], w = s[3], st = sin(th), ct = cos(th);
  double alpha = (g * st + ct * (-F - mp * l * w * w * st) / M) / (l * (4.0 / 3.0 - mp * ct * ct / M));
  double xacc = (F + mp * l * (w * w * st - alpha * ct)) / M;
  out[0] = s[0] + tau * s[1];
  out[1] = s[1] + tau * xacc;
  out[2] = th + tau * w;
  out[3] = w + tau * alpha;
}

static void test_cartpole_step(void) {
  ng_env_t *env = make("CartPole-v1");
  ng_rng_t rng;
  ng_rng_seed(&rng, 11, 0);
  for (int trial = 0; trial < 200; trial++) {
    double s[4] = {ng_rng_uniform_range(&rng, -2.3, 2.3), ng_rng_uniform_range(&rng, -3, 3),
                   ng_rng_uniform_range(&rng, -0.2, 0.2), ng_rng_uniform_range(&rng, -3, 3)};
    for (int a = 0; a < 2; a++) {
      double act = a, want[4];
      step_t r = step_from(env, s, &act);
      NG_CHECK_OK(r.status);
      cartpole_ref(s, a, want);
      for (int i = 0; i < 4; i++) {
        NG_CHECK_CLOSE(r.state[i], want[i], STEP_TOL, STEP_TOL);
        NG_CHECK(r.obs[i] == f32(r.state[i])); /* np.array(state, dtype=np.float32) */
        NG_CHECK_CLOSE(r.obs[i], want[i], OBS_TOL, 1e-12);
      }
      NG_CHECK(r.reward == 1.0);
      int term = fabs(r.state[0]) > 2.4 || fabs(r.state[2]) > 24 * PI / 360;
      NG_CHECK(r.terminated == term);
      NG_CHECK(r.truncated == 0);
    }
  }
  ng_env_destroy(env);
}

/* With zero velocities the positions do not move, so a state on a threshold stays on it. */
static void test_cartpole_thresholds(void) {
  ng_env_t *env = make("CartPole-v1");
  const double thr = 12 * 2 * PI / 360;
  const double xs[][2] = {{2.4, 0}, {-2.4, 0}};
  for (int k = 0; k < 2; k++) {
    double sign = xs[k][0] > 0 ? 1 : -1;
    double act = 0;
    double in[4] = {xs[k][0], 0, 0, 0};
    step_t r = step_from(env, in, &act);
    NG_CHECK(r.state[0] == in[0]);
    NG_CHECK(r.terminated == 0); /* on the line: still inside */
    NG_CHECK(r.reward == 1.0);
    double out[4] = {nextafter(xs[k][0], sign * INFINITY), 0, 0, 0};
    r = step_from(env, out, &act);
    NG_CHECK(r.terminated == 1 && r.reward == 1.0);

    double tin[4] = {0, 0, sign * thr, 0};
    r = step_from(env, tin, &act);
    NG_CHECK(r.state[2] == tin[2] && r.terminated == 0);
    double tout[4] = {0, 0, nextafter(sign * thr, sign * INFINITY), 0};
    r = step_from(env, tout, &act);
    NG_CHECK(r.terminated == 1);
  }
  /* After termination the env refuses to step until reset or set_state. */
  double out[4] = {3.0, 0, 0, 0}, obs[4], rew, act = 1;
  int te, tr;
  NG_CHECK_OK(ng_env_set_state(env, out, obs));
  NG_CHECK_OK(ng_env_step(env, &act, obs, &rew, &te, &tr));
  NG_CHECK(te == 1);
  NG_CHECK_STATUS(ng_env_step(env, &act, obs, &rew, &te, &tr), NG_EINVAL);
  NG_CHECK_OK(ng_env_reset(env, obs));
  NG_CHECK_OK(ng_env_step(env, &act, obs, &rew, &te, &tr));
  ng_env_destroy(env);
}

/* ---- Pendulum ---- */

static void pendulum_ref(const double s[2], double u_in, double out[2], double *reward) {
  double u = u_in < -2 ? -2 : (u_in > 2 ? 2 : u_in);
  double th = s[0], w = s[1];
  double an = atan2(sin(th), cos(th)); /* the angle in (-pi, pi] */
  double cost = an * an + 0.1 * w * w + 0.001 * u * u;
  /* thdot' = thdot + (3 g / (2 l) sin th + 3 / (m l^2) u) dt with g = 10, m = l = 1 */
  double w1 = w + 0.05 * (15.0 * sin(th) + 3.0 * u);
  if (w1 > 8) w1 = 8;
  if (w1 < -8) w1 = -8;
  out[0] = th + 0.05 * w1;
  out[1] = w1;
  *reward = -cost;
}

static void test_pendulum_step(void) {
  ng_env_t *env = make("Pendulum-v1");
  ng_rng_t rng;
  ng_rng_seed(&rng, 12, 0);
  for (int trial = 0; trial < 200; trial++) {
    /* angles over several turns: the cost wraps them, the state does not */
    double s[2] = {ng_rng_uniform_range(&rng, -12, 12), ng_rng_uniform_range(&rng, -8, 8)};
    for (int k = 0; k <= 10; k++) {
      double u = -3.0 + 0.6 * k; /* covers both clips */
      double want[2], wr;
      step_t r = step_from(env, s, &u);
      NG_CHECK_OK(r.status);
      pendulum_ref(s, u, want, &wr);
      NG_CHECK_CLOSE(r.state[0], want[0], STEP_TOL, STEP_TOL);
      NG_CHECK_CLOSE(r.state[1], want[1], STEP_TOL, STEP_TOL);
      NG_CHECK_CLOSE(r.reward, wr, STEP_TOL, STEP_TOL);
      NG_CHECK(r.obs[0] == f32(cos(r.state[0])) && r.obs[1] == f32(sin(r.state[0])) &&
               r.obs[2] == f32(r.state[1]));
      NG_CHECK(r.terminated == 0 && r.truncated == 0);
      NG_CHECK(fabs(r.state[1]) <= 8.0);
      NG_CHECK(r.reward <= 0 && r.reward >= -(PI * PI + 0.1 * 64 + 0.001 * 4));
    }
  }
  ng_env_destroy(env);
}

static void test_pendulum_invariants(void) {
  ng_env_t *env = make("Pendulum-v1");
  /* Torque beyond the bounds acts and costs like the bound. */
  double s[2] = {0.3, -1.0}, u2 = 2.0, u9 = 9.0, m2 = -2.0, m9 = -1e6;
  step_t a = step_from(env, s, &u2), b = step_from(env, s, &u9);
  NG_CHECK(a.state[0] == b.state[0] && a.state[1] == b.state[1] && a.reward == b.reward);
  a = step_from(env, s, &m2);
  b = step_from(env, s, &m9);
  NG_CHECK(a.state[0] == b.state[0] && a.state[1] == b.state[1] && a.reward == b.reward);
  /* The velocity saturates at exactly +-8. */
  double fast[2] = {PI / 2, 7.9}, slow[2] = {-PI / 2, -7.9};
  a = step_from(env, fast, &u2);
  NG_CHECK(a.state[1] == 8.0 && a.state[0] == PI / 2 + 8.0 * 0.05);
  a = step_from(env, slow, &m2);
  NG_CHECK(a.state[1] == -8.0);
  /* The cost sees the angle modulo 2 pi; the state keeps the turns. */
  double zero = 0;
  double t0[2] = {1.0, 0.5}, t1[2] = {1.0 + 2 * PI, 0.5}, t2[2] = {1.0 - 6 * PI, 0.5};
  step_t r0 = step_from(env, t0, &zero), r1 = step_from(env, t1, &zero),
         r2 = step_from(env, t2, &zero);
  NG_CHECK_CLOSE(r1.reward, r0.reward, 1e-13, 1e-13);
  NG_CHECK_CLOSE(r2.reward, r0.reward, 1e-13, 1e-13);
  NG_CHECK(r1.state[0] > 2 * PI && r2.state[0] < -4 * PI);
  /* Upright and still costs nothing; hanging down costs pi^2. */
  double up[2] = {0, 0}, down[2] = {PI, 0};
  a = step_from(env, up, &zero);
  NG_CHECK(a.reward == 0.0);
  a = step_from(env, down, &zero);
  NG_CHECK_CLOSE(a.reward, -PI * PI, 1e-15, 0);
  ng_env_destroy(env);
}

/* ---- Acrobot ---- */

/* Shape: y[4] -> dy[4]. The "book" equations of motion as a 2x2 linear system
 *   d11 a1 + d12 a2 = -(h1 + phi1),   d12 a1 + d22 a2 = tau - h2 - phi2
 * solved by Cramer's rule. */
static void acrobot_deriv(const double y[4], double tau, double dy[4]) {
  const double m1 = 1, m2 = 1, l1 = 1, lc1 = 0.5, lc2 = 0.5, I1 = 1, I2 = 1, g = 9.8;
  double t1 = y[0], t2 = y[1], w1 = y[2], w2 = y[3];
  double d11 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * cos(t2)) + I1 + I2;
  double d12 = m2 * (lc2 * lc2 + l1 * lc2 * cos(t2)) + I2;
  double d22 = m2 * lc2 * lc2 + I2;
  double h1 = -m2 * l1 * lc2 * sin(t2) * (w2 * w2 + 2 * w1 * w2);
  double h2 = m2 * l1 * lc2 * sin(t2) * w1 * w1;
  double phi2 = m2 * lc2 * g * sin(t1 + t2); /* cos(x - pi/2) = sin(x) */
  double phi1 = (m1 * lc1 + m2 * l1) * g * sin(t1) + phi2;
  double r1 = -(h1 + phi1), r2 = tau - h2 - phi2;
  double det = d11 * d22 - d12 * d12;
  dy[0] = w1;
  dy[1] = w2;
  dy[2] = (r1 * d22 - d12 * r2) / det;
  dy[3] = (d11 * r2 - d12 * r1) / det;
}

static void acrobot_ref(const double s[4], int action, double out[4]) {
  const double tau = action - 1.0, h = 0.2;
  double k[4][4], y[4];
  acrobot_deriv(s, tau, k[0]);
  for (int i = 0; i < 4; i++) y[i] = s[i] + h / 2 * k[0][i];
  acrobot_deriv(y, tau, k[1]);
  for (int i = 0; i < 4; i++) y[i] = s[i] + h / 2 * k[1][i];
  acrobot_deriv(y, tau, k[2]);
  for (int i = 0; i < 4; i++) y[i] = s[i] + h * k[2][i];
  acrobot_deriv(y, tau, k[3]);
  for (int i = 0; i < 4; i++) out[i] = s[i] + h / 6 * (k[0][i] + 2 * k[1][i] + 2 * k[2][i] + k[3][i]);
  out[2] = fmax(-4 * PI, fmin(4 * PI, out[2]));
  out[3] = fmax(-9 * PI, fmin(9 * PI, out[3]));
  /* angles: compared modulo 2 pi by the caller */
}

/* Distance of two angles on the circle. */
static double angle_dist(double a, double b) { return fabs(remainder(a - b, 2 * PI)); }

static void test_acrobot_step(void) {
  ng_env_t *env = make("Acrobot-v1");
  ng_rng_t rng;
  ng_rng_seed(&rng, 13, 0);
  for (int trial = 0; trial < 200; trial++) {
    double s[4] = {ng_rng_uniform_range(&rng, -PI, PI), ng_rng_uniform_range(&rng, -PI, PI),
                   ng_rng_uniform_range(&rng, -4 * PI, 4 * PI),
                   ng_rng_uniform_range(&rng, -9 * PI, 9 * PI)};
    for (int a = 0; a < 3; a++) {
      double act = a, want[4];
      step_t r = step_from(env, s, &act);
      NG_CHECK_OK(r.status);
      acrobot_ref(s, a, want);
      double scale = 1 + fabs(want[0]) + fabs(want[1]);
      NG_CHECK(angle_dist(r.state[0], want[0]) <= STEP_TOL * scale);
      NG_CHECK(angle_dist(r.state[1], want[1]) <= STEP_TOL * scale);
      NG_CHECK_CLOSE(r.state[2], want[2], STEP_TOL, STEP_TOL);
      NG_CHECK_CLOSE(r.state[3], want[3], STEP_TOL, STEP_TOL);
      /* wrapped angles, bounded velocities */
      NG_CHECK(r.state[0] >= -PI && r.state[0] <= PI && r.state[1] >= -PI && r.state[1] <= PI);
      NG_CHECK(fabs(r.state[2]) <= 4 * PI && fabs(r.state[3]) <= 9 * PI);
      NG_CHECK(r.obs[0] == f32(cos(r.state[0])) && r.obs[1] == f32(sin(r.state[0])) &&
               r.obs[2] == f32(cos(r.state[1])) && r.obs[3] == f32(sin(r.state[1])) &&
               r.obs[4] == f32(r.state[2]) && r.obs[5] == f32(r.state[3]));
      int term = -cos(r.state[0]) - cos(r.state[1] + r.state[0]) > 1.0;
      NG_CHECK(r.terminated == term);
      NG_CHECK(r.reward == (term ? 0.0 : -1.0));
    }
  }
  ng_env_destroy(env);
}

/* The tip height after one step, as a function of the initial theta1. */
static double acrobot_height_after(ng_env_t *env, double t1, int *terminated) {
  double s[4] = {t1, 0.3, 0, 0}, act = 1;
  step_t r = step_from(env, s, &act);
  *terminated = r.terminated;
  return -cos(r.state[0]) - cos(r.state[1] + r.state[0]);
}

static void test_acrobot_invariants(void) {
  ng_env_t *env = make("Acrobot-v1");
  /* Termination flips exactly where the height crosses 1 (strictly above terminates):
   * bisect the initial angle down to neighbouring doubles around the crossing. */
  double lo = 1.0, hi = 2.8;
  int tlo, thi;
  double hlo = acrobot_height_after(env, lo, &tlo), hhi = acrobot_height_after(env, hi, &thi);
  NG_CHECK(hlo < 1.0 && hhi > 1.0 && !tlo && thi);
  for (int it = 0; it < 200 && nextafter(lo, hi) != hi; it++) {
    double mid = 0.5 * (lo + hi);
    int tm;
    double hm = acrobot_height_after(env, mid, &tm);
    NG_CHECK(tm == (hm > 1.0));
    if (hm > 1.0)
      hi = mid;
    else
      lo = mid;
  }
  NG_CHECK(nextafter(lo, hi) == hi);
  hlo = acrobot_height_after(env, lo, &tlo);
  hhi = acrobot_height_after(env, hi, &thi);
  NG_CHECK(!tlo && thi && hlo <= 1.0 && hhi > 1.0);

  /* Velocities beyond the bounds are clipped to exactly +-4 pi and +-9 pi. */
  double fast[4] = {0, 0, 30, -60}, act = 1;
  step_t r = step_from(env, fast, &act);
  NG_CHECK(r.state[2] == 4 * PI && r.state[3] == -9 * PI);
  NG_CHECK(r.obs[4] == f32(4 * PI) && r.obs[5] == f32(-9 * PI));
  /* Angles far outside [-pi, pi] are wrapped back (and quickly). */
  double far[4] = {1e9, -7.5, 0, 0};
  r = step_from(env, far, &act);
  NG_CHECK_OK(r.status);
  NG_CHECK(r.state[0] >= -PI && r.state[0] <= PI && r.state[1] >= -PI && r.state[1] <= PI);
  ng_env_destroy(env);
}

/* ---- MountainCar ---- */

static void mountain_car_ref(const double s[2], int action, double out[2]) {
  double v = s[1] + 0.001 * (action - 1) - 0.0025 * cos(3 * s[0]);
  v = fmin(fmax(v, -0.07), 0.07);
  double p = fmin(fmax(s[0] + v, -1.2), 0.6);
  if (p == -1.2 && v < 0) v = 0;
  out[0] = p;
  out[1] = v;
}

static void test_mountain_car_step(void) {
  ng_env_t *env = make("MountainCar-v0");
  ng_rng_t rng;
  ng_rng_seed(&rng, 14, 0);
  for (int trial = 0; trial < 300; trial++) {
    double s[2] = {ng_rng_uniform_range(&rng, -1.2, 0.6), ng_rng_uniform_range(&rng, -0.07, 0.07)};
    for (int a = 0; a < 3; a++) {
      double act = a, want[2];
      step_t r = step_from(env, s, &act);
      NG_CHECK_OK(r.status);
      mountain_car_ref(s, a, want);
      NG_CHECK_CLOSE(r.state[0], want[0], STEP_TOL, STEP_TOL);
      NG_CHECK_CLOSE(r.state[1], want[1], STEP_TOL, STEP_TOL);
      NG_CHECK(r.obs[0] == f32(r.state[0]) && r.obs[1] == f32(r.state[1]));
      NG_CHECK(r.state[0] >= -1.2 && r.state[0] <= 0.6 && fabs(r.state[1]) <= 0.07);
      NG_CHECK(r.reward == -1.0);
      NG_CHECK(r.terminated == (r.state[0] >= 0.5 && r.state[1] >= 0));
    }
  }
  ng_env_destroy(env);
}

/* Position after one step from (p, v) under action a. */
static double car_pos_after(ng_env_t *env, double p, double v, double a, int *terminated) {
  double s[2] = {p, v};
  step_t r = step_from(env, s, &a);
  *terminated = r.terminated;
  return r.state[0];
}

/* MountainCarContinuous's position after one step from a float64 state, before the float32
 * store (termination is decided on this value). */
static double mcc_pos_after(double p, double v, double a) {
  double force = fmin(fmax(a, -1), 1);
  double v1 = fmin(fmax(v + (force * 0.0015 - 0.0025 * cos(3 * p)), -0.07), 0.07);
  return fmin(fmax(p + v1, -1.2), 0.6);
}

/* Bisects the start position so that the position after one step straddles goal, and checks
 * that termination (position >= goal, velocity >= 0) flips exactly there. For the continuous
 * car the stored state is rounded to float32 after the test, so its position is recomputed
 * here in float64. */
static double goal_pos(ng_env_t *env, int continuous, double p, double v, double a, int *t) {
  double stored = car_pos_after(env, p, v, a, t);
  if (!continuous) return stored;
  double pos = mcc_pos_after(p, v, a);
  NG_CHECK(stored == f32(pos));
  return pos;
}

static void check_goal_boundary(ng_env_t *env, int continuous, double goal, double v, double a) {
  double lo = goal - 0.05, hi = goal + 0.01;
  int tlo, thi;
  NG_CHECK(goal_pos(env, continuous, lo, v, a, &tlo) < goal && !tlo);
  NG_CHECK(goal_pos(env, continuous, hi, v, a, &thi) >= goal && thi);
  for (int it = 0; it < 200 && nextafter(lo, hi) != hi; it++) {
    double mid = 0.5 * (lo + hi);
    int tm;
    double pm = goal_pos(env, continuous, mid, v, a, &tm);
    NG_CHECK(tm == (pm >= goal));
    if (pm >= goal)
      hi = mid;
    else
      lo = mid;
  }
  double plo = goal_pos(env, continuous, lo, v, a, &tlo);
  double phi = goal_pos(env, continuous, hi, v, a, &thi);
  NG_CHECK(plo < goal && !tlo && phi >= goal && thi);
}

static void test_mountain_car_invariants(void) {
  ng_env_t *env = make("MountainCar-v0");
  /* The velocity saturates at +-0.07 exactly. */
  double fast[2] = {-0.5, 0.0699}, act = 2;
  step_t r = step_from(env, fast, &act);
  NG_CHECK(r.state[1] == 0.07 && r.state[0] == -0.5 + 0.07);
  /* The left wall: position clipped to -1.2 and the velocity zeroed. */
  double wall[2] = {-1.19, -0.05};
  act = 0;
  r = step_from(env, wall, &act);
  NG_CHECK(r.state[0] == -1.2 && r.state[1] == 0.0 && !r.terminated);
  /* Moving away from the wall keeps its velocity. */
  double leave[2] = {-1.2, 0.01};
  act = 2;
  r = step_from(env, leave, &act);
  NG_CHECK(r.state[0] > -1.2 && r.state[1] > 0);
  /* The right end is clipped at 0.6, which is past the goal. */
  double right[2] = {0.59, 0.06};
  r = step_from(env, right, &act);
  NG_CHECK(r.state[0] == 0.6 && r.terminated);
  /* Past the goal but rolling back: not terminated. */
  double back[2] = {0.56, -0.03};
  act = 0;
  r = step_from(env, back, &act);
  NG_CHECK(r.state[0] >= 0.5 && r.state[1] < 0 && !r.terminated);
  check_goal_boundary(env, 0, 0.5, 0.02, 2);
  ng_env_destroy(env);
}

/* ---- MountainCarContinuous ---- */

static void test_mountain_car_continuous_step(void) {
  ng_env_t *env = make("MountainCarContinuous-v0");
  ng_rng_t rng;
  ng_rng_seed(&rng, 15, 0);
  for (int trial = 0; trial < 300; trial++) {
    /* A float64 state (Gymnasium's right after reset) whose components are not float32. */
    double s[2];
    do {
      s[0] = ng_rng_uniform_range(&rng, -1.2, 0.6);
      s[1] = ng_rng_uniform_range(&rng, -0.07, 0.07);
    } while (is_f32(2, s));
    for (int k = 0; k <= 8; k++) {
      double a = -2.0 + 0.5 * k;
      double force = fmin(fmax(a, -1), 1);
      double v = s[1] + (0.0015 * force - 0.0025 * cos(3 * s[0]));
      v = fmin(fmax(v, -0.07), 0.07);
      double p = fmin(fmax(s[0] + v, -1.2), 0.6);
      if (p == -1.2 && v < 0) v = 0;
      int term = p >= 0.45 && v >= 0;
      double reward = (term ? 100.0 : 0.0) - 0.1 * a * a;
      step_t r = step_from(env, s, &a);
      NG_CHECK_OK(r.status);
      /* the new state is stored as float32 */
      NG_CHECK(is_f32(2, r.state));
      NG_CHECK_CLOSE(r.state[0], f32(p), STEP_TOL, STEP_TOL);
      NG_CHECK_CLOSE(r.state[1], f32(v), STEP_TOL, STEP_TOL);
      NG_CHECK(r.obs[0] == r.state[0] && r.obs[1] == r.state[1]);
      NG_CHECK(r.terminated == term);
      NG_CHECK_CLOSE(r.reward, reward, STEP_TOL, STEP_TOL);
    }
  }
  ng_env_destroy(env);
}

static void test_mountain_car_continuous_float32(void) {
  ng_env_t *env = make("MountainCarContinuous-v0");
  /* From a float32 state (every state after the first step) Gymnasium under NumPy 2 forms
   * 3 * position in float32; with an unclipped (np.float64) action the updates are float64. */
  double s[2] = {f32(-0.4994268), f32(0.000573157)}, a = 0.5;
  NG_CHECK(is_f32(2, s));
  volatile float p32 = (float)s[0];
  volatile float three = 3.0f * p32;
  double v = s[1] + (a * 0.0015 - 0.0025 * cos((double)three));
  double p = s[0] + v;
  step_t r = step_from(env, s, &a);
  NG_CHECK(r.state[0] == f32(p) && r.state[1] == f32(v));
  /* With a clipped action the force is a Python float and the velocity and position
   * updates stay float32. */
  a = 3.0;
  volatile float rhs = (float)(1.0 * 0.0015 - 0.0025 * cos((double)three));
  volatile float v32 = (float)s[1] + rhs;
  volatile float pn = p32 + v32;
  r = step_from(env, s, &a);
  NG_CHECK(r.state[0] == (double)pn && r.state[1] == (double)v32);
  NG_CHECK(r.reward == 0.0 - 9.0 * 0.1);

  /* Saving the state after a step and setting it again resumes bit for bit. */
  ng_env_t *b = make("MountainCarContinuous-v0");
  double obs[2], ob2[2], rw, rw2, st[2];
  int te, tr, te2, tr2;
  ng_env_seed(env, 5, 1);
  NG_CHECK_OK(ng_env_reset(env, obs));
  double acts[] = {0.9, -0.3, 1.7, 0.2};
  for (int t = 0; t < 4; t++) NG_CHECK_OK(ng_env_step(env, &acts[t], obs, &rw, &te, &tr));
  NG_CHECK_OK(ng_env_get_state(env, st));
  NG_CHECK_OK(ng_env_set_state(b, st, ob2));
  NG_CHECK(ob2[0] == obs[0] && ob2[1] == obs[1]);
  for (int t = 0; t < 50; t++) {
    double act = (t % 7) * 0.4 - 1.3;
    NG_CHECK_OK(ng_env_step(env, &act, obs, &rw, &te, &tr));
    NG_CHECK_OK(ng_env_step(b, &act, ob2, &rw2, &te2, &tr2));
    NG_CHECK(obs[0] == ob2[0] && obs[1] == ob2[1] && rw == rw2 && te == te2);
  }
  ng_env_destroy(b);
  ng_env_destroy(env);
}

static void test_mountain_car_continuous_invariants(void) {
  ng_env_t *env = make("MountainCarContinuous-v0");
  /* Forces beyond [-1, 1] push like the bound; the penalty uses the unclipped action. */
  double s[2] = {-0.5, 0.01}, one = 1.0, big = 4.0;
  step_t a = step_from(env, s, &one), b = step_from(env, s, &big);
  NG_CHECK(a.state[0] == b.state[0] && a.state[1] == b.state[1]);
  NG_CHECK(a.reward == -0.1 && b.reward == -0.1 * 16);
  /* Reaching the flag: +100 minus the action penalty. */
  double near[2] = {0.44, 0.05}, half = 0.5;
  step_t r = step_from(env, near, &half);
  NG_CHECK(r.terminated && r.reward == 100.0 - 0.25 * 0.1);
  /* The left wall stops the car. */
  double wall[2] = {-1.19, -0.06}, back = -1.0;
  r = step_from(env, wall, &back);
  NG_CHECK(r.state[0] == f32(-1.2) && r.state[1] == 0.0);
  double fast[2] = {-0.5, 0.0699};
  r = step_from(env, fast, &one);
  NG_CHECK(r.state[1] == f32(0.07));
  check_goal_boundary(env, 1, 0.45, 0.02, 0.3);
  ng_env_destroy(env);
}

/* ---- every env: reset, time limit, statuses, allocation ---- */

static void test_reset_distributions(void) {
  /* lo, hi per state component (half-open [lo, hi) for the uniform draws) */
  static const struct {
    const char *id;
    double lo[4], hi[4];
  } cases[] = {
      {"CartPole-v1", {-0.05, -0.05, -0.05, -0.05}, {0.05, 0.05, 0.05, 0.05}},
      {"Pendulum-v1", {-PI, -1.0}, {PI, 1.0}},
      {"Acrobot-v1", {-0.1, -0.1, -0.1, -0.1}, {0.1, 0.1, 0.1, 0.1}},
      {"MountainCar-v0", {-0.6, 0.0}, {-0.4, 0.0}},
      {"MountainCarContinuous-v0", {-0.6, 0.0}, {-0.4, 0.0}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    ng_env_t *env = make(cases[c].id), *twin = make(cases[c].id), *other = make(cases[c].id);
    const ng_env_info_t *info = ng_env_info(env);
    size_t n = info->state_size, no = info->observation_space.dim;
    double mn[4], mx[4], mean[4] = {0};
    for (size_t i = 0; i < n; i++) mn[i] = INFINITY, mx[i] = -INFINITY;
    ng_env_seed(env, 42, 3);
    ng_env_seed(twin, 42, 3);
    ng_env_seed(other, 42, 4);
    const int N = 4000;
    int differs = 0;
    for (int k = 0; k < N; k++) {
      double obs[8], obs2[8], obs3[8], s[4], s2[4];
      NG_CHECK_OK(ng_env_reset(env, obs));
      NG_CHECK_OK(ng_env_reset(twin, obs2));
      NG_CHECK_OK(ng_env_reset(other, obs3));
      NG_CHECK_OK(ng_env_get_state(env, s));
      NG_CHECK_OK(ng_env_get_state(twin, s2));
      NG_CHECK(memcmp(s, s2, n * sizeof *s) == 0 && memcmp(obs, obs2, no * sizeof *obs) == 0);
      if (memcmp(obs, obs3, no * sizeof *obs)) differs++;
      NG_CHECK(ng_env_elapsed_steps(env) == 0);
      check_obs_f32(env, obs);
      for (size_t i = 0; i < n; i++) {
        if (s[i] < mn[i]) mn[i] = s[i];
        if (s[i] > mx[i]) mx[i] = s[i];
        mean[i] += s[i] / N;
      }
      if (!strcmp(cases[c].id, "Acrobot-v1")) NG_CHECK(is_f32(4, s)); /* .astype(np.float32) */
      if (!strcmp(cases[c].id, "CartPole-v1"))
        for (size_t i = 0; i < 4; i++) NG_CHECK(obs[i] == f32(s[i]));
    }
    NG_CHECK(differs > N - 5); /* another stream gives other states */
    for (size_t i = 0; i < n; i++) {
      double lo = cases[c].lo[i], hi = cases[c].hi[i], w = hi - lo;
      if (w == 0) {
        NG_CHECK(mn[i] == lo && mx[i] == hi);
        continue;
      }
      NG_CHECK(mn[i] >= lo && mx[i] <= hi);
      /* uniform: reaches near both ends, mean in the middle (sd of the mean w/sqrt(12N)) */
      NG_CHECK(mn[i] < lo + 0.01 * w && mx[i] > hi - 0.01 * w);
      NG_CHECK(fabs(mean[i] - 0.5 * (lo + hi)) < 5 * w / sqrt(12.0 * N));
    }
    /* Reseeding restarts the stream. */
    double a[8], b[8];
    ng_env_seed(env, 7, 0);
    NG_CHECK_OK(ng_env_reset(env, a));
    ng_env_seed(env, 7, 0);
    NG_CHECK_OK(ng_env_reset(env, b));
    NG_CHECK(memcmp(a, b, no * sizeof *a) == 0);
    NG_CHECK(ng_env_rng(env) != NULL);
    ng_env_destroy(env);
    ng_env_destroy(twin);
    ng_env_destroy(other);
  }
}

/* A policy that never ends an episode early, per env. */
static void safe_action(const char *id, const double *obs, double *a) {
  if (!strcmp(id, "CartPole-v1"))
    a[0] = 0.1 * obs[0] + 0.3 * obs[1] + 5 * obs[2] + obs[3] > 0 ? 1 : 0; /* balance */
  else if (!strcmp(id, "Pendulum-v1"))
    a[0] = 0.5;
  else if (!strcmp(id, "MountainCarContinuous-v0"))
    a[0] = 0.0;
  else
    a[0] = 1; /* Acrobot: no torque; MountainCar: no push */
}

static void test_time_limit(void) {
  for (size_t e = 0; e < N_CLASSIC; e++) {
    const ng_env_info_t *info = ng_env_find(classic_ids[e]);
    ng_env_t *env = make(info->id);
    ng_env_seed(env, 1, 0);
    double obs[8], a[1], r;
    int te = 0, tr = 0;
    for (int episode = 0; episode < 2; episode++) {
      NG_CHECK_OK(ng_env_reset(env, obs));
      for (int t = 1; t <= info->max_episode_steps; t++) {
        safe_action(info->id, obs, a);
        NG_CHECK_OK(ng_env_step(env, a, obs, &r, &te, &tr));
        check_obs_f32(env, obs);
        NG_CHECK(ng_env_elapsed_steps(env) == t);
        NG_CHECK(te == 0);
        if (tr != (t == info->max_episode_steps)) {
          NG_CHECK(tr == (t == info->max_episode_steps));
          break;
        }
      }
      NG_CHECK(tr == 1);
      /* the episode is over: stepping again is refused and changes nothing */
      double before[4], after[4];
      NG_CHECK_OK(ng_env_get_state(env, before));
      NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &te, &tr), NG_EINVAL);
      NG_CHECK_OK(ng_env_get_state(env, after));
      NG_CHECK(memcmp(before, after, info->state_size * sizeof *before) == 0);
      NG_CHECK(ng_env_elapsed_steps(env) == info->max_episode_steps);
    }
    /* set_state restarts the counter too */
    double s[4];
    NG_CHECK_OK(ng_env_get_state(env, s));
    NG_CHECK_OK(ng_env_set_state(env, s, obs));
    NG_CHECK(ng_env_elapsed_steps(env) == 0);
    safe_action(info->id, obs, a);
    NG_CHECK_OK(ng_env_step(env, a, obs, &r, &te, &tr));
    NG_CHECK(tr == 0);
    ng_env_destroy(env);
  }
}

/* Termination and truncation on the same step: Gymnasium's TimeLimit sets truncated at the
 * limit whatever the step did, so both flags are 1. A MountainCar run that coasts for some
 * steps and then pumps energy reaches the flag at a step that depends on the start and the
 * coasting time: search those for a run that reaches it at step 200 exactly. */
static int car_run(ng_env_t *env, double p0, int coast, int *te, int *tr) {
  double s[2] = {p0, 0}, obs[2], r, a;
  NG_CHECK_OK(ng_env_set_state(env, s, obs));
  for (int t = 1;; t++) {
    a = t <= coast ? 1 : (obs[1] >= 0 ? 2 : 0);
    if (ng_env_step(env, &a, obs, &r, te, tr) != NG_OK) return -1;
    if (*te || *tr) return t;
  }
}

static void test_terminated_and_truncated(void) {
  ng_env_t *env = make("MountainCar-v0");
  int te = 0, tr = 0, found = 0;
  for (int k = 0; k < 100 && !found; k++) {
    for (int coast = 0; coast < 200 && !found; coast++) {
      int t = car_run(env, -0.55 + 0.001 * k, coast, &te, &tr);
      NG_CHECK(t > 0 && t <= 200);
      NG_CHECK(tr == (t == 200));
      if (t == 200 && te) found = 1;
    }
  }
  NG_CHECK(found && te == 1 && tr == 1);
  ng_env_destroy(env);
}

static void test_bad_inputs(void) {
  for (size_t e = 0; e < N_CLASSIC; e++) {
    const ng_env_info_t *info = ng_env_find(classic_ids[e]);
    ng_env_t *env = make(info->id);
    double obs[8], r, a[1] = {0}, s[4] = {0}, before[4], after[4];
    int te, tr;
    /* before any reset or set_state */
    NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &te, &tr), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_get_state(env, s), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_reset(env, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_reset(NULL, obs), NG_EINVAL);
    NG_CHECK_OK(ng_env_reset(env, obs));
    NG_CHECK_STATUS(ng_env_step(NULL, a, obs, &r, &te, &tr), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_step(env, NULL, obs, &r, &te, &tr), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_step(env, a, NULL, &r, &te, &tr), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_step(env, a, obs, NULL, &te, &tr), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, NULL, &tr), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &te, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_get_state(env, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_get_state(NULL, s), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_set_state(env, NULL, obs), NG_EINVAL);
    NG_CHECK_STATUS(ng_env_set_state(NULL, s, obs), NG_EINVAL);

    NG_CHECK_OK(ng_env_get_state(env, before));
    double bad_discrete[] = {0.5, -1, (double)info->action_space.dim, 1e300, -0.0001};
    if (info->action_space.kind == NG_SPACE_DISCRETE) {
      for (size_t k = 0; k < sizeof bad_discrete / sizeof bad_discrete[0]; k++) {
        a[0] = bad_discrete[k];
        NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &te, &tr), NG_EINVAL);
      }
    }
    a[0] = NAN;
    NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &te, &tr), NG_ENONFINITE);
    a[0] = INFINITY;
    NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &te, &tr), NG_ENONFINITE);
    a[0] = -INFINITY;
    NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &te, &tr), NG_ENONFINITE);
    NG_CHECK_OK(ng_env_get_state(env, after));
    NG_CHECK(memcmp(before, after, info->state_size * sizeof *before) == 0);
    NG_CHECK(ng_env_elapsed_steps(env) == 0);
    /* a valid action still works afterwards; -0.0 is the integer 0 */
    a[0] = -0.0;
    NG_CHECK_OK(ng_env_step(env, a, obs, &r, &te, &tr));
    NG_CHECK(ng_env_elapsed_steps(env) == 1);

    /* non-finite states are refused */
    double nan_state[4] = {0, 0, 0, 0};
    nan_state[info->state_size - 1] = NAN;
    NG_CHECK_STATUS(ng_env_set_state(env, nan_state, obs), NG_ENONFINITE);
    nan_state[info->state_size - 1] = INFINITY;
    NG_CHECK_STATUS(ng_env_set_state(env, nan_state, obs), NG_ENONFINITE);
    /* set_state without an observation buffer is allowed */
    NG_CHECK_OK(ng_env_set_state(env, s, NULL));
    ng_env_destroy(env);
  }
}

/* Dynamics that leave the finite numbers: NG_ENONFINITE and nothing advanced. */
static void test_nonfinite_dynamics(void) {
  ng_env_t *env = make("CartPole-v1");
  double s[4] = {0, 0, 0.1, 1e200}, obs[8], r, a = 1, after[4];
  int te, tr;
  NG_CHECK_OK(ng_env_set_state(env, s, obs));
  NG_CHECK_STATUS(ng_env_step(env, &a, obs, &r, &te, &tr), NG_ENONFINITE);
  NG_CHECK_OK(ng_env_get_state(env, after));
  NG_CHECK(memcmp(s, after, sizeof s) == 0 && ng_env_elapsed_steps(env) == 0);
  ng_env_destroy(env);

  /* a huge but finite force: the penalty -0.1 a^2 overflows */
  env = make("MountainCarContinuous-v0");
  double ms[2] = {-0.5, 0}, big = 1e200;
  NG_CHECK_OK(ng_env_set_state(env, ms, obs));
  NG_CHECK_STATUS(ng_env_step(env, &big, obs, &r, &te, &tr), NG_ENONFINITE);
  NG_CHECK(ng_env_elapsed_steps(env) == 0);
  big = 1e100; /* clipped force, finite penalty */
  NG_CHECK_OK(ng_env_step(env, &big, obs, &r, &te, &tr));
  NG_CHECK(r == -0.1 * 1e200);
  ng_env_destroy(env);

  env = make("Acrobot-v1");
  double as[4] = {0, 0, 1e300, 1e300};
  a = 0;
  NG_CHECK_OK(ng_env_set_state(env, as, obs));
  NG_CHECK_STATUS(ng_env_step(env, &a, obs, &r, &te, &tr), NG_ENONFINITE);
  ng_env_destroy(env);
}

/* Saving a state and setting it in another env continues identically (Acrobot's reset state
 * is float32, later ones float64). */
static void test_resume(void) {
  for (size_t e = 0; e < N_CLASSIC; e++) {
    const ng_env_info_t *info = ng_env_find(classic_ids[e]);
    ng_env_t *x = make(info->id), *y = make(info->id);
    double ox[8], oy[8], rx, ry, s[4], a[1];
    int tx, trx, ty, tryy;
    ng_env_seed(x, 99, e);
    NG_CHECK_OK(ng_env_reset(x, ox));
    NG_CHECK_OK(ng_env_get_state(x, s));
    NG_CHECK_OK(ng_env_set_state(y, s, oy));
    NG_CHECK(memcmp(ox, oy, info->observation_space.dim * sizeof *ox) == 0);
    for (int t = 0; t < 40; t++) {
      safe_action(info->id, ox, a);
      NG_CHECK_OK(ng_env_step(x, a, ox, &rx, &tx, &trx));
      NG_CHECK_OK(ng_env_step(y, a, oy, &ry, &ty, &tryy));
      NG_CHECK(memcmp(ox, oy, info->observation_space.dim * sizeof *ox) == 0 && rx == ry &&
               tx == ty);
    }
    ng_env_destroy(x);
    ng_env_destroy(y);
  }
}

/* ---- no allocation after create ---- */

static long g_allocs = 0;
static void *count_malloc(size_t n) {
  g_allocs++;
  return malloc(n);
}
static void *count_calloc(size_t c, size_t n) {
  g_allocs++;
  return calloc(c, n);
}
static void *count_realloc(void *p, size_t n) {
  g_allocs++;
  return realloc(p, n);
}

static void test_no_allocation(void) {
  NG_CHECK_OK(ng_set_allocator(count_malloc, count_calloc, count_realloc, free));
  for (size_t e = 0; e < N_CLASSIC; e++) {
    const ng_env_info_t *info = ng_env_find(classic_ids[e]);
    ng_env_t *env = make(info->id);
    long after_create = g_allocs;
    NG_CHECK(after_create >= 1);
    double obs[8], r, a[1], s[4];
    int te, tr;
    ng_env_seed(env, 3, 0);
    for (int ep = 0; ep < 3; ep++) {
      NG_CHECK_OK(ng_env_reset(env, obs));
      te = tr = 0;
      while (!te && !tr) {
        safe_action(info->id, obs, a);
        NG_CHECK_OK(ng_env_step(env, a, obs, &r, &te, &tr));
      }
      NG_CHECK_OK(ng_env_get_state(env, s));
      NG_CHECK_OK(ng_env_set_state(env, s, obs));
    }
    NG_CHECK(g_allocs == after_create);
    ng_env_destroy(env);
  }
  NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
}

/* Gymnasium's `** 2` on a Python or np.float64 scalar, and math.pow, are libm's pow, which
 * rounds differently from x * x on about 0.1 % of inputs (NumPy's np.square and an array's
 * ** 2 are x * x). Steps on which the two differ, with Gymnasium 1.0.0's own results (run on
 * Debian's NumPy 1.24.2 with libm trigonometry, NPY_DISABLE_CPU_FEATURES="AVX512_SKX ..."):
 * Pendulum's cost angle_normalize(th)**2 + 0.1 * thdot**2 + 0.001 * u**2, MountainCar-
 * Continuous's math.pow(action[0], 2) * 0.1, Acrobot's dtheta**2 and d2**2 in _dsdt. */
static void test_pow_squares(void) {
  static const double pendulum[3][4] = { /* th, thdot, action, Gymnasium's reward */
      {1.772565470593694, 4.7593308058613335, -0.7451141119910245, -5.407666514543002},
      {-6.055332352046688, -1.2332333935759383, 1.0873452452668602, -0.20518574914828164},
      {-6.173548013139964, -1.1006263551806246, 0.7958955235066063, -0.13379162330048705},
  };
  static const double mcc[2][4] = { /* position, velocity, action, Gymnasium's reward */
      {0.3617525244336295, -0.04113432324832728, 0.7320289570553422, -0.053586639396753205},
      {-0.6326949944336625, -0.020805741697973473, 1.5151481431321292, -0.2295673895636739},
  };
  static const struct {
    double state[4], action, next[4];
  } acro[2] = {
      {{1.1912980559442428, -2.442405869490005, 5.506963512116572, -2.072374613657745}, 0,
       {2.159443253912723, -2.599602561018984, 4.138846817395931, 0.3007976675833448}},
      {{-2.8547004416087507, 0.1842288400969223, 0.5171213392693801, -6.791175407405714}, 2,
       {-2.7659129541902234, -1.1341288855077982, 0.10059481007905419, -6.203088767343431}},
  };
  double obs[6], r, st[4];
  int te, tr;
  ng_env_t *env = make("Pendulum-v1");
  for (int k = 0; k < 3; k++) {
    NG_CHECK_OK(ng_env_set_state(env, pendulum[k], obs));
    NG_CHECK_OK(ng_env_step(env, &pendulum[k][2], obs, &r, &te, &tr));
    NG_CHECK(r == pendulum[k][3]);
  }
  ng_env_destroy(env);
  env = make("MountainCarContinuous-v0");
  for (int k = 0; k < 2; k++) {
    NG_CHECK_OK(ng_env_set_state(env, mcc[k], obs));
    NG_CHECK_OK(ng_env_step(env, &mcc[k][2], obs, &r, &te, &tr));
    NG_CHECK(r == mcc[k][3]);
  }
  ng_env_destroy(env);
  env = make("Acrobot-v1");
  for (int k = 0; k < 2; k++) {
    NG_CHECK_OK(ng_env_set_state(env, acro[k].state, obs));
    NG_CHECK_OK(ng_env_step(env, &acro[k].action, obs, &r, &te, &tr));
    NG_CHECK_OK(ng_env_get_state(env, st));
    NG_CHECK(memcmp(st, acro[k].next, sizeof st) == 0);
  }
  ng_env_destroy(env);
}

int main(void) {
  NG_TEST_RUN(test_registry);
  NG_TEST_RUN(test_cartpole_step);
  NG_TEST_RUN(test_cartpole_thresholds);
  NG_TEST_RUN(test_pendulum_step);
  NG_TEST_RUN(test_pendulum_invariants);
  NG_TEST_RUN(test_acrobot_step);
  NG_TEST_RUN(test_acrobot_invariants);
  NG_TEST_RUN(test_mountain_car_step);
  NG_TEST_RUN(test_mountain_car_invariants);
  NG_TEST_RUN(test_mountain_car_continuous_step);
  NG_TEST_RUN(test_mountain_car_continuous_float32);
  NG_TEST_RUN(test_mountain_car_continuous_invariants);
  NG_TEST_RUN(test_pow_squares);
  NG_TEST_RUN(test_reset_distributions);
  NG_TEST_RUN(test_time_limit);
  NG_TEST_RUN(test_terminated_and_truncated);
  NG_TEST_RUN(test_bad_inputs);
  NG_TEST_RUN(test_nonfinite_dynamics);
  NG_TEST_RUN(test_resume);
  NG_TEST_RUN(test_no_allocation);
  NG_TEST_END();
}
