#!/usr/bin/env python3
"""CPU samples of one MPI rank by trainer phase, outside MPI (docs/distributed.md, "Where the
repeated work goes"). Input: `perf script -F comm,tid,ip,sym,dso` of a `perf record -e
cpu-clock --call-graph dwarf` of the rank. A sample with an MPI frame on its stack is
communication (the collectives' polling and copies) and left out; the rest is charged to the
first trainer phase on its stack and to the first of the named functions below it.
Usage: bench/mpi_profile_phases.py PERF_SCRIPT_TXT"""
import collections
import re
import sys

MPI = re.compile(r'mca_|libopen-pal|libmpi|libopen-rte|libevent|libpmix|ompi|opal_|PMPI|MPI_'
                 r'|ng__gather ')
PHASES = ['ng__rl_rollout', 'ng__rl_advantages', 'ng__rl_policy_update', 'ng__rl_value_fit',
          'ng_rl_gather_envs', 'ng_rl_save']
NAMED = {'ng__trial', 'ng__surrogate_grad', 'ng__normalize_advantages', 'ng_natgrad_cg',
         'ng_fisher_set_point', 'ng_fisher_apply', 'ng_model_forward', 'ng_mlp_forward',
         'ng_mlp_vjp', 'ng_model_logp_vjp', 'ng_model_kl_sum', 'ng_model_entropy_sum',
         'ng_model_logp', 'ng_dist_logp', 'ng__rl_share_step', 'ng__gae', 'ng__rms_update',
         'ng__rms_normalize', 'ng_dist_sample', 'ng_env_step', 'ng__gather_slices',
         'ng_mlp_vjp_sq'}


def stacks(path):
    cur = []
    for line in open(path, errors='replace'):
        if not line.strip():
            if cur:
                yield cur
            cur = []
        elif line[0] in ' \t':
            parts = line.split(None, 1)
            cur.append(parts[1].strip() if len(parts) > 1 else '')
    if cur:
        yield cur


def main():
    comm = 0
    by = collections.Counter()
    for s in stacks(sys.argv[1]):
        if any(MPI.search(f) for f in s):
            comm += 1
            continue
        names = [f.split(' ')[0].split('.')[0] for f in s]
        phase = next((n for n in names if n in PHASES), 'other (passes under BLAS, start-up)')
        below = names[:names.index(phase)] if phase in names else names
        by[(phase, next((n for n in below if n in NAMED), '-'))] += 1
    total = sum(by.values())
    print(f'compute samples {total}, in MPI {comm}')
    for (phase, fn), c in by.most_common():
        print(f'{c:6d} {100 * c / max(total, 1):5.1f} %  {phase} / {fn}')


if __name__ == '__main__':
    main()
