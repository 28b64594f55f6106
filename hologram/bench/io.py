"""Results on disk: a list of flat records as JSON (a list of objects) or CSV."""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Any

import numpy as np


def plain(v: Any) -> Any:
    """JSON/CSV-friendly value: NumPy scalars -> Python, non-finite floats -> None, dicts
    and sequences element by element."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (tuple, list, np.ndarray)):
        return [plain(x) for x in v]
    return v


def save_results(records: Any, path: str, format: str = "json") -> str:
    """Write a list of flat dicts (or a DataFrame) as JSON (a list of objects) or CSV.
    Missing/NaN values become null (JSON) or an empty field (CSV).  Returns ``path``."""
    if hasattr(records, "to_dict"):
        records = records.to_dict("records")
    records = [{k: plain(v) for k, v in r.items()} for r in records]
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    if format == "json":
        with open(path, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=2, allow_nan=False)
            f.write("\n")
    elif format == "csv":
        fields = list(dict.fromkeys(k for r in records for k in r))
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(records)
    else:
        raise ValueError(f"save_results: unknown format {format!r} (use 'json' or 'csv')")
    return path


def _parse(s: str) -> Any:
    if s == "":
        return None
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(s, s)


def load_results(path: str) -> list[dict[str, Any]]:
    """Read back what :func:`save_results` wrote (format from the file extension).
    Missing values come back as None in both formats."""
    with open(path, encoding="utf-8", newline="") as f:
        if os.fspath(path).endswith(".csv"):
            return [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(f)]
        return json.load(f)
