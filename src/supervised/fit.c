/* The training loop over seeded minibatches, and checkpoints of a run (their bytes through
 * src/ckpt_io.h, the layout in natgrad/supervised.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt_io.h"
#include "supervised/sup_impl.h"

#define NG__CK_MAGIC "NGSUPCK1"
#define NG__CK_VERSION 1u
#define NG__CK_HEADER NG__CKIO_HEADER

struct ng_fit {
  const ng_model_t *m;
  ng_sup_opt_t *opt;
  ng_batcher_t *batcher;
  size_t n_train, batch, n_in, na;
  double *x, *y; /* batch buffers */
  ng_fit_pos_t pos;
};

int ng_fit_create(ng_fit_t **out, const ng_model_t *m, const ng_sup_opt_config_t *cfg,
                  size_t n_train, size_t batch, uint64_t seed, ng_error_t *err) {
  if (!out) return ng_error_set(err, NG_EINVAL, "NULL output");
  *out = NULL;
  if (!m || !cfg || n_train == 0 || batch == 0)
    return ng_error_set(err, NG_EINVAL, "fit: need a model, a config and non-empty batches");
  ng_fit_t *f = ng_calloc(1, sizeof *f);
  if (!f) return ng_error_set(err, NG_ENOMEM, "out of memory");
  f->m = m;
  f->n_train = n_train;
  f->batch = batch < n_train ? batch : n_train;
  f->n_in = ng_model_n_in(m);
  ng_dist_t dist = ng_model_dist(m);
  f->na = ng_dist_action_size(&dist);
  int st = ng_sup_opt_create(&f->opt, m, cfg, f->batch, err);
  if (st != NG_OK) {
    ng_fit_destroy(f);
    return st;
  }
  st = ng_batcher_create(&f->batcher, n_train, f->batch, seed);
  f->x = ng_malloc(f->batch * f->n_in * sizeof(double));
  f->y = ng_malloc(f->batch * f->na * sizeof(double));
  if (st != NG_OK || !f->x || !f->y) {
    ng_fit_destroy(f);
    return ng_error_set(err, NG_ENOMEM, "fit: out of memory");
  }
  *out = f;
  return NG_OK;
}

void ng_fit_destroy(ng_fit_t *f) {
  if (!f) return;
  ng_sup_opt_destroy(f->opt);
  ng_batcher_destroy(f->batcher);
  ng_free(f->x);
  ng_free(f->y);
  ng_free(f);
}

ng_sup_opt_t *ng_fit_opt(ng_fit_t *f) { return f ? f->opt : NULL; }
const ng_fit_pos_t *ng_fit_pos(const ng_fit_t *f) { return f ? &f->pos : NULL; }
size_t ng_fit_n_batches(const ng_fit_t *f) { return f ? ng_batcher_n_batches(f->batcher) : 0; }
void ng_fit_set_seconds(ng_fit_t *f, double seconds) {
  if (f) f->pos.seconds = seconds;
}

int ng_fit_epoch(ng_fit_t *f, double *theta, const ng_dataset_t *train, ng_fit_batch_fn on_batch,
                 void *ctx, double *mean_loss) {
  if (!f || !theta || !train || train->n != f->n_train || train->n_features != f->n_in ||
      train->n_targets != f->na)
    return NG_EINVAL;
  int st = ng_batcher_seek(f->batcher, f->pos.epoch, (size_t)f->pos.batch_index);
  if (st != NG_OK) return st;
  for (;;) {
    size_t rows;
    st = ng_batcher_next(f->batcher, train, f->x, f->y, &rows);
    if (st != NG_OK) return st;
    if (rows == 0) break;
    ng_sup_step_info_t info;
    st = ng_sup_opt_step(f->opt, theta, rows, f->x, f->y, &info);
    if (st != NG_OK) return st;
    f->pos.batch_index++;
    f->pos.steps++;
    f->pos.epoch_loss_sum += info.loss * (double)rows;
    f->pos.epoch_rows += rows;
    if (on_batch && on_batch(ctx, &info, &f->pos) != 0) return NG_EINTERRUPTED;
  }
  if (mean_loss)
    *mean_loss = f->pos.epoch_rows ? f->pos.epoch_loss_sum / (double)f->pos.epoch_rows : NAN;
  f->pos.epoch++;
  f->pos.batch_index = 0;
  f->pos.epoch_loss_sum = 0.0;
  f->pos.epoch_rows = 0;
  return NG_OK;
}

/* ---- checkpoints ------------------------------------------------------------------------------- */

static void ng__put_pos(ng__ckio_w_t *w, const ng_fit_pos_t *p) {
  ng__ckio_put_u64(w, p->epoch);
  ng__ckio_put_u64(w, p->batch_index);
  ng__ckio_put_u64(w, p->steps);
  ng__ckio_put_f64(w, p->seconds);
  ng__ckio_put_f64(w, p->epoch_loss_sum);
  ng__ckio_put_u64(w, p->epoch_rows);
}

static void ng__get_pos(ng__ckio_r_t *r, ng_fit_pos_t *p) {
  p->epoch = ng__ckio_get_u64(r);
  p->batch_index = ng__ckio_get_u64(r);
  p->steps = ng__ckio_get_u64(r);
  p->seconds = ng__ckio_get_f64(r);
  p->epoch_loss_sum = ng__ckio_get_f64(r);
  p->epoch_rows = ng__ckio_get_u64(r);
}

int ng_fit_save(const ng_fit_t *f, const char *path, const char *meta, const double *theta,
                ng_error_t *err) {
  if (!f || !path || !theta) return ng_error_set(err, NG_EINVAL, "checkpoint: NULL argument");
  if (!meta) meta = "";
  size_t meta_len = strlen(meta), n = ng_model_n_params(f->m);
  size_t state = ng_sup_opt_state_size(f->opt);
  ng__ckio_w_t w = {0};
  ng__ckio_put_zeros(&w, NG__CK_HEADER); /* filled in once the body's CRC is known */
  ng__ckio_put_u64(&w, meta_len);
  ng__ckio_put_bytes(&w, meta, meta_len);
  ng__put_pos(&w, &f->pos);
  ng__ckio_put_u64(&w, n);
  ng__ckio_put_f64s(&w, theta, n);
  ng__ckio_put_u64(&w, state);
  unsigned char *sp = ng__ckio_put_zeros(&w, state);
  int st = sp ? ng_sup_opt_state_save(f->opt, sp, state) : NG_ENOMEM;
  if (st != NG_OK) {
    ng_error_set(err, st, sp ? "checkpoint: cannot serialise the optimiser state"
                             : "checkpoint: out of memory");
  } else {
    const size_t body = w.len - NG__CK_HEADER;
    memcpy(w.buf, NG__CK_MAGIC, 8);
    ng__ckio_st(w.buf + 8, NG__CK_VERSION, 4);
    ng__ckio_st(w.buf + 12, ng__ckio_crc32(w.buf + NG__CK_HEADER, body), 4);
    ng__ckio_st(w.buf + 16, body, 8);
    st = ng__ckio_write_file(path, w.buf, w.len, err);
  }
  ng__ckio_w_free(&w);
  return st;
}

void ng_fit_checkpoint_free(ng_fit_checkpoint_t *ck) {
  if (!ck) return;
  ng_free(ck->meta);
  ng_free(ck->theta);
  ng_free(ck->state);
  memset(ck, 0, sizeof *ck);
}

/* The body of path, whose CRC has been checked: meta, position, parameters, optimiser state
 * (ck's arrays are freed by the caller on failure). */
static int ng__parse_body(ng_fit_checkpoint_t *ck, const unsigned char *body, size_t size,
                          const char *path, ng_error_t *err) {
  ng__ckio_r_t r = {body, size, 0, 0};
  uint64_t meta_len = ng__ckio_get_u64(&r);
  if (r.bad || meta_len > size - r.pos)
    return ng_error_set(err, NG_EFORMAT, "%s: bad meta length", path);
  if (!(ck->meta = ng_malloc((size_t)meta_len + 1)))
    return ng_error_set(err, NG_ENOMEM, "%s: out of memory", path);
  ng__ckio_get_bytes(&r, ck->meta, (size_t)meta_len);
  ck->meta[meta_len] = '\0';
  ng__get_pos(&r, &ck->pos);
  uint64_t n = ng__ckio_get_u64(&r);
  if (r.bad || n == 0 || n > (size - r.pos) / 8)
    return ng_error_set(err, NG_EFORMAT, "%s: bad parameter count", path);
  ck->n_params = (size_t)n;
  if (!(ck->theta = ng_malloc((size_t)n * sizeof(double))))
    return ng_error_set(err, NG_ENOMEM, "%s: out of memory", path);
  ng__ckio_get_f64s(&r, ck->theta, (size_t)n);
  uint64_t ss = ng__ckio_get_u64(&r);
  if (r.bad || ss != size - r.pos)
    return ng_error_set(err, NG_EFORMAT, "%s: optimiser state size does not match the body", path);
  ck->state_size = (size_t)ss;
  if (!(ck->state = ng_malloc(ss ? (size_t)ss : 1)))
    return ng_error_set(err, NG_ENOMEM, "%s: out of memory", path);
  ng__ckio_get_bytes(&r, ck->state, (size_t)ss);
  return NG_OK;
}

int ng_fit_checkpoint_read(const char *path, ng_fit_checkpoint_t *ck, ng_error_t *err) {
  if (!ck) return ng_error_set(err, NG_EINVAL, "checkpoint: NULL output");
  memset(ck, 0, sizeof *ck);
  if (!path) return ng_error_set(err, NG_EINVAL, "checkpoint: NULL path");
  /* a folder, FIFO or device is no checkpoint, and opening a FIFO would block until a writer
   * came: only regular files (checked again on the open file) */
  struct stat sb;
  if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
    return ng_error_set(err, NG_EIO, "%s: %s", path,
                        S_ISDIR(sb.st_mode) ? "is a folder" : "not a regular file");
  FILE *fp = fopen(path, "rb");
  if (!fp) return ng_error_set(err, NG_ENOTFOUND, "%s: cannot open: %s", path, strerror(errno));
  unsigned char head[NG__CK_HEADER];
  unsigned char *body = NULL;
  int st = NG_OK;
  uint64_t size = 0;
  if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode))
    st = ng_error_set(err, NG_EIO, "%s: not a regular file", path);
  else if (fread(head, 1, NG__CK_HEADER, fp) != NG__CK_HEADER)
    st = ng_error_set(err, NG_EFORMAT, "%s: truncated: shorter than a checkpoint header", path);
  else if (memcmp(head, NG__CK_MAGIC, 8) != 0)
    st = ng_error_set(err, NG_EFORMAT, "%s: not a natgrad fit checkpoint (bad magic)", path);
  else if ((st = ng__ckio_check_version(head, NG__CK_HEADER, NG__CK_VERSION, "", path, err)))
    ; /* a newer format (NG_EUNSUPPORTED) or a damaged header (NG_EFORMAT), as ckpt_io.h judges */
  else if ((size = ng__ckio_ld(head + 16, 8)) > (uint64_t)sb.st_size - NG__CK_HEADER)
    st = ng_error_set(err, NG_EFORMAT, "%s: truncated: the header promises %llu bytes of body",
                      path, (unsigned long long)size); /* refused before allocating it */
  else if (!(body = ng_malloc((size_t)size)))
    st = ng_error_set(err, NG_ENOMEM, "%s: out of memory", path);
  else if (fread(body, 1, (size_t)size, fp) != (size_t)size)
    st = ng_error_set(err, NG_EFORMAT, "%s: truncated: the header promises %llu bytes of body",
                      path, (unsigned long long)size);
  else if (fgetc(fp) != EOF)
    st = ng_error_set(err, NG_EFORMAT, "%s: bytes after the checkpoint body", path);
  else if (ng__ckio_crc32(body, (size_t)size) != ng__ckio_ld(head + 12, 4))
    st = ng_error_set(err, NG_EFORMAT, "%s: checksum mismatch (the file is corrupt)", path);
  else
    st = ng__parse_body(ck, body, (size_t)size, path, err);
  fclose(fp);
  ng_free(body);
  if (st != NG_OK) ng_fit_checkpoint_free(ck);
  return st;
}

int ng_fit_restore(ng_fit_t *f, const ng_fit_checkpoint_t *ck, double *theta, ng_error_t *err) {
  if (!f || !ck || !theta) return ng_error_set(err, NG_EINVAL, "restore: NULL argument");
  size_t n = ng_model_n_params(f->m);
  if (ck->n_params != n)
    return ng_error_set(err, NG_EFORMAT,
                        "checkpoint has %zu parameters, the model %zu (different architecture?)",
                        ck->n_params, n);
  if (ck->pos.batch_index > ng_fit_n_batches(f))
    return ng_error_set(err, NG_EFORMAT, "checkpoint position is past the end of an epoch");
  int st = ng_sup_opt_state_load(f->opt, ck->state, ck->state_size);
  if (st != NG_OK)
    return ng_error_set(err, st,
                        "checkpoint's optimiser state does not fit this optimiser (different "
                        "kind or model?)");
  memcpy(theta, ck->theta, n * sizeof(double));
  f->pos = ck->pos;
  return NG_OK;
}
