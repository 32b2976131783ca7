"""Prints natgrad's kernel timings next to the PyTorch reference's, with speed-ups."""
import json
import sys

ours = json.load(open(sys.argv[1]))
peer = json.load(open(sys.argv[2]))
meta = ours["meta"]
tall = meta["dgemm_tall_gflops"]
print(f"natgrad BLAS: {meta['blas']}; tall-skinny DGEMM {tall:.1f} GFLOP/s")
print("peer BLAS:", ", ".join(peer["meta"].get("blas_libs_loaded", [])) or "unknown")
print()
hdr = (f"{'policy':6} {'N':>6} | {'natgrad ms':>24} | {'torch f64 ms':>24} | {'torch f32 ms':>14} |"
       f" {'speed-up f64':>18} | {'cg10 vs f32':>11} | {'fvp/g':>5} | {'F.v %DGEMM':>10}")
print(hdr)
print(f"{'':6} {'':>6} | {'grad':>7} {'fvp':>7} {'cg10':>8} | {'grad':>7} {'fvp':>7} {'cg10':>8} |"
      f" {'grad':>5} {'cg10':>8} | {'grad':>5} {'fvp':>5} {'cg10':>5} | {'':>11} | {'':>5} | {'':>10}")
print("-" * len(hdr))
for r in ours["results"]:
    def peer_op(dtype, op):
        for p in peer["results"]:
            if p["policy"] == r["policy"] and p["N"] == r["N"] and p["dtype"] == dtype \
                    and p["threads"] == 1:
                return p[op]["median_s"]
        return float("nan")
    g, f, c = r["grad_s"], r["fvp_s"], r["cg10_s"]
    pg, pf, pc = (peer_op("float64", k) for k in ("grad", "fvp", "cg10"))
    qg, qc = peer_op("float32", "grad"), peer_op("float32", "cg10")
    frac = r["fvp_flops"] / f * 1e-9 / tall
    print(f"{r['policy']:6} {r['N']:6d} | {g*1e3:7.3f} {f*1e3:7.3f} {c*1e3:8.3f} |"
          f" {pg*1e3:7.3f} {pf*1e3:7.3f} {pc*1e3:8.2f} | {qg*1e3:5.1f} {qc*1e3:8.2f} |"
          f" {pg/g:5.1f} {pf/f:5.1f} {pc/c:5.1f} | {qc/c:11.1f} | {f/g:5.2f} | {100*frac:9.0f}%")
