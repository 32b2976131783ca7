/* The supervised optimisers behind one step: SGD, Adam, diagonal NG, CG NG and K-FAC. */
#include <math.h>
#include <string.h>

#include "adam.h"
#include "natgrad/fisher.h"
#include "natgrad/linalg.h"
#include "natgrad/optim.h"
#include "supervised/sup_impl.h"

#define NG__STATE_MAGIC 0x53504f47u /* "GOPS" */
#define NG__STATE_VERSION 1u

struct ng_sup_opt {
  ng_sup_opt_config_t cfg;
  const ng_model_t *m;
  ng_dist_t dist;
  size_t n, np, na, max_batch;
  unsigned char *trainable; /* n flags, NULL: all */
  ng_model_ws_t *ws;
  ng_fisher_t *fisher;      /* diag-ng (exact), cg-ng, and LM adaptation */
  ng_cg_t *cg;              /* cg-ng */
  ng_kfac_t *kfac;          /* kfac */
  double *g, *s, *v, *v2, *diag, *dbatch, *trial, *tmp;
  double *dp;               /* max_batch x np */
  double *ys;               /* na: one sampled label */
  ng_rng_t rng;
  uint64_t steps;
  uint64_t point_step;      /* steps + 1 while the Fisher is at this step's batch */
  uint64_t diag_updates;
  double lambda;
  int split;                /* a split is set: d^T F d as a split product */
};

static int ng__is_ng(ng_opt_kind_t k) {
  return k == NG_OPT_DIAG_NG || k == NG_OPT_CG_NG || k == NG_OPT_KFAC;
}

int ng_sup_opt_create(ng_sup_opt_t **out, const ng_model_t *m, const ng_sup_opt_config_t *cfg,
                      size_t max_batch, ng_error_t *err) {
  if (!out) return ng_error_set(err, NG_EINVAL, "NULL output");
  *out = NULL;
  if (!m || !cfg || max_batch == 0)
    return ng_error_set(err, NG_EINVAL, "optimiser: NULL model/config or zero batch");
  int st = ng_sup_opt_config_check(cfg, err);
  if (st != NG_OK) return st;
  ng_sup_opt_t *o = ng_calloc(1, sizeof *o);
  if (!o) return ng_error_set(err, NG_ENOMEM, "out of memory");
  o->cfg = *cfg;
  o->m = m;
  o->dist = ng_model_dist(m);
  o->n = ng_model_n_params(m);
  o->np = ng_model_n_dist_params(m);
  o->na = ng_dist_action_size(&o->dist);
  o->max_batch = max_batch;
  o->lambda = cfg->damping;
  ng_rng_seed(&o->rng, cfg->seed, 0x5eed);
  size_t n = o->n;
  ng_opt_kind_t kind = cfg->kind;
  st = ng_model_ws_create(&o->ws, m, max_batch);
  if (st == NG_OK && (kind == NG_OPT_CG_NG || (kind == NG_OPT_DIAG_NG) || cfg->adapt_damping))
    st = ng_fisher_create(&o->fisher, m, max_batch);
  if (st == NG_OK && kind == NG_OPT_CG_NG) st = ng_cg_create(&o->cg, n);
  if (st == NG_OK && kind == NG_OPT_KFAC) st = ng_kfac_create(&o->kfac, m, max_batch);
  if (st != NG_OK) {
    ng_sup_opt_destroy(o);
    return ng_error_set(err, st, "optimiser: cannot create its workspaces: %s",
                        ng_strerror(st));
  }
  o->g = ng_calloc(n, sizeof(double));
  o->s = ng_calloc(n, sizeof(double));
  o->v = ng_calloc(n, sizeof(double));
  o->trial = ng_calloc(n, sizeof(double));
  o->tmp = ng_calloc(n, sizeof(double));
  o->dp = ng_calloc(max_batch * o->np, sizeof(double));
  o->ys = ng_calloc(o->na, sizeof(double));
  int ok = o->g && o->s && o->v && o->trial && o->tmp && o->dp && o->ys;
  if (kind == NG_OPT_ADAM) ok = ok && (o->v2 = ng_calloc(n, sizeof(double)));
  if (kind == NG_OPT_DIAG_NG)
    ok = ok && (o->diag = ng_calloc(n, sizeof(double))) &&
         (o->dbatch = ng_calloc(n, sizeof(double)));
  if (!ok) {
    ng_sup_opt_destroy(o);
    return ng_error_set(err, NG_ENOMEM, "optimiser: out of memory for %zu parameters", n);
  }
  *out = o;
  return NG_OK;
}

void ng_sup_opt_destroy(ng_sup_opt_t *o) {
  if (!o) return;
  ng_model_ws_destroy(o->ws);
  ng_fisher_destroy(o->fisher);
  ng_cg_destroy(o->cg);
  ng_kfac_destroy(o->kfac);
  ng_free(o->trainable);
  ng_free(o->g);
  ng_free(o->s);
  ng_free(o->v);
  ng_free(o->v2);
  ng_free(o->diag);
  ng_free(o->dbatch);
  ng_free(o->trial);
  ng_free(o->tmp);
  ng_free(o->dp);
  ng_free(o->ys);
  ng_free(o);
}

const ng_sup_opt_config_t *ng_sup_opt_config(const ng_sup_opt_t *o) { return o ? &o->cfg : NULL; }
uint64_t ng_sup_opt_steps(const ng_sup_opt_t *o) { return o ? o->steps : 0; }
double ng_sup_opt_damping(const ng_sup_opt_t *o) { return o ? o->lambda : NAN; }

int ng_sup_opt_set_trainable(ng_sup_opt_t *o, const unsigned char *trainable) {
  if (!o) return NG_EINVAL;
  if (!trainable) {
    ng_free(o->trainable);
    o->trainable = NULL;
    return NG_OK;
  }
  if (!o->trainable) {
    o->trainable = ng_malloc(o->n);
    if (!o->trainable) return NG_ENOMEM;
  }
  for (size_t i = 0; i < o->n; i++) o->trainable[i] = trainable[i] != 0;
  return NG_OK;
}

int ng_sup_opt_set_split(ng_sup_opt_t *o, const ng_split_t *sp) {
  if (!o) return NG_EINVAL;
  const ng_sup_opt_config_t *c = &o->cfg;
  if (sp && c->kind == NG_OPT_DIAG_NG && c->fisher == NG_FISHER_TRUE && c->fisher_samples == 0)
    return NG_EUNSUPPORTED;
  ng_split_t one = {0, 0, 1, NULL, NULL, NULL};
  int st = ng_mlp_ws_set_split(ng_model_ws_mlp(o->ws), sp ? sp : &one);
  if (st == NG_OK && o->fisher) st = ng_fisher_set_split(o->fisher, sp ? sp : &one);
  if (st == NG_OK && o->kfac) st = ng_kfac_set_split(o->kfac, sp);
  if (st == NG_OK) o->split = sp != NULL;
  return st;
}

static void ng__mask(const ng_sup_opt_t *o, double *x) {
  if (!o->trainable) return;
  for (size_t i = 0; i < o->n; i++)
    if (!o->trainable[i]) x[i] = 0.0;
}

/* ---- curvature pieces ------------------------------------------------------------------------ */

/* The masked, damped Fisher product for CG: out = P F P v + damping v. */
static int ng__masked_apply(void *ctx, const double *v, double *out) {
  ng_sup_opt_t *o = ctx;
  memcpy(o->tmp, v, o->n * sizeof(double));
  ng__mask(o, o->tmp);
  int st = ng_fisher_apply(o->fisher, o->tmp, 0.0, out);
  if (st != NG_OK) return st;
  ng__mask(o, out);
  double d = o->lambda + o->cfg.weight_decay;
  for (size_t i = 0; i < o->n; i++) out[i] += d * v[i];
  return NG_OK;
}

/* dbatch = this batch's diagonal Fisher (true: exact or sampled; or empirical), using the
 * forward of ng_sup_loss_grad still held in o->ws. */
static int ng__diag_batch(ng_sup_opt_t *o, const double *theta, size_t batch, const double *x,
                          const double *y) {
  const ng_sup_opt_config_t *c = &o->cfg;
  if (c->fisher == NG_FISHER_TRUE && c->fisher_samples == 0) {
    int st = ng_fisher_set_point(o->fisher, theta, batch, x);
    if (st != NG_OK) return st;
    o->point_step = o->steps + 1;
    return ng_fisher_diag(o->fisher, o->dbatch);
  }
  const double *p = ng_model_ws_params(o->ws);
  int reps = c->fisher == NG_FISHER_EMPIRICAL ? 1 : c->fisher_samples;
  ng_vec_zero(o->n, o->dbatch);
  for (int s = 0; s < reps; s++) {
    for (size_t b = 0; b < batch; b++) {
      const double *pb = p + b * o->np, *lab = y + b * o->na;
      if (c->fisher == NG_FISHER_TRUE) {
        int st = ng_dist_sample(&o->dist, pb, &o->rng, o->ys);
        if (st != NG_OK) return st;
        lab = o->ys;
      }
      int st = ng_dist_logp_grad(&o->dist, pb, lab, o->dp + b * o->np);
      if (st != NG_OK) return st;
    }
    int st = ng_model_vjp_sq(o->m, theta, o->ws, batch, o->dp, o->dbatch);
    if (st != NG_OK) return st;
  }
  ng_vec_scale(o->n, 1.0 / ((double)batch * reps), o->dbatch);
  return NG_OK;
}

/* ---- step ----------------------------------------------------------------------------------------- */

/* o->g = the gradient of the batch loss plus weight decay wd/2 |theta|^2, masked; *loss the
 * loss with that term. */
static int ng__loss_grad(ng_sup_opt_t *o, const double *theta, size_t batch, const double *x,
                         const double *y, double *loss) {
  const ng_sup_opt_config_t *c = &o->cfg;
  int st = c->kind == NG_OPT_KFAC ? ng_kfac_loss_grad(o->kfac, theta, batch, x, y, loss, o->g)
                                  : ng_sup_loss_grad(o->m, o->ws, theta, batch, x, y, loss, o->g);
  if (st != NG_OK) return st;
  if (c->weight_decay > 0.0) {
    *loss += 0.5 * c->weight_decay * ng_vec_dot(o->n, theta, theta);
    ng_vec_axpy(o->n, c->weight_decay, theta, o->g);
  }
  ng__mask(o, o->g);
  return NG_OK;
}

/* diag-ng: every stats_every steps the running diagonal takes this batch's (an average until
 * 1/(1 - stat_decay) updates, then decaying); s = g / (diag + damp). */
static int ng__diag_direction(ng_sup_opt_t *o, const double *theta, size_t batch,
                              const double *x, const double *y, double damp) {
  const ng_sup_opt_config_t *c = &o->cfg;
  const size_t n = o->n;
  if (o->steps % (uint64_t)c->stats_every == 0) {
    int st = ng__diag_batch(o, theta, batch, x, y);
    if (st != NG_OK) return st;
    double t = (double)(o->diag_updates + 1), e = 1.0 - 1.0 / t;
    if (e > c->stat_decay) e = c->stat_decay;
    for (size_t i = 0; i < n; i++) o->diag[i] = e * o->diag[i] + (1.0 - e) * o->dbatch[i];
    o->diag_updates++;
  }
  for (size_t i = 0; i < n; i++) o->s[i] = o->g[i] / (o->diag[i] + damp);
  return NG_OK;
}

/* cg-ng: s = (P F P + damp I)^-1 g by truncated CG, F at this batch or a subsample of it.
 * NG_ECURVATURE: CG stopped on non-positive curvature, and s is its last iterate. */
static int ng__cg_direction(ng_sup_opt_t *o, const double *theta, size_t batch, const double *x,
                            double grad_norm, int *iterations) {
  const ng_sup_opt_config_t *c = &o->cfg;
  int st;
  if (c->fisher_batch > 0 && c->fisher_batch < batch)
    st = ng_fisher_set_point_subsample(o->fisher, theta, batch, x, c->fisher_batch, &o->rng);
  else
    st = ng_fisher_set_point(o->fisher, theta, batch, x);
  if (st != NG_OK) return st;
  o->point_step = o->steps + 1;
  ng_cg_opts_t co = {c->cg_iters, c->cg_tol * grad_norm * grad_norm, NULL, NULL};
  ng_cg_report_t rep;
  ng_linop_t op = {ng__masked_apply, o, o->n};
  st = ng_cg_solve(o->cg, &op, o->g, o->s, &co, &rep);
  if (st == NG_OK || st == NG_ECURVATURE) *iterations = rep.iterations;
  return st;
}

/* kfac: factor statistics every stats_every steps, inverses (damped) every inverse_every
 * steps or when there are none yet (*refreshed = 1), then s = the preconditioned g. */
static int ng__kfac_direction(ng_sup_opt_t *o, const double *theta, const double *y, double damp,
                              int *refreshed) {
  const ng_sup_opt_config_t *c = &o->cfg;
  int st;
  if (o->steps % (uint64_t)c->stats_every == 0) {
    st = ng_kfac_batch_stats(o->kfac, theta, c->fisher, c->fisher_samples, y, &o->rng);
    if (st == NG_OK) st = ng_kfac_update_running(o->kfac, c->stat_decay);
    if (st != NG_OK) return st;
  }
  if (o->steps % (uint64_t)c->inverse_every == 0 || !ng_kfac_inverted(o->kfac)) {
    st = ng_kfac_invert(o->kfac, damp);
    if (st != NG_OK) return st;
    *refreshed = 1;
  }
  return ng_kfac_precondition(o->kfac, o->g, o->s);
}

/* The update d = o->tmp, masked (descent along -s); s becomes the new momentum, and for
 * Adam s and trial hold the new moments. Nothing is committed. */
static double *ng__update(ng_sup_opt_t *o, ng_sup_step_info_t *inf) {
  const ng_sup_opt_config_t *c = &o->cfg;
  const size_t n = o->n;
  double *d = o->tmp;
  if (c->kind == NG_OPT_SGD) {
    for (size_t i = 0; i < n; i++) {
      o->s[i] = c->momentum * o->v[i] + o->g[i];
      d[i] = -c->lr * o->s[i];
    }
  } else if (c->kind == NG_OPT_ADAM) {
    ng__adam_hp_t hp = {c->lr, c->beta1, c->beta2, c->eps};
    ng__adam_delta(n, &hp, o->steps + 1, o->v, o->v2, o->g, o->s, o->trial, d);
  } else {
    /* a natural-gradient direction, its step scaled down so the quadratic KL of lr * s stays
     * within kl_clip */
    ng__mask(o, o->s);
    double gs = ng_vec_dot(n, o->g, o->s);
    double nu = 1.0;
    if (c->kl_clip > 0.0 && gs > 0.0) {
      nu = sqrt(2.0 * c->kl_clip / (c->lr * c->lr * gs));
      if (!(nu < 1.0)) nu = 1.0;
    }
    inf->kl_scale = nu;
    for (size_t i = 0; i < n; i++) {
      o->s[i] = c->momentum * o->v[i] + nu * o->s[i];
      d[i] = -c->lr * o->s[i];
    }
  }
  ng__mask(o, d);
  return d;
}

/* Levenberg-Marquardt: rho = the loss change of step d over the damped quadratic model's
 * (-inf if the trial loss is not finite), and the damping scaled by lm_factor^damping_every
 * down if rho > 0.75, up if rho < 0.25, within [damping_min, damping_max], into *new_lambda.
 * cg_st is the CG solve's status (NG_OK for the other kinds): after NG_ECURVATURE (its
 * direction kept) the model is skipped and the step fails with that status. The Fisher is
 * set at the batch only if the direction did not already (cg-ng always does, as may
 * diag-ng). Uses o->trial. */
static int ng__adapt_damping(ng_sup_opt_t *o, const double *theta, size_t batch, const double *x,
                             const double *y, double loss, const double *d, double damp,
                             int cg_st, double *new_lambda, double *rho_out) {
  const ng_sup_opt_config_t *c = &o->cfg;
  const size_t n = o->n;
  int st = cg_st;
  if (o->point_step != o->steps + 1) st = ng_fisher_set_point(o->fisher, theta, batch, x);
  double dfd = NAN, loss_new = NAN;
  if (st == NG_OK && o->split) { /* the per-row sum would need every row's forward */
    st = ng_fisher_apply(o->fisher, d, 0.0, o->trial);
    if (st == NG_OK) dfd = ng_vec_dot(n, d, o->trial);
  } else if (st == NG_OK) {
    st = ng_fisher_distance(o->fisher, d, &dfd);
  }
  for (size_t i = 0; i < n; i++) o->trial[i] = theta[i] + d[i];
  if (st == NG_OK) st = ng_sup_loss_grad(o->m, o->ws, o->trial, batch, x, y, &loss_new, NULL);
  if (st != NG_OK && st != NG_ENONFINITE) return st;
  if (st == NG_OK && c->weight_decay > 0.0)
    loss_new += 0.5 * c->weight_decay * ng_vec_dot(n, o->trial, o->trial);
  double q = ng_vec_dot(n, o->g, d) + 0.5 * (dfd + damp * ng_vec_dot(n, d, d));
  double rho = (st == NG_OK && q < 0.0) ? (loss_new - loss) / q : -INFINITY;
  double omega = pow(c->lm_factor, (double)c->damping_every);
  *new_lambda = o->lambda;
  if (rho > 0.75) *new_lambda = o->lambda * omega;
  else if (rho < 0.25) *new_lambda = o->lambda / omega;
  if (*new_lambda < c->damping_min) *new_lambda = c->damping_min;
  if (*new_lambda > c->damping_max) *new_lambda = c->damping_max;
  *rho_out = rho;
  return NG_OK;
}

int ng_sup_opt_step(ng_sup_opt_t *o, double *theta, size_t batch, const double *x,
                    const double *y, ng_sup_step_info_t *info) {
  if (!o || !theta || !x || !y || batch == 0 || batch > o->max_batch) return NG_EINVAL;
  const ng_sup_opt_config_t *c = &o->cfg;
  const size_t n = o->n;
  ng_sup_step_info_t inf;
  memset(&inf, 0, sizeof inf);
  o->point_step = 0; /* no point from a step that failed on another batch */
  inf.rho = NAN;
  inf.kl_scale = 1.0;
  inf.damping = o->lambda;

  double loss;
  int st = ng__loss_grad(o, theta, batch, x, y, &loss);
  if (st != NG_OK) return st;
  inf.loss = loss;
  inf.grad_norm = ng_vec_norm2(n, o->g);
  const double damp = o->lambda + c->weight_decay;

  /* the direction s (descent is along -s); SGD and Adam work from g alone */
  int cg_st = NG_OK;
  if (c->kind == NG_OPT_DIAG_NG) {
    st = ng__diag_direction(o, theta, batch, x, y, damp);
  } else if (c->kind == NG_OPT_CG_NG) {
    /* Truncated CG may stop on non-positive curvature (NG_ECURVATURE): its last iterate is
     * still a descent direction for the damped model, so use it. */
    st = cg_st = ng__cg_direction(o, theta, batch, x, inf.grad_norm, &inf.cg_iterations);
    if (st == NG_ECURVATURE) st = NG_OK;
  } else if (c->kind == NG_OPT_KFAC) {
    st = ng__kfac_direction(o, theta, y, damp, &inf.refreshed);
  }
  if (st != NG_OK) return st;

  const double *d = ng__update(o, &inf);
  if (!ng_all_finite(n, d)) return NG_ENONFINITE;

  double new_lambda = o->lambda;
  if (ng__is_ng(c->kind) && c->adapt_damping &&
      (o->steps + 1) % (uint64_t)c->damping_every == 0) {
    st = ng__adapt_damping(o, theta, batch, x, y, loss, d, damp, cg_st, &new_lambda, &inf.rho);
    if (st != NG_OK) return st;
  }

  /* commit */
  memcpy(o->v, o->s, n * sizeof(double));
  if (c->kind == NG_OPT_ADAM) memcpy(o->v2, o->trial, n * sizeof(double));
  ng_vec_axpy(n, 1.0, d, theta);
  inf.step_norm = ng_vec_norm2(n, d);
  o->lambda = new_lambda;
  o->steps++;
  if (info) *info = inf;
  return NG_OK;
}

/* ---- state -------------------------------------------------------------------------------------- */

/* The layout is the order of these puts: the kind and sizes first, then what the kind keeps. */
static void ng__state_put(const ng_sup_opt_t *o, ng__ckio_w_t *w) {
  ng__ckio_put_u64(w, NG__STATE_MAGIC);
  ng__ckio_put_u64(w, NG__STATE_VERSION);
  ng__ckio_put_u64(w, (uint64_t)o->cfg.kind);
  ng__ckio_put_u64(w, o->n);
  ng__ckio_put_u64(w, o->steps);
  ng__ckio_put_u64(w, o->diag_updates);
  ng__ckio_put_f64(w, o->lambda);
  for (int i = 0; i < 4; i++) ng__ckio_put_u64(w, o->rng.s[i]);
  ng__ckio_put_f64(w, o->rng.spare_normal);
  ng__ckio_put_u64(w, (uint64_t)o->rng.has_spare);
  ng__ckio_put_f64s(w, o->v, o->n);
  if (o->v2) ng__ckio_put_f64s(w, o->v2, o->n);
  if (o->diag) ng__ckio_put_f64s(w, o->diag, o->n);
  if (o->kfac) ng__kfac_state_put(o->kfac, w);
}

size_t ng_sup_opt_state_size(const ng_sup_opt_t *o) {
  if (!o) return 0;
  ng__ckio_w_t w = {.measure = 1};
  ng__state_put(o, &w);
  return w.len;
}

int ng_sup_opt_state_save(const ng_sup_opt_t *o, void *buf, size_t size) {
  if (!o || !buf) return NG_EINVAL;
  ng__ckio_w_t w = {0};
  ng__state_put(o, &w);
  int st = w.status ? w.status : w.len != size ? NG_ERANGE : NG_OK;
  if (st == NG_OK) memcpy(buf, w.buf, size);
  ng__ckio_w_free(&w);
  return st;
}

int ng_sup_opt_state_load(ng_sup_opt_t *o, const void *buf, size_t size) {
  if (!o || !buf) return NG_EINVAL;
  ng__ckio_r_t r = {buf, size, 0, 0};
  if (ng__ckio_get_u64(&r) != NG__STATE_MAGIC || ng__ckio_get_u64(&r) != NG__STATE_VERSION ||
      ng__ckio_get_u64(&r) != (uint64_t)o->cfg.kind || ng__ckio_get_u64(&r) != o->n)
    return NG_EFORMAT;
  /* a state of another size is refused before o changes */
  if (size != ng_sup_opt_state_size(o)) return NG_EFORMAT;
  o->steps = ng__ckio_get_u64(&r);
  o->diag_updates = ng__ckio_get_u64(&r);
  o->lambda = ng__ckio_get_f64(&r);
  for (int i = 0; i < 4; i++) o->rng.s[i] = ng__ckio_get_u64(&r);
  /* xoshiro256** never leaves the all-zero state: it would draw 0 for ever, and the normal
   * sampler's rejection loop (sampled Gaussian labels) would never end */
  if ((o->rng.s[0] | o->rng.s[1] | o->rng.s[2] | o->rng.s[3]) == 0) return NG_EFORMAT;
  o->rng.spare_normal = ng__ckio_get_f64(&r);
  o->rng.has_spare = ng__ckio_get_u64(&r) != 0;
  ng__ckio_get_f64s(&r, o->v, o->n);
  if (o->v2) ng__ckio_get_f64s(&r, o->v2, o->n);
  if (o->diag) ng__ckio_get_f64s(&r, o->diag, o->n);
  if (o->kfac) {
    int st = ng__kfac_state_get(o->kfac, &r);
    if (st != NG_OK) return st;
  }
  return !r.bad && r.pos == size ? NG_OK : NG_EFORMAT;
}
