/* The MPI module (natgrad/mpi.h): the env share's gather, start-up agreement, the stop vote,
 * communication counters and the watchdog. Compiled only when CMake finds MPI. */
#include "natgrad/mpi.h"

#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ng_mpi {
  int rank, size;
  /* the env share's Allgatherv layout (bytes), for the row size last used */
  size_t n_envs, row_bytes;
  int *counts, *displs;
  /* the update split's Allgatherv: its layout (doubles) and staging buffer */
  int *scounts, *sdispls;
  int *rcounts, *rdispls; /* the split's sum: its Alltoallv's receive side */
  double *stage;
  size_t stage_n;
  size_t at[NG_RL_MAX_BLOCKS + 1]; /* a gather's part offsets (slices or env blocks) */
  ng_mpi_stats_t stats, split_stats; /* all collectives; the update split's alone */
  /* watchdog: the monotonic time (ns) the current collective started, 0 when none */
  atomic_llong in_call_ns;
  double in_call_cpu; /* this thread's CPU time then */
  double timeout_s;
  ng_mpi_timeout_fn on_timeout;
  void *on_timeout_ctx;
  pthread_t watchdog;
  int watching;
  atomic_int stop;
};

static long long ng__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *ng__watchdog(void *arg) {
  ng_mpi_t *m = arg;
  const struct timespec tick = {0, 100000000}; /* 0.1 s */
  while (!atomic_load(&m->stop)) {
    nanosleep(&tick, NULL);
    long long since = atomic_load(&m->in_call_ns);
    if (since == 0) continue;
    double waited = (double)(ng__now_ns() - since) * 1e-9;
    if (waited > m->timeout_s) {
      m->on_timeout(m->on_timeout_ctx, m->rank, waited);
      return NULL; /* a handler that returns leaves the run to MPI */
    }
  }
  return NULL;
}

int ng_mpi_launched(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", NULL};
  for (int i = 0; vars[i]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

/* NG_EIO with MPI's text for code, naming what failed. */
static int ng__mpi_error(ng_error_t *err, int code, const char *what) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d",
                                                                  code);
  return ng_error_set(err, NG_EIO, "mpi: %s failed: %s", what, text);
}

int ng_mpi_init(ng_mpi_t **out, double timeout_s, ng_mpi_timeout_fn on_timeout, void *ctx,
                ng_error_t *err) {
  if (!out) return ng_error_set(err, NG_EINVAL, "mpi: no output");
  *out = NULL;
  ng_mpi_t *m = ng_calloc(1, sizeof *m);
  if (!m) return ng_error_set(err, NG_ENOMEM, "mpi: out of memory");
  int provided = 0, c = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
  if (c != MPI_SUCCESS) {
    ng_free(m);
    return ng_error_set(err, NG_EIO, "mpi: MPI_Init_thread failed (code %d)", c);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &m->size);
  atomic_init(&m->in_call_ns, 0);
  atomic_init(&m->stop, 0);
  m->counts = ng_calloc((size_t)m->size, sizeof *m->counts);
  m->displs = ng_calloc((size_t)m->size, sizeof *m->displs);
  m->scounts = ng_calloc((size_t)m->size, sizeof *m->scounts);
  m->sdispls = ng_calloc((size_t)m->size, sizeof *m->sdispls);
  m->rcounts = ng_calloc((size_t)m->size, sizeof *m->rcounts);
  m->rdispls = ng_calloc((size_t)m->size, sizeof *m->rdispls);
  if (!m->counts || !m->displs || !m->scounts || !m->sdispls || !m->rcounts || !m->rdispls) {
    ng_mpi_finalize(m);
    return ng_error_set(err, NG_ENOMEM, "mpi: out of memory");
  }
  m->timeout_s = timeout_s;
  m->on_timeout = on_timeout;
  m->on_timeout_ctx = ctx;
  if (timeout_s > 0 && on_timeout) {
    if (pthread_create(&m->watchdog, NULL, ng__watchdog, m) != 0) {
      ng_mpi_finalize(m);
      return ng_error_set(err, NG_ENOMEM, "mpi: cannot start the watchdog thread");
    }
    m->watching = 1;
  }
  *out = m;
  return NG_OK;
}

void ng_mpi_finalize(ng_mpi_t *m) {
  if (!m) return;
  if (m->watching) {
    atomic_store(&m->stop, 1);
    pthread_join(m->watchdog, NULL);
  }
  ng_free(m->counts);
  ng_free(m->displs);
  ng_free(m->scounts);
  ng_free(m->sdispls);
  ng_free(m->rcounts);
  ng_free(m->rdispls);
  ng_free(m->stage);
  ng_free(m);
  MPI_Finalize();
}

void ng_mpi_abort(ng_mpi_t *m, int code) {
  (void)m;
  MPI_Abort(MPI_COMM_WORLD, code);
}

int ng_mpi_rank(const ng_mpi_t *m) { return m ? m->rank : 0; }
int ng_mpi_size(const ng_mpi_t *m) { return m ? m->size : 1; }

void ng_mpi_block(size_t n, int rank, int size, size_t *first, size_t *count) {
  const size_t k = (size_t)size, r = (size_t)rank, q = n / k, extra = n % k;
  *count = q + (r < extra);
  *first = r * q + (r < extra ? r : extra);
}

/* A collective's bookkeeping: the watchdog's clock and the counters. */
double ng_mpi_thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void ng__enter(ng_mpi_t *m) {
  m->in_call_cpu = ng_mpi_thread_cpu();
  atomic_store(&m->in_call_ns, ng__now_ns());
}
static void ng__leave(ng_mpi_t *m, unsigned long long bytes) {
  long long t0 = atomic_exchange(&m->in_call_ns, 0);
  m->stats.calls++;
  m->stats.bytes += bytes;
  m->stats.seconds += (double)(ng__now_ns() - t0) * 1e-9;
  m->stats.cpu_seconds += ng_mpi_thread_cpu() - m->in_call_cpu;
}

/* The same for one of the update split's gathers, counted twice: in all and in its own. */
static void ng__leave_split(ng_mpi_t *m, unsigned long long bytes) {
  double before = m->stats.seconds, cpu_before = m->stats.cpu_seconds;
  ng__leave(m, bytes);
  m->split_stats.calls++;
  m->split_stats.bytes += bytes;
  m->split_stats.seconds += m->stats.seconds - before;
  m->split_stats.cpu_seconds += m->stats.cpu_seconds - cpu_before;
}

static int ng__gather(void *ctx, void *rows, size_t row_bytes) {
  ng_mpi_t *m = ctx;
  if (row_bytes != m->row_bytes) {
    for (int r = 0; r < m->size; r++) {
      size_t first, count;
      ng_mpi_block(m->n_envs, r, m->size, &first, &count);
      if (count * row_bytes > (size_t)0x7fffffff || first * row_bytes > (size_t)0x7fffffff)
        return NG_ERANGE;
      m->counts[r] = (int)(count * row_bytes);
      m->displs[r] = (int)(first * row_bytes);
    }
    m->row_bytes = row_bytes;
  }
  ng__enter(m);
  int c = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows, m->counts, m->displs,
                         MPI_BYTE, MPI_COMM_WORLD);
  ng__leave(m, (unsigned long long)(m->n_envs * row_bytes) -
                   (unsigned long long)m->counts[m->rank]);
  return c == MPI_SUCCESS ? NG_OK : NG_EIO;
}

int ng_mpi_env_share(ng_mpi_t *m, size_t n_envs, ng_rl_env_share_t *share, ng_error_t *err) {
  if (!m || !share) return ng_error_set(err, NG_EINVAL, "mpi: no context or share");
  if ((size_t)m->size > n_envs)
    return ng_error_set(err, NG_EINVAL, "mpi: %d ranks for %zu environments: each rank needs "
                        "at least one (raise n_envs or run fewer ranks)", m->size, n_envs);
  m->n_envs = n_envs;
  m->row_bytes = 0;
  share->gather = ng__gather;
  share->ctx = m;
  ng_mpi_block(n_envs, m->rank, m->size, &share->first, &share->count);
  return NG_OK;
}

/* The staging buffer with room for n doubles (it grows to the largest exchange once). */
static double *ng__stage(ng_mpi_t *m, size_t n) {
  if (n > m->stage_n) {
    double *st = ng_realloc(m->stage, n * sizeof *st);
    if (!st) return NULL;
    m->stage = st;
    m->stage_n = n;
  }
  return m->stage;
}

/* out (n) = rows[0] + rows[1] + ... + rows[k - 1], in that order, rows being k x n. */
static void ng__add_rows(double *out, const double *rows, size_t n, size_t k) {
  memcpy(out, rows, n * sizeof *out);
  for (size_t s = 1; s < k; s++)
    for (size_t j = 0; j < n; j++) out[j] += rows[s * n + j];
}

/* The split's gather: this rank's block of slices (or of env blocks: rl.h's blocks; the
 * same ng_mpi_block as core.h's ng_split_own) into a contiguous buffer, one MPI_Allgatherv
 * of doubles in place, every other rank's slices back into parts. */
static int ng__gather_slices(void *ctx, double *const *parts, const size_t *lens,
                             size_t n_slices) {
  ng_mpi_t *m = ctx;
  size_t *at = m->at;
  if (n_slices > NG_RL_MAX_BLOCKS) return NG_ERANGE;
  at[0] = 0;
  for (size_t s = 0; s < n_slices; s++) at[s + 1] = at[s] + lens[s];
  if (at[n_slices] > (size_t)0x7fffffff) return NG_ERANGE;
  if (!ng__stage(m, at[n_slices])) return NG_ENOMEM;
  for (int r = 0; r < m->size; r++) {
    size_t first, count;
    ng_mpi_block(n_slices, r, m->size, &first, &count);
    m->scounts[r] = (int)(at[first + count] - at[first]);
    m->sdispls[r] = (int)at[first];
  }
  size_t mine, own;
  ng_mpi_block(n_slices, m->rank, m->size, &mine, &own);
  for (size_t s = mine; s < mine + own; s++)
    memcpy(m->stage + at[s], parts[s], lens[s] * sizeof(double));
  ng__enter(m);
  int c = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, m->stage, m->scounts, m->sdispls,
                         MPI_DOUBLE, MPI_COMM_WORLD);
  ng__leave_split(m, (unsigned long long)(at[n_slices] - (at[mine + own] - at[mine])) *
                         sizeof(double));
  if (c != MPI_SUCCESS) return NG_EIO;
  for (size_t s = 0; s < n_slices; s++)
    if (s < mine || s >= mine + own) memcpy(parts[s], m->stage + at[s], lens[s] * sizeof(double));
  return NG_OK;
}

/* The split's sum (core.h): a reduce-scatter in slice order, then an all-gather. Rank q adds
 * segment q of out (ng_mpi_block(n, q, K) of its elements) over every slice: one
 * MPI_Alltoallv brings it those elements of every slice, in slice order (ranks hold
 * contiguous, increasing blocks of slices), and one MPI_Allgatherv brings every rank every
 * segment. A rank receives about 2 n doubles whatever K (the gather: (K - 1) n of a sum of K
 * slices) and adds n / K of them per slice: the same additions in the same order. */
static int ng__sum_slices(void *ctx, const double *const *own, size_t n, size_t n_slices,
                          double *out) {
  ng_mpi_t *m = ctx;
  const int K = m->size;
  size_t b0, bc, g0, gc;
  ng_mpi_block(n_slices, m->rank, K, &b0, &bc);
  ng_mpi_block(n, m->rank, K, &g0, &gc);
  m->split_stats.sums++;
  m->split_stats.sum_doubles += n;
  if (n * n_slices <= NG_MPI_SMALL_SUM) { /* latency, not bytes: one gather of every slice */
    if (!ng__stage(m, n * n_slices)) return NG_ENOMEM;
    for (size_t i = 0; i < bc; i++) memcpy(m->stage + (b0 + i) * n, own[i], n * sizeof *out);
    for (int q = 0; q < K; q++) {
      size_t r0, rc;
      ng_mpi_block(n_slices, q, K, &r0, &rc);
      m->scounts[q] = (int)(rc * n);
      m->sdispls[q] = (int)(r0 * n);
    }
    ng__enter(m);
    int c = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, m->stage, m->scounts,
                           m->sdispls, MPI_DOUBLE, MPI_COMM_WORLD);
    ng__leave_split(m, (unsigned long long)((n_slices - bc) * n) * sizeof(double));
    if (c != MPI_SUCCESS) return NG_EIO;
    ng__add_rows(out, m->stage, n, n_slices);
    return NG_OK;
  }
  m->split_stats.large_sums++;
  m->split_stats.large_doubles += n;
  const size_t need = bc * n + n_slices * gc;
  if (need > (size_t)0x7fffffff) return NG_ERANGE;
  if (!ng__stage(m, need)) return NG_ENOMEM;
  double *send = m->stage, *recv = m->stage + bc * n;
  size_t at = 0, from = 0;
  for (int q = 0; q < K; q++) {
    size_t q0, qc, r0, rc;
    ng_mpi_block(n, q, K, &q0, &qc);   /* rank q's segment: to it, each own slice's part */
    ng_mpi_block(n_slices, q, K, &r0, &rc); /* rank q's slices: from it, gc of each */
    m->sdispls[q] = (int)at;
    m->scounts[q] = (int)(bc * qc);
    for (size_t i = 0; i < bc; i++, at += qc) memcpy(send + at, own[i] + q0, qc * sizeof *send);
    m->rdispls[q] = (int)from;
    m->rcounts[q] = (int)(rc * gc);
    from += rc * gc;
  }
  ng__enter(m);
  int c = MPI_Alltoallv(send, m->scounts, m->sdispls, MPI_DOUBLE, recv, m->rcounts, m->rdispls,
                        MPI_DOUBLE, MPI_COMM_WORLD);
  ng__leave_split(m, (unsigned long long)((n_slices - bc) * gc) * sizeof(double));
  if (c != MPI_SUCCESS) return NG_EIO;
  ng__add_rows(out + g0, recv, gc, n_slices);
  for (int q = 0; q < K; q++) { /* the segments' layout, in the Alltoallv's arrays */
    size_t q0, qc;
    ng_mpi_block(n, q, K, &q0, &qc);
    m->scounts[q] = (int)qc;
    m->sdispls[q] = (int)q0;
  }
  ng__enter(m);
  c = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, m->scounts, m->sdispls,
                     MPI_DOUBLE, MPI_COMM_WORLD);
  ng__leave_split(m, (unsigned long long)(n - gc) * sizeof(double));
  return c == MPI_SUCCESS ? NG_OK : NG_EIO;
}

int ng_mpi_split(ng_mpi_t *m, ng_split_t *sp) {
  if (!m || !sp) return NG_EINVAL;
  sp->rank = m->rank;
  sp->size = m->size;
  sp->gather = ng__gather_slices;
  sp->sum = ng__sum_slices;
  sp->ctx = m;
  return NG_OK;
}

int ng_mpi_agree(ng_mpi_t *m, const ng_mpi_fingerprint_t *mine, ng_error_t *err) {
  if (!m || !mine) return ng_error_set(err, NG_EINVAL, "mpi: no context or fingerprint");
  uint64_t *all = ng_calloc((size_t)m->size * 4, sizeof *all);
  if (!all) return ng_error_set(err, NG_ENOMEM, "mpi: out of memory");
  uint64_t v[4] = {mine->ok, mine->binary, mine->config, mine->plugins};
  ng__enter(m);
  int c = MPI_Allgather(v, 4, MPI_UINT64_T, all, 4, MPI_UINT64_T, MPI_COMM_WORLD);
  ng__leave(m, (unsigned long long)(m->size - 1) * sizeof v);
  if (c != MPI_SUCCESS) {
    ng_free(all);
    return ng__mpi_error(err, c, "the start-up check (MPI_Allgather)");
  }
  static const char *const what[4] = {NULL, "runs a different natgrad binary",
                                      "has a different config or checkpoint",
                                      "has different environments or plugins"};
  int st = NG_OK;
  for (int r = 0; r < m->size && st == NG_OK; r++)
    for (int k = 0; k < 4 && st == NG_OK; k++) {
      if (k == 0 && all[4 * r] == 0)
        st = ng_error_set(err, NG_EINVAL, "rank %d of %d failed to set up (its own error "
                          "says why)", r, m->size);
      else if (k > 0 && all[4 * r + k] != all[k])
        st = ng_error_set(err, NG_EINVAL, "rank %d of %d %s than rank 0: every rank must run "
                          "the same binary, config and plugins", r, m->size, what[k]);
    }
  ng_free(all);
  return st;
}

uint64_t ng_mpi_hash(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

int ng_mpi_hash_file(uint64_t *h, const char *path, ng_error_t *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return ng_error_set(err, NG_EIO, "mpi: cannot read %s", path);
  unsigned char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) *h = ng_mpi_hash(*h, buf, n);
  int bad = ferror(f);
  fclose(f);
  return bad ? ng_error_set(err, NG_EIO, "mpi: cannot read %s", path) : NG_OK;
}

int ng_mpi_any(ng_mpi_t *m, int flag, int *any, ng_error_t *err) {
  if (!m || !any) return ng_error_set(err, NG_EINVAL, "mpi: no context or output");
  int in = flag, outv = 0;
  ng__enter(m);
  int c = MPI_Allreduce(&in, &outv, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  ng__leave(m, sizeof outv);
  if (c != MPI_SUCCESS) return ng__mpi_error(err, c, "the stop vote (MPI_Allreduce)");
  *any = outv;
  return NG_OK;
}

int ng_mpi_sum(ng_mpi_t *m, double *x, size_t n, ng_error_t *err) {
  if (!m || (!x && n)) return ng_error_set(err, NG_EINVAL, "mpi: no context or buffer");
  if (n > INT_MAX)
    return ng_error_set(err, NG_EINVAL, "mpi: %zu doubles to sum: more than MPI counts", n);
  ng__enter(m);
  int c = MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  ng__leave(m, n * sizeof *x);
  if (c != MPI_SUCCESS) return ng__mpi_error(err, c, "a sum (MPI_Allreduce)");
  return NG_OK;
}

void ng_mpi_stats(const ng_mpi_t *m, ng_mpi_stats_t *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (m) *out = m->stats;
}

void ng_mpi_split_stats(const ng_mpi_t *m, ng_mpi_stats_t *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (m) *out = m->split_stats;
}

void ng_mpi_stats_reset(ng_mpi_t *m) {
  if (!m) return;
  memset(&m->stats, 0, sizeof m->stats);
  memset(&m->split_stats, 0, sizeof m->split_stats);
}
