#!/usr/bin/python3
"""The fetcher benchmark's dataset and its Python baseline.

setup: gives the benchmark's addresses their balances on a local anvil
(anvil_setBalance for every address; TestToken deployed and minted to a
few; Multicall3 deployed) and prints the contracts' addresses as JSON.

measure: reads every address's ether balance the way Python backends do,
with asyncio + aiohttp: one task per address (or per batch of --batch
addresses, sent as one JSON-RPC batch array), all started with
asyncio.gather under a semaphore, over a TCPConnector(limit=100,
limit_per_host=20). Checks every balance and prints one line of JSON.

  baseline.py setup --url http://127.0.0.1:8545 --addresses 20000 \\
      --contracts tools/contracts/out
  baseline.py measure --url http://127.0.0.1:8545 --addresses 20000 --batch 100

The dataset (query_load.cc has the same definitions): address i is
0xbe0c0ffee0000000 + i as 40 hex digits; its ether balance is
(i + 1) * 10^12 + i wei; it holds 1,000,000 + i base units of the token
(6 decimals) when i % 1000 == 7 or it is the last address, none otherwise.

Exit status: 0; 1 when any balance was wrong or any request failed (the
JSON is printed anyway); 2 on a usage or setup error.
"""

import argparse
import asyncio
import json
import os
import sys
import time

import aiohttp

# anvil's dev account 0 (the "test ... junk" mnemonic), unlocked.
DEPLOYER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
MINT_SELECTOR = "40c10f19"  # mint(address,uint256)
TOKEN_DECIMALS = 6


def address(i):
    return "0x%040x" % (0xBE0C0FFEE0000000 + i)


def native_wei(i):
    return (i + 1) * 10**12 + i


def token_holder(i, addresses):
    return i % 1000 == 7 or i == addresses - 1


def token_units(i, addresses):
    return 1_000_000 + i if token_holder(i, addresses) else 0


def word(value):
    return "%064x" % value


def short_string_tail(text):
    data = text.encode()
    return word(len(data)) + data.hex().ljust(64, "0")


class RpcError(Exception):
    pass


async def rpc(session, url, method, params):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    async with session.post(url, json=body) as response:
        reply = await response.json(content_type=None)
    if "error" in reply or "result" not in reply:
        raise RpcError("%s: %s" % (method, reply.get("error", reply)))
    return reply["result"]


async def rpc_batch(session, url, calls):
    body = [{"jsonrpc": "2.0", "id": n, "method": m, "params": p} for n, (m, p) in enumerate(calls)]
    async with session.post(url, json=body) as response:
        replies = await response.json(content_type=None)
    if not isinstance(replies, list):
        raise RpcError("batch answered %r" % (replies,))
    for reply in replies:
        if "error" in reply:
            raise RpcError(str(reply["error"]))
    return replies


async def transact(session, url, to, data):
    tx = {"from": DEPLOYER, "data": "0x" + data}
    if to:
        tx["to"] = to
    tx_hash = await rpc(session, url, "eth_sendTransaction", [tx])
    receipt = None
    for _ in range(200):  # automining may answer before the block is in
        receipt = await rpc(session, url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            break
        await asyncio.sleep(0.01)
    if receipt is None or int(receipt["status"], 16) != 1:
        raise RpcError("transaction %s failed: %r" % (tx_hash, receipt))
    return receipt


async def setup(args):
    def creation_code(name):
        with open(os.path.join(args.contracts, name + ".bin")) as f:
            return f.read().strip().removeprefix("0x")

    async with aiohttp.ClientSession() as session:
        url = args.url
        for start in range(0, args.addresses, 500):
            calls = [("anvil_setBalance", [address(i), hex(native_wei(i))])
                     for i in range(start, min(start + 500, args.addresses))]
            await rpc_batch(session, url, calls)
        # TestToken(name, symbol, decimals): offsets of the two strings, then
        # decimals, then the strings.
        token_args = word(0x60) + word(0xA0) + word(TOKEN_DECIMALS) + \
            short_string_tail("Coffer Test") + short_string_tail("CTST")
        token = (await transact(session, url, None,
                                creation_code("TestToken") + token_args))["contractAddress"]
        multicall = (await transact(session, url, None,
                                    creation_code("Multicall3")))["contractAddress"]
        holders = [i for i in range(args.addresses) if token_holder(i, args.addresses)]
        for i in holders:
            data = MINT_SELECTOR + word(int(address(i), 16)) + word(token_units(i, args.addresses))
            await transact(session, url, token, data)
        # Spot checks straight from the node.
        for i in (0, args.addresses - 1):
            got = int(await rpc(session, url, "eth_getBalance", [address(i), "latest"]), 16)
            if got != native_wei(i):
                raise RpcError("address %d holds %d wei, expected %d" % (i, got, native_wei(i)))
    print(json.dumps({"token": token, "multicall": multicall, "token_holders": len(holders),
                      "addresses": args.addresses}))
    return 0


def process_cpu_seconds(pid):
    """User + system CPU time of process `pid` so far (/proc), or None."""
    if not pid:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            # Fields after the command name, which may hold spaces.
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def measure(args):
    errors = 0
    first_error = []

    def fail(message):
        nonlocal errors
        errors += 1
        if not first_error:
            first_error.append(message)

    def check(i, result):
        if result is None:
            fail("%s: no result" % address(i))
        elif int(result, 16) != native_wei(i):
            fail("%s: %d wei, expected %d" % (address(i), int(result, 16), native_wei(i)))

    semaphore = asyncio.Semaphore(args.semaphore)
    url = args.url

    async def one(session, i):
        async with semaphore:
            try:
                body = {"jsonrpc": "2.0", "id": i, "method": "eth_getBalance",
                        "params": [address(i), "latest"]}
                async with session.post(url, json=body) as response:
                    reply = await response.json(content_type=None)
                check(i, reply.get("result"))
            except Exception as error:  # noqa: BLE001 - counted, never fatal
                fail("%s: %r" % (address(i), error))

    async def batch(session, first, count):
        async with semaphore:
            try:
                body = [{"jsonrpc": "2.0", "id": i, "method": "eth_getBalance",
                         "params": [address(i), "latest"]} for i in range(first, first + count)]
                async with session.post(url, json=body) as response:
                    replies = await response.json(content_type=None)
                by_id = {reply.get("id"): reply.get("result") for reply in replies}
                for i in range(first, first + count):
                    check(i, by_id.get(i))
            except Exception as error:  # noqa: BLE001
                for _ in range(count):
                    fail("batch at %s: %r" % (address(first), error))

    def tasks(session, first, end):
        if args.batch <= 1:
            return [one(session, i) for i in range(first, end)]
        return [batch(session, start, min(args.batch, end - start))
                for start in range(first, end, args.batch)]

    connector = aiohttp.TCPConnector(limit=args.limit, limit_per_host=args.limit_per_host)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up: the connections opened, as in a long-running backend.
        await asyncio.gather(*tasks(session, 0, min(args.addresses, 1000)))
        warmup_errors = errors
        node_start = process_cpu_seconds(args.node_pid)
        cpu_start = time.process_time()
        start = time.perf_counter()
        # Whole passes over every address until --min_seconds have gone by:
        # a pass of fast stages lasts a fraction of a second, too short to
        # measure steadily (query_load does the same).
        passes = 0
        while True:
            await asyncio.gather(*tasks(session, 0, args.addresses))
            passes += 1
            seconds = time.perf_counter() - start
            if seconds >= args.min_seconds:
                break
        cpu = time.process_time() - cpu_start
        node_end = process_cpu_seconds(args.node_pid)
    balances = passes * args.addresses
    report = {
        "balances": balances, "passes": passes, "batch": args.batch,
        "seconds": round(seconds, 3),
        "balances_per_s": round(balances / seconds, 1),
        "python_cpu_cores": round(cpu / seconds, 2),
        "python_cpu_us_per_balance": round(cpu * 1e6 / balances, 2)}
    if node_start is not None and node_end is not None:
        report["node_cpu_cores"] = round((node_end - node_start) / seconds, 2)
        report["node_cpu_us_per_balance"] = round((node_end - node_start) * 1e6 / balances, 2)
    report.update({"warmup_errors": warmup_errors, "errors": errors - warmup_errors})
    print(json.dumps(report))
    if errors:
        print("baseline: %d balances wrong or failed; first: %s" % (errors, first_error[0]),
              file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("setup", "measure"):
        command = sub.add_parser(name)
        command.add_argument("--url", required=True, help="the node's JSON-RPC URL")
        command.add_argument("--addresses", type=int, default=20000)
    sub.choices["setup"].add_argument("--contracts", required=True,
                                      help="tools/contracts/out: TestToken.bin, Multicall3.bin")
    measure_command = sub.choices["measure"]
    measure_command.add_argument("--batch", type=int, default=1,
                                 help="addresses per request; 1: no JSON-RPC batching")
    measure_command.add_argument("--semaphore", type=int, default=100,
                                 help="requests started at a time")
    measure_command.add_argument("--min_seconds", type=float, default=1.0,
                                 help="repeat whole passes until this long (default 1)")
    measure_command.add_argument("--limit", type=int, default=100)
    measure_command.add_argument("--limit_per_host", type=int, default=20)
    measure_command.add_argument("--node_pid", type=int, default=0,
                                 help="also report this process's (the node's) CPU time")
    args = parser.parse_args()
    if args.addresses < 1:
        parser.error("--addresses must be positive")
    try:
        return asyncio.run(setup(args) if args.command == "setup" else measure(args))
    except (RpcError, OSError, aiohttp.ClientError) as error:
        print("baseline: %s: %s" % (args.command, error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
