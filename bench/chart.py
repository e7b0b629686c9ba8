"""Draws capacity.png (capacity units per request against table size, one
line per case) from results.json, both in $BENCH_OUT_DIR (default bench/).
Run by `make bench`."""
import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

here = Path(os.environ.get("BENCH_OUT_DIR") or Path(__file__).resolve().parent)
rows = json.loads((here / "results.json").read_text())
cases = list(dict.fromkeys(r["case"] for r in rows))
fig, ax = plt.subplots(figsize=(9, 5.5))
for case in cases:
    pts = sorted((r["table_size"], r["capacity_units"]) for r in rows if r["case"] == case)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=case)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("contacts in the table")
ax.set_ylabel("DynamoDB capacity units per request")
ax.set_title("Capacity units per request vs table size (make bench)")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
out = here / "capacity.png"
fig.savefig(out, dpi=110)
print(f"chart: wrote {out}", file=sys.stderr)
