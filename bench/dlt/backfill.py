"""dlt's backfill of Stripe customers, timed, for BENCHMARKS.md.

`python backfill.py` with DATABASE_URL, STRIPE_API_BASE (the fake's URL), STRIPE_API_KEY and
DLT_PIPELINES_DIR (a fresh directory) set. dlt's `rest_api` source pages `/v1/customers` as
Stripe documents it (`limit=100`, `starting_after` the last id, until `has_more` is false)
and merges into PostgreSQL on `id` (dataset `dlt`). Prints one JSON line.
"""

import json
import os
import sys
import time

import dlt
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
from dlt.sources.rest_api import rest_api_source


def main() -> int:
    env = {k: os.environ.get(k) for k in ("DATABASE_URL", "STRIPE_API_BASE", "STRIPE_API_KEY")}
    if not all(env.values()):
        print("set DATABASE_URL, STRIPE_API_BASE and STRIPE_API_KEY", file=sys.stderr)
        return 2
    source = rest_api_source(
        {
            "client": {
                "base_url": env["STRIPE_API_BASE"].rstrip("/") + "/v1/",
                "auth": {"type": "bearer", "token": env["STRIPE_API_KEY"]},
                "paginator": JSONResponseCursorPaginator(
                    cursor_path="data[-1].id",
                    cursor_param="starting_after",
                    has_more_path="has_more",
                ),
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {"params": {"limit": 100}, "data_selector": "data"},
            },
            "resources": [{"name": "customers", "endpoint": {"path": "customers"}}],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="stripe_bench",
        destination=dlt.destinations.postgres(credentials=env["DATABASE_URL"]),
        dataset_name="dlt",
        pipelines_dir=os.environ.get("DLT_PIPELINES_DIR"),
    )
    started = time.perf_counter()
    pipeline.run(source)
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        synced = client.execute_sql("select count(*) from customers")[0][0]
    print(json.dumps({"synced": synced, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
