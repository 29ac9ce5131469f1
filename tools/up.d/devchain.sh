# shellcheck shell=bash
# tools/up's development chain: what it does to a fresh anvil over JSON-RPC
# (curl only), and the fetcher configuration that reads it. Sourced by
# tools/up after `set -euo pipefail`; every function prints its result on
# stdout and fails (non-zero, one line on stderr) when the node refuses.
#
#   source tools/up.d/devchain.sh
#   devchain_wait_ready http://127.0.0.1:8545 "$anvil_pid"
#   token=$(devchain_deploy_token "$url" "$from" tools/contracts/out/TestToken.bin \
#     "Coffer Dev Token" CDEV 6)
#   devchain_mint "$url" "$from" "$token" "$to" 1000000000   # 1,000 CDEV
#   devchain_fetcher_config "$url" "$token" CDEV "Coffer Dev Token" 6 >fetcher.textproto
#
# anvil must run with --base-fee 0 (tools/up does): transactions are sent
# with gasPrice 0, so deploying and minting cost nothing and every funded
# account keeps exactly the ether anvil gave it.

# The chain anvil serves (its default, also the fetcher's built-in one).
DEVCHAIN_CHAIN_ID="eip155:31337"
DEVCHAIN_ETH_ASSET="$DEVCHAIN_CHAIN_ID/slip44:60"

# devchain_rpc URL METHOD PARAMS_JSON: the call's "result" as raw JSON text
# (a quoted string keeps its quotes); fails with the node's error message.
devchain_rpc() {
  local url="$1" method="$2" params="$3" reply
  reply=$(curl -sS --max-time 30 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$method\",\"params\":$params}" "$url") || {
    echo "$method: no answer from $url" >&2
    return 1
  }
  if [[ "$reply" == *'"error":'* ]]; then
    echo "$method: $(sed -n 's/.*"message":"\([^"]*\)".*/\1/p' <<<"$reply")" >&2
    return 1
  fi
  sed -n 's/.*"result":\(.*\)}$/\1/p' <<<"$reply"
}

# devchain_wait_ready URL PID: waits until the node at URL answers (at most
# about 30 s), failing early when process PID has exited.
devchain_wait_ready() {
  local url="$1" pid="$2"
  for _ in $(seq 1 300); do
    if devchain_rpc "$url" eth_chainId '[]' >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || {
      echo "anvil exited before it answered" >&2
      return 1
    }
    sleep 0.1
  done
  echo "anvil did not answer at $url within 30 s" >&2
  return 1
}

# devchain_accounts URL: the node's unlocked (funded) accounts, one
# lower-case 0x address a line.
devchain_accounts() {
  devchain_rpc "$1" eth_accounts '[]' | grep -o '0x[0-9a-fA-F]\{40\}' | tr 'A-F' 'a-f'
}

# ABI words: a uint (decimal, below 2^63) and a short string (at most 32
# bytes: its length word, then its bytes padded to one word).
devchain_abi_uint() { printf '%064x' "$1"; }
devchain_abi_short_string() {
  local hex
  hex=$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')
  if ((${#hex} > 64)); then
    echo "\"$1\" is longer than 32 bytes" >&2
    return 1
  fi
  printf '%064x%s%0*d' "${#1}" "$hex" $((64 - ${#hex})) 0
}
devchain_abi_address() {
  local address="${1#0x}"
  printf '%024d%s' 0 "${address,,}"
}

# devchain_send URL FROM TO DATA: sends a transaction from an unlocked
# account (TO empty: a contract creation), waits for its receipt and prints
# the receipt; fails when it reverted.
devchain_send() {
  local url="$1" from="$2" to="$3" data="$4" tx hash receipt
  tx="{\"from\":\"$from\",\"data\":\"$data\",\"gasPrice\":\"0x0\""
  [[ -z "$to" ]] || tx+=",\"to\":\"$to\""
  hash=$(devchain_rpc "$url" eth_sendTransaction "[$tx}]") || return 1
  # anvil mines each transaction as it arrives; the loop covers a node
  # started with a block time.
  for _ in $(seq 1 100); do
    receipt=$(devchain_rpc "$url" eth_getTransactionReceipt "[$hash]") || return 1
    if [[ "$receipt" != null && -n "$receipt" ]]; then break; fi
    sleep 0.1
  done
  if [[ "$receipt" != *'"status":"0x1"'* ]]; then
    echo "transaction $hash failed: ${receipt:-no receipt}" >&2
    return 1
  fi
  echo "$receipt"
}

# devchain_deploy_token URL FROM BIN_FILE NAME SYMBOL DECIMALS: deploys
# tools/contracts' TestToken (constructor (string name, string symbol, uint8
# decimals); anyone may mint) and prints its address.
devchain_deploy_token() {
  local url="$1" from="$2" bin_file="$3" name="$4" symbol="$5" decimals="$6" code args receipt
  code=$(tr -d ' \n' <"$bin_file")
  # Head: offsets of the two strings (3 words of head, then name's 2 words)
  # and the decimals; tail: the two strings.
  args="$(devchain_abi_uint 96)$(devchain_abi_uint 160)$(devchain_abi_uint "$decimals")"
  args+="$(devchain_abi_short_string "$name")$(devchain_abi_short_string "$symbol")"
  receipt=$(devchain_send "$url" "$from" "" "0x${code#0x}$args") || return 1
  sed -n 's/.*"contractAddress":"\(0x[0-9a-fA-F]\{40\}\)".*/\1/p' <<<"$receipt"
}

# devchain_mint URL FROM TOKEN TO UNITS: TestToken.mint(TO, UNITS) (base
# units, below 2^63).
devchain_mint() {
  local url="$1" from="$2" token="$3" to="$4" units="$5"
  # mint(address,uint256)
  devchain_send "$url" "$from" "$token" \
    "0x40c10f19$(devchain_abi_address "$to")$(devchain_abi_uint "$units")" >/dev/null
}

# devchain_token_balance URL TOKEN OWNER: balanceOf(OWNER) in base units
# (decimal).
devchain_token_balance() {
  local result
  # balanceOf(address)
  result=$(devchain_rpc "$1" eth_call \
    "[{\"to\":\"$2\",\"data\":\"0x70a08231$(devchain_abi_address "$3")\"},\"latest\"]") || return 1
  result="${result//\"/}"
  echo $((16#${result#0x}))
}

# The development prices: CoinGecko ids and USD prices of ether and the
# token. Fixed, and said to be so wherever they show: not market prices.
DEVCHAIN_ETH_PRICE_ID="ethereum"
DEVCHAIN_TOKEN_PRICE_ID="coffer-dev-token"
DEVCHAIN_ETH_USD=3000
DEVCHAIN_TOKEN_USD=1

# devchain_price_files DIR: DIR/simple/price, a CoinGecko /simple/price
# answer holding both prices, for a static file server.
devchain_price_files() {
  mkdir -p "$1/simple"
  printf '{"%s":{"usd":%s},"%s":{"usd":%s}}\n' "$DEVCHAIN_ETH_PRICE_ID" "$DEVCHAIN_ETH_USD" \
    "$DEVCHAIN_TOKEN_PRICE_ID" "$DEVCHAIN_TOKEN_USD" >"$1/simple/price"
}

# devchain_wait_http URL PID: waits until URL answers (at most about 30 s),
# failing early when process PID has exited.
devchain_wait_http() {
  local url="$1" pid="$2"
  for _ in $(seq 1 300); do
    if curl -sf --max-time 5 "$url" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# devchain_fetcher_config URL TOKEN SYMBOL NAME DECIMALS PRICES_URL: a
# fetcher configuration (protos/coffer/config/fetcher_config.proto) reading
# ether and the token from the node at URL, priced by the CoinGecko-style
# source at PRICES_URL.
devchain_fetcher_config() {
  local url="$1" token="$2" symbol="$3" name="$4" decimals="$5" prices_url="$6"
  cat <<CONFIG
# proto-file: protos/coffer/config/fetcher_config.proto
# proto-message: coffer.config.FetcherConfig
#
# Written by tools/up for its local anvil; rewritten on every start (the
# token is deployed anew each time). The prices are tools/up's fixed
# development prices (the development chain's assets have no market price).
chains {
  chain_id: "$DEVCHAIN_CHAIN_ID"
  name: "anvil (local development chain)"
  endpoints { name: "anvil" url: "$url" }
  native_asset {
    asset_id: "$DEVCHAIN_ETH_ASSET"
    symbol: "ETH"
    name: "Ether"
    decimals: 18
    price_id: "$DEVCHAIN_ETH_PRICE_ID"
  }
  tokens {
    asset_id: "$DEVCHAIN_CHAIN_ID/erc20:$token"
    symbol: "$symbol"
    name: "$name"
    decimals: $decimals
    price_id: "$DEVCHAIN_TOKEN_PRICE_ID"
  }
  # A local node fails fast; retry it soon.
  cooldown { seconds: 1 }
}
price_sources {
  name: "development-prices"
  base_url: "$prices_url"
  ttl { seconds: 60 }
}
CONFIG
}
