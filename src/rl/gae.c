/* Generalised advantage estimation (Schulman et al. 2016) with Gymnasium's two kinds of
 * episode end: a termination is a true terminal state (no bootstrap), a truncation cuts a
 * still-running episode (bootstrap on the value of the final observation). */
#include <math.h>

#include "rl/rl_impl.h"

/* Shapes: rewards, values, terminated, truncated, final_val, adv, returns: T*E (row
 * t*E + e); last_val: E. */
int ng__gae(size_t n_steps, size_t n_envs, double gamma, double lambda, const double *rewards,
            const double *values, const unsigned char *terminated,
            const unsigned char *truncated, const double *final_val, const double *last_val,
            double *adv, double *returns) {
  if (!n_steps || !n_envs || !rewards || !values || !terminated || !truncated || !last_val ||
      !adv || !returns)
    return NG_EINVAL;
  for (size_t e = 0; e < n_envs; e++) {
    double next_adv = 0.0;
    for (size_t t = n_steps; t-- > 0;) {
      size_t row = t * n_envs + e;
      double next_val;
      if (terminated[row]) next_val = 0.0;
      else if (truncated[row]) next_val = final_val ? final_val[row] : 0.0;
      else if (t + 1 < n_steps) next_val = values[row + n_envs];
      else next_val = last_val[e];
      double delta = rewards[row] + gamma * next_val - values[row];
      /* the recursion is cut at every episode boundary */
      double carry = (terminated[row] || truncated[row]) ? 0.0 : gamma * lambda * next_adv;
      adv[row] = delta + carry;
      returns[row] = adv[row] + values[row];
      next_adv = adv[row];
    }
  }
  return ng_all_finite(n_steps * n_envs, adv) ? NG_OK : NG_ENONFINITE;
}
