/* An exported policy header (NG_POLICY, prefix pol, type NG_T) behind two plain symbols, built
 * as a shared object at test time so that export_check can load the policy it just exported. */
#include NG_POLICY

#ifdef __cplusplus
extern "C" {
#endif
int shim_act(const NG_T *obs, NG_T *act);
NG_T shim_tanh(NG_T x);
#ifdef __cplusplus
}
#endif

int shim_act(const NG_T *obs, NG_T *act) { return pol_act(obs, act); }
NG_T shim_tanh(NG_T x) { return pol_tanh(x); }
