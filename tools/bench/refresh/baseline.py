#!/usr/bin/python3
"""The refresh benchmark's Python baseline: one balance refresh done the way
Python backends do it.

pad: untimed, writes snapshots of the dataset's balances until the database
holds --snapshots (the run script keeps it level with coffer-storage's
history, which makes writes dearer as it grows).

seed: creates the baseline's own database (the accounts table filled with the
dataset's first --addresses accounts, and the empty snapshot tables), either
SQLCipher through the sqlcipher command line (--writer sqlcipher, with the
raw key in --key_file, as coffer-storage keys its file) or plain SQLite
through Python's sqlite3 (--writer sqlite3, unencrypted: Debian has no
SQLCipher module for Python).

refresh: one refresh, timed from its start to the committed snapshot:
  1. list: the accounts of chain eip155:31337 from the database;
  2. fetch: eth_blockNumber pins the block, then every account's ether
     balance (eth_getBalance in JSON-RPC batches of --batch) and, with
     --token, its token balance (balanceOf through Multicall3 aggregate3,
     --aggregate calls per eth_call) at that block, all requests started
     with asyncio.gather under a semaphore over an aiohttp
     TCPConnector(limit=100, limit_per_host=20);
  3. write: one snapshot row plus one row per (account, asset) in one
     transaction.
Then, untimed, checks every balance against the dataset and the rows the
database holds, and prints one line of JSON.

  baseline.py seed --addresses 10000 --db /tmp/b.db --key_file /tmp/k --writer sqlcipher
  baseline.py refresh --url http://127.0.0.1:8545 --addresses 10000 --db /tmp/b.db \\
      --key_file /tmp/k --writer sqlcipher [--token 0x... --multicall 0x...]

The dataset (addresses and their balances) is tools/bench/fetcher/baseline.py's,
imported from there; its `setup` gives the addresses their balances on anvil.

Exit status: 0; 1 when any balance was wrong or any request failed (the JSON
is printed anyway); 2 on a usage or run error.
"""

import argparse
import asyncio
import importlib.util
import json
import os
import sqlite3
import sys
import time
import uuid

import aiohttp

_FETCHER_BASELINE = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "fetcher",
                                 "baseline.py")
_spec = importlib.util.spec_from_file_location("fetcher_baseline", _FETCHER_BASELINE)
dataset = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dataset)

CHAIN = "eip155:31337"
ETHER = CHAIN + "/slip44:60"
ETHER_DECIMALS = 18
BALANCE_OF = "70a08231"  # balanceOf(address)
AGGREGATE3 = "82ad56cb"  # aggregate3((address,bool,bytes)[])

# The realistic part of a portfolio backend's schema: accounts, one row per
# snapshot, one per (account, asset) reading with the indexes history reads
# need. (coffer-storage also keeps latest_balances up to date in the same
# transaction and checks a fence and an idempotency digest; the baseline
# does not, which only favours it.)
SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
  account_id TEXT PRIMARY KEY NOT NULL,
  chain_id   TEXT NOT NULL,
  address    TEXT NOT NULL,
  label      TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS accounts_by_chain ON accounts (chain_id, account_id);
CREATE TABLE IF NOT EXISTS snapshots (
  snapshot_id  TEXT PRIMARY KEY NOT NULL,
  taken_at     INTEGER NOT NULL,
  written_at   INTEGER NOT NULL,
  chain_id     TEXT NOT NULL,
  block_number INTEGER NOT NULL,
  items        INTEGER NOT NULL,
  failed_items INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_items (
  item_id       INTEGER PRIMARY KEY,
  snapshot_id   TEXT NOT NULL REFERENCES snapshots (snapshot_id) ON DELETE CASCADE,
  account_id    TEXT NOT NULL,
  asset_id      TEXT NOT NULL,
  taken_at      INTEGER NOT NULL,
  units         TEXT,
  decimals      INTEGER,
  error_message TEXT,
  block_number  INTEGER,
  UNIQUE (snapshot_id, account_id, asset_id)
);
CREATE INDEX IF NOT EXISTS snapshot_items_by_account_asset_time
  ON snapshot_items (account_id, asset_id, taken_at);
CREATE INDEX IF NOT EXISTS snapshot_items_by_asset_time ON snapshot_items (asset_id, taken_at);
"""

# Rows per INSERT statement in the SQL piped to the sqlcipher command line
# (SQLite 3.15 allows at most 500 rows in one VALUES list).
ROWS_PER_INSERT = 500


class RunError(Exception):
    pass


def word(value):
    return "%064x" % value


def sql_text(value):
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class Database:
    """The baseline's database: the sqlcipher command line, or sqlite3."""

    def __init__(self, args):
        self.path = args.db
        self.writer = args.writer
        self.key = None
        if self.writer == "sqlcipher":
            with open(args.key_file) as f:
                self.key = f.read().strip()
            if len(self.key) != 64:
                raise RunError("the key file must hold 64 hexadecimal characters")

    def _preamble(self):
        # As coffer-storage opens its file: a raw key, 4 KiB pages, WAL,
        # synchronous NORMAL, foreign keys on, temp store in memory.
        return ("PRAGMA key = \"x'%s'\";\nPRAGMA cipher_page_size = 4096;\n"
                "PRAGMA foreign_keys = ON;\nPRAGMA temp_store = MEMORY;\n"
                "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\n" % self.key)

    async def _cli(self, sql):
        process = await asyncio.create_subprocess_exec(
            "sqlcipher", "-bail", "-batch", self.path, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate((self._preamble() + sql).encode())
        if process.returncode != 0 or err.strip():
            raise RunError("sqlcipher: status %d: %s" % (process.returncode, err.decode()[:500]))
        return out.decode()

    def _connect(self):
        connection = sqlite3.connect(self.path, isolation_level=None)
        for pragma in ("foreign_keys = ON", "temp_store = MEMORY", "journal_mode = WAL",
                       "synchronous = NORMAL"):
            connection.execute("PRAGMA " + pragma)
        return connection

    async def seed(self, accounts, now):
        rows = [(a, CHAIN, a.split(":")[2], now, now) for a in accounts]
        if self.writer == "sqlite3":
            with self._connect() as connection:
                connection.executescript(SCHEMA)
                connection.execute("BEGIN")
                connection.executemany(
                    "INSERT OR IGNORE INTO accounts (account_id, chain_id, address, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?)", rows)
                connection.execute("COMMIT")
            return
        sql = [SCHEMA, "BEGIN;"]
        for start in range(0, len(rows), ROWS_PER_INSERT):
            sql.append("INSERT OR IGNORE INTO accounts (account_id, chain_id, address, created_at, "
                       "updated_at) VALUES " + ",".join(
                           "(" + ",".join(sql_text(v) for v in row) + ")"
                           for row in rows[start:start + ROWS_PER_INSERT]) + ";")
        sql.append("COMMIT;")
        await self._cli("\n".join(sql))

    async def list_accounts(self, chain_id):
        query = "SELECT account_id FROM accounts WHERE chain_id = %s ORDER BY account_id" % (
            sql_text(chain_id))
        if self.writer == "sqlite3":
            with self._connect() as connection:
                return [row[0] for row in connection.execute(query)]
        out = await self._cli("SELECT '--accounts--';\n" + query + ";\n")
        return out.split("--accounts--\n", 1)[1].split()

    async def write_snapshot(self, snapshot, items):
        """One transaction: the snapshot row, then one row per item."""
        columns = ("snapshot_id, account_id, asset_id, taken_at, units, decimals, "
                   "error_message, block_number")
        rows = [(snapshot["snapshot_id"], account, asset, snapshot["taken_at"], units, decimals,
                 error, snapshot["block_number"])
                for account, asset, units, decimals, error in items]
        head = (snapshot["snapshot_id"], snapshot["taken_at"], snapshot["written_at"], CHAIN,
                snapshot["block_number"], len(items), snapshot["failed_items"])
        snapshot_insert = ("INSERT INTO snapshots (snapshot_id, taken_at, written_at, chain_id, "
                           "block_number, items, failed_items) VALUES ")
        if self.writer == "sqlite3":
            with self._connect() as connection:
                connection.execute("BEGIN")
                connection.execute(snapshot_insert + "(?, ?, ?, ?, ?, ?, ?)", head)
                connection.executemany(
                    "INSERT INTO snapshot_items (%s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)" % columns,
                    rows)
                connection.execute("COMMIT")
            return
        sql = ["BEGIN;", snapshot_insert + "(" + ",".join(sql_text(v) for v in head) + ");"]
        for start in range(0, len(rows), ROWS_PER_INSERT):
            sql.append("INSERT INTO snapshot_items (%s) VALUES " % columns + ",".join(
                "(" + ",".join(sql_text(v) for v in row) + ")"
                for row in rows[start:start + ROWS_PER_INSERT]) + ";")
        sql.append("COMMIT;")
        await self._cli("\n".join(sql))

    async def snapshot_count(self):
        query = "SELECT count(*) FROM snapshots"
        if self.writer == "sqlite3":
            with self._connect() as connection:
                return connection.execute(query).fetchone()[0]
        out = await self._cli("SELECT '--count--';\n" + query + ";\n")
        return int(out.split("--count--\n", 1)[1].split()[0])

    async def stored_items(self, snapshot_id):
        """{(account_id, asset_id): units} of one snapshot, for the check."""
        query = ("SELECT account_id, asset_id, units FROM snapshot_items WHERE snapshot_id = %s"
                 % sql_text(snapshot_id))
        if self.writer == "sqlite3":
            with self._connect() as connection:
                return {(a, s): u for a, s, u in connection.execute(query)}
        out = await self._cli("SELECT '--items--';\n" + query + ";\n")
        stored = {}
        for line in out.split("--items--\n", 1)[1].splitlines():
            account, asset, units = line.split("|")
            stored[(account, asset)] = units
        return stored


def aggregate3_call_data(token, addresses):
    """aggregate3 of balanceOf(address) on `token` for each address."""
    count = len(addresses)
    element = 6 * 32  # target, allowFailure, offset, length, 64 bytes of call data
    parts = [AGGREGATE3, word(0x20), word(count)]
    parts.extend(word(count * 32 + i * element) for i in range(count))
    target = word(int(token, 16))
    for address in addresses:
        parts.append(target + word(1) + word(0x60) + word(36) + BALANCE_OF +
                     word(int(address, 16)) + "0" * 56)
    return "0x" + "".join(parts)


def aggregate3_results(result_hex, count):
    """The balances an aggregate3 of `count` balanceOf calls answered; None
    for a call that failed."""
    data = bytes.fromhex(result_hex[2:])

    def integer(at):
        return int.from_bytes(data[at:at + 32], "big")

    base = integer(0) + 32
    if integer(base - 32) != count:
        raise RunError("aggregate3 answered %d results for %d calls" % (integer(base - 32), count))
    values = []
    for i in range(count):
        element = base + integer(base + 32 * i)
        if not integer(element):
            values.append(None)
            continue
        returned = element + integer(element + 32)
        length = integer(returned)
        values.append(int.from_bytes(data[returned + 32:returned + 32 + length], "big"))
    return values


async def fetch_balances(args, session, accounts):
    """(block number, items): items are (account_id, asset_id, units,
    decimals, error) for ether and the token of every account."""
    url = args.url
    block = int(await dataset.rpc(session, url, "eth_blockNumber", []), 16)
    block_hex = hex(block)
    addresses = [account.split(":")[2] for account in accounts]
    semaphore = asyncio.Semaphore(args.semaphore)
    ether = [None] * len(accounts)
    tokens = [None] * len(accounts)

    async def native(first, count):
        async with semaphore:
            body = [{"jsonrpc": "2.0", "id": i, "method": "eth_getBalance",
                     "params": [addresses[i], block_hex]} for i in range(first, first + count)]
            async with session.post(url, json=body) as response:
                replies = await response.json(content_type=None)
        for reply in replies:
            i = reply.get("id")
            ether[i] = ((str(int(reply["result"], 16)), None) if "result" in reply
                        else (None, str(reply.get("error"))))

    async def token(first, count):
        async with semaphore:
            body = {"jsonrpc": "2.0", "id": first, "method": "eth_call",
                    "params": [{"to": args.multicall,
                                "data": aggregate3_call_data(args.token,
                                                             addresses[first:first + count])},
                               block_hex]}
            async with session.post(url, json=body) as response:
                reply = await response.json(content_type=None)
        if "result" not in reply:
            for i in range(first, first + count):
                tokens[i] = (None, str(reply.get("error")))
            return
        for k, value in enumerate(aggregate3_results(reply["result"], count)):
            tokens[first + k] = (str(value), None) if value is not None else (
                None, "balanceOf failed")

    jobs = [native(first, min(args.batch, len(accounts) - first))
            for first in range(0, len(accounts), args.batch)]
    if args.token:
        jobs += [token(first, min(args.aggregate, len(accounts) - first))
                 for first in range(0, len(accounts), args.aggregate)]
    await asyncio.gather(*jobs)
    items = []
    for i, account in enumerate(accounts):
        units, error = ether[i] or (None, "no answer")
        items.append((account, ETHER, units, ETHER_DECIMALS if units is not None else None, error))
        if not args.token:
            continue
        units, error = tokens[i] or (None, "no answer")
        items.append((account, token_asset(args), units,
                      dataset.TOKEN_DECIMALS if units is not None else None, error))
    return block, items


def token_asset(args):
    return "%s/erc20:%s" % (CHAIN, args.token.lower())


def dataset_accounts(addresses):
    return ["%s:%s" % (CHAIN, dataset.address(i)) for i in range(addresses)]


async def seed(args):
    database = Database(args)
    await database.seed(dataset_accounts(args.addresses), int(time.time() * 1e9))
    listed = await database.list_accounts(CHAIN)
    if len(listed) != args.addresses:
        raise RunError("the database lists %d accounts, expected %d" % (len(listed),
                                                                         args.addresses))
    print(json.dumps({"accounts": len(listed), "writer": args.writer}))
    return 0


async def pad(args):
    """Untimed: writes snapshots of the dataset's balances (no node involved)
    until the database holds --snapshots, so that a refresh writes into as
    much history as coffer-storage holds at that point."""
    database = Database(args)
    have = await database.snapshot_count()
    now = int(time.time() * 1e9)
    accounts = dataset_accounts(args.addresses)
    items = []
    for i, account in enumerate(accounts):
        items.append((account, ETHER, str(dataset.native_wei(i)), ETHER_DECIMALS, None))
        if args.token:
            items.append((account, token_asset(args), str(dataset.token_units(i, args.addresses)),
                          dataset.TOKEN_DECIMALS, None))
    for k in range(have, args.snapshots):
        taken_at = now - (args.snapshots - k) * 3600 * 10**9
        await database.write_snapshot({"snapshot_id": uuid.uuid4().hex, "taken_at": taken_at,
                                       "written_at": taken_at, "block_number": 1,
                                       "failed_items": 0}, items)
    print(json.dumps({"snapshots": max(have, args.snapshots), "written": max(0, args.snapshots - have)}))
    return 0


async def refresh(args):
    database = Database(args)
    connector = aiohttp.TCPConnector(limit=args.limit, limit_per_host=args.limit_per_host)
    async with aiohttp.ClientSession(connector=connector) as session:
        # A long-running backend has its connections open already.
        await dataset.rpc(session, args.url, "eth_chainId", [])
        node_start = dataset.process_cpu_seconds(args.node_pid)
        cpu_start = time.process_time()
        start = time.perf_counter()
        taken_at = int(time.time() * 1e9)
        accounts = await database.list_accounts(CHAIN)
        listed = time.perf_counter()
        block, items = await fetch_balances(args, session, accounts)
        fetched = time.perf_counter()
        snapshot = {"snapshot_id": uuid.uuid4().hex, "taken_at": taken_at,
                    "written_at": int(time.time() * 1e9), "block_number": block,
                    "failed_items": sum(1 for item in items if item[4] is not None)}
        await database.write_snapshot(snapshot, items)
        end = time.perf_counter()
        # The sqlcipher command line's CPU is its own process's; children's
        # times are counted once they have been waited for.
        cpu = time.process_time() - cpu_start
        children = os.times()
        node_end = dataset.process_cpu_seconds(args.node_pid)

    errors = []
    expected = {}
    for i in range(args.addresses):
        account = "%s:%s" % (CHAIN, dataset.address(i))
        expected[(account, ETHER)] = str(dataset.native_wei(i))
        if args.token:
            expected[(account, token_asset(args))] = str(dataset.token_units(i, args.addresses))
    if len(accounts) != args.addresses:
        errors.append("listed %d accounts, expected %d" % (len(accounts), args.addresses))
    for account, asset, units, _, error in items:
        if error is not None or units != expected.get((account, asset)):
            errors.append("%s %s: %s" % (account, asset, error or units))
    stored = await database.stored_items(snapshot["snapshot_id"])
    if stored != expected:
        errors.append("the database holds %d rows of the snapshot, %d of them right; expected %d"
                      % (len(stored), sum(1 for k, v in stored.items() if expected.get(k) == v),
                         len(expected)))
    seconds = end - start
    report = {"writer": args.writer, "accounts": len(accounts), "items": len(items),
              "block": block, "seconds": round(seconds, 4),
              "list_seconds": round(listed - start, 4), "fetch_seconds": round(fetched - listed, 4),
              "write_seconds": round(end - fetched, 4),
              "other_seconds": round(seconds - (listed - start) - (fetched - listed) -
                                     (end - fetched), 4),
              "python_cpu_seconds": round(cpu, 3),
              "cli_cpu_seconds": round(children.children_user + children.children_system, 3)}
    if node_start is not None and node_end is not None:
        report["node_cpu_seconds"] = round(node_end - node_start, 3)
    report["errors"] = len(errors)
    print(json.dumps(report))
    if errors:
        print("baseline: %d errors; first: %s" % (len(errors), errors[0]), file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("seed", "pad", "refresh"):
        command = sub.add_parser(name)
        command.add_argument("--addresses", type=int, default=10000)
        command.add_argument("--db", required=True, help="the baseline's database file")
        command.add_argument("--writer", choices=("sqlcipher", "sqlite3"), default="sqlcipher")
        command.add_argument("--key_file", help="64 hex digits: the raw key (sqlcipher)")
    sub.choices["pad"].add_argument("--snapshots", type=int, required=True,
                                    help="snapshots the database holds afterwards")
    for name in ("pad", "refresh"):
        sub.choices[name].add_argument(
            "--token", default="", help="TestToken's address (setup's token); empty: ether only")
    command = sub.choices["refresh"]
    command.add_argument("--url", required=True, help="the node's JSON-RPC URL")
    command.add_argument("--multicall", default="", help="Multicall3's address (with --token)")
    command.add_argument("--batch", type=int, default=100,
                         help="eth_getBalance calls per JSON-RPC batch (default 100)")
    command.add_argument("--aggregate", type=int, default=500,
                         help="balanceOf calls per aggregate3 eth_call (default 500)")
    command.add_argument("--semaphore", type=int, default=100, help="requests started at a time")
    command.add_argument("--limit", type=int, default=100)
    command.add_argument("--limit_per_host", type=int, default=20)
    command.add_argument("--node_pid", type=int, default=0,
                         help="also report this process's (the node's) CPU time")
    args = parser.parse_args()
    if args.addresses < 1:
        parser.error("--addresses must be positive")
    if args.command == "refresh" and args.token and not args.multicall:
        parser.error("--token needs --multicall")
    if args.writer == "sqlcipher" and not args.key_file:
        parser.error("--writer sqlcipher needs --key_file")
    try:
        command = {"seed": seed, "pad": pad, "refresh": refresh}[args.command]
        return asyncio.run(command(args))
    except (RunError, dataset.RpcError, OSError, aiohttp.ClientError) as error:
        print("baseline: %s: %s" % (args.command, error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
