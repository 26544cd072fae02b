"""Benchmarks of the ASPIRE -> portal sync, side by side with the limit and the peers.

`python -m bench --size medium|large` measures every method (see ``bench/__main__.py``);
`python -m bench.profile --size medium --entity invoice` shows where one engine load spends its time.
The peers (dlt, pyarrow) come from ``bench/requirements.txt`` and are never needed by the DAGs.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# The DAG package's modules live in plugins/, as Airflow loads them; the emulator at the repository root.
for _path in (REPO / "plugins", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
