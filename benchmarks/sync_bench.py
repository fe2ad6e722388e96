"""Full sync of N deals from the mock HubSpot into SQLite: records per second and memory.

The mock runs in its own process (as a CRM would), 100 deals per page. Printed against
baselines measured in the same run:

1. raw fetch: every page of deals over HTTP with ``requests``, decoded, nothing stored
   (the ceiling the network side allows);
2. bare insert: the same number of deal rows written with one ``executemany`` into an
   SQLite table of the same shape (the ceiling of the database side);
3. the sync: ``kpi_engine.sync`` with the HubSpot connector (owners and deals streams),
   validating every record, resolving owners and companies, committing each 1,000 records
   with their stream position.

Memory is sampled every 20 ms during the sync (resident set size, /proc/self/statm): flat
memory means the peak stays close to the start whatever N is.

    python benchmarks/sync_bench.py --deals 100000
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from kpi_engine import ConnectorContext, open_store, sync
from kpi_engine_connectors.hubspot import HubSpotConnector

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.mock_servers.hubspot import PRIVATE_TOKEN  # noqa: E402 - importable once the repository root is on sys.path

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:  # float ok: a measurement for display
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


class RssSampler(threading.Thread):
    def __init__(self, every: float = 0.02) -> None:  # float ok: seconds
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[float] = []  # float ok: MiB
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(rss_mib())
            time.sleep(self.every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mock(deals: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.mock_servers.hubspot",
            "--port",
            str(port),
            "--deals",
            str(deals),
            "--contacts",
            "1",
            "--engagements",
            "1",
            "--burst-limit",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            requests.get(
                f"{url}/crm/v3/owners",
                params={"limit": 1},
                headers={"Authorization": f"Bearer {PRIVATE_TOKEN}"},
                timeout=1,
            )
            return process, url
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the mock HubSpot did not start")


def raw_fetch(url: str, properties: str) -> tuple[int, float]:  # float ok: seconds
    session = requests.Session()
    headers = {"Authorization": f"Bearer {PRIVATE_TOKEN}"}
    started = time.perf_counter()
    count, after = 0, None
    while True:
        params = {
            "limit": 100,
            "properties": properties,
            "associations": "companies",
            "archived": "false",
            **({"after": after} if after else {}),
        }
        body = session.get(f"{url}/crm/v3/objects/deals", params=params, headers=headers, timeout=60).json()
        count += len(body["results"])
        after = (body.get("paging") or {}).get("next", {}).get("after")
        if not after:
            return count, time.perf_counter() - started


def bare_insert(n: int, folder: Path) -> float:  # float ok: seconds
    db = sqlite3.connect(folder / "bare.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE deals (id INTEGER PRIMARY KEY, source TEXT, remote_id TEXT, modified_at TEXT, is_deleted INT, "
        "name TEXT, customer_id INT, owner_id TEXT, stage_raw TEXT, status TEXT, amount BIGINT, currency TEXT, "
        "created_at TEXT, closed_at TEXT, deal_type TEXT, UNIQUE (source, remote_id))"
    )
    rows = [
        (
            "hubspot",
            str(5_000_000_001 + i),
            "2026-10-01 10:00:00.123000",
            0,
            f"Deal {i}",
            i % 3000 + 1,
            "hs-41629779",
            "closedwon",
            "won",
            1_250_050_000,
            "USD",
            "2026-01-01 00:00:00",
            "2026-03-31 16:00:00",
            "newbusiness",
        )
        for i in range(n)
    ]
    started = time.perf_counter()
    for start in range(0, n, 1000):
        db.executemany(
            "INSERT INTO deals (source, remote_id, modified_at, is_deleted, name, customer_id, owner_id, stage_raw, "
            "status, amount, currency, created_at, closed_at, deal_type) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows[start : start + 1000],
        )
        db.commit()
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000, help="records per transaction of the sync")
    args = parser.parse_args()

    print(f"Seeding the mock HubSpot with {args.deals:,} deals (own process) ...", flush=True)
    process, url = start_mock(args.deals)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            properties = ",".join(
                sorted(
                    {
                        "dealname",
                        "amount",
                        "dealstage",
                        "pipeline",
                        "closedate",
                        "createdate",
                        "hs_lastmodifieddate",
                        "hubspot_owner_id",
                        "deal_currency_code",
                        "hs_is_closed",
                        "hs_is_closed_won",
                        "dealtype",
                    }
                )
            )
            fetched, fetch_s = raw_fetch(url, properties)
            insert_s = bare_insert(fetched, folder)

            store = open_store(f"sqlite:///{folder / 'kpi.sqlite'}")
            connector = HubSpotConnector.from_env(
                {"base_url": url, "token": PRIVATE_TOKEN}, environ={}, context=ConnectorContext()
            )
            sampler = RssSampler()
            start_rss = rss_mib()
            sampler.start()
            started = time.perf_counter()
            summary = sync(store, connector, full=True, streams=["owners", "deals"], batch_size=args.batch_size)
            sync_s = time.perf_counter() - started
            sampler.stop.set()
            sampler.join()
            deals = next(st for st in summary.streams if st.stream == "deals")
            samples = sampler.samples
            quarter = [samples[min(len(samples) - 1, len(samples) * q // 4)] for q in (1, 2, 3)] if samples else []
            store.dispose()

            print()
            print(f"{'measure':<44}{'records':>10}{'seconds':>10}{'records/s':>12}")
            print(
                f"{'baseline: raw HTTP fetch, nothing stored':<44}{fetched:>10,}"
                f"{fetch_s:>10.2f}{fetched / fetch_s:>12,.0f}"
            )
            print(
                f"{'baseline: bare executemany into SQLite':<44}{fetched:>10,}"
                f"{insert_s:>10.2f}{fetched / insert_s:>12,.0f}"
            )
            print(
                f"{'kpi sync hubspot --full (owners + deals)':<44}{deals.read:>10,}"
                f"{sync_s:>10.2f}{deals.read / sync_s:>12,.0f}"
            )
            print()
            print(
                f"sync: {deals.inserted:,} inserted, {deals.deleted:,} archived as tombstones, {deals.skipped_total:,} "
                f"skipped, {deals.pages:,} pages, {deals.commits:,} commits"
            )
            print(
                f"RSS: {start_rss:.0f} MiB at start, {' / '.join(f'{q:.0f}' for q in quarter)} MiB at 1/4, 1/2, 3/4 of "
                f"the sync, peak {max(samples or [start_rss]):.0f} MiB ({len(samples)} samples)"
            )
            target = 5000
            rate = deals.read / sync_s
            print(f"target {target:,} records/s: {'met' if rate >= target else 'NOT met'} ({rate:,.0f}/s)")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
