"""Sizes of the functions' arm64 zips that `make zip` built -> bench/zip-sizes.json.

Reads <target dir>/lambda/<function>/bootstrap.zip for every crate under
functions/ (the target dir is $CARGO_TARGET_DIR, else target/). Fails when a
zip is missing or larger than the 6 MB budget. Standard library only.
"""
import json
import os
import pathlib
import sys
import zipfile

LIMIT_BYTES = 6_000_000
root = pathlib.Path(__file__).resolve().parent.parent
target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or root / "target")
rows, problems = {}, []
for function in sorted(p.name for p in (root / "functions").iterdir() if p.is_dir()):
    path = target / "lambda" / function / "bootstrap.zip"
    if not path.is_file():
        problems.append(f"{function}: no {path}")
        continue
    with zipfile.ZipFile(path) as z:
        unpacked = sum(i.file_size for i in z.infolist())
    rows[function] = {"zip_bytes": path.stat().st_size, "unzipped_bytes": unpacked}
    if path.stat().st_size > LIMIT_BYTES:
        problems.append(f"{function}: {path.stat().st_size:,} bytes > {LIMIT_BYTES:,}")
for function, r in rows.items():
    print(f"zip: {function:<18} {r['zip_bytes'] / 1e6:5.2f} MB zipped, {r['unzipped_bytes'] / 1e6:5.2f} MB unzipped")
if problems:
    sys.exit("zip: " + "; ".join(problems))
(root / "bench" / "zip-sizes.json").write_text(json.dumps(rows, indent=2) + "\n")
