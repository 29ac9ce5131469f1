// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Deployless balance scanner: many balances in one eth_call on any node, with
// no contract deployed. The fetcher sends this contract's creation code with
// its constructor arguments appended as the `data` of an eth_call that has no
// `to`; the node runs the constructor, and the constructor ends with an
// assembly `return` of the balances instead of runtime code, so the balances
// are the eth_call's result. Nothing is ever stored or deployed.
//
// INPUT (eth_call data, no `to`):
//   creation code (tools/contracts/out/BalanceScanner.bin)
//   ++ abi.encode(address token, address[] accounts)
// that is, after the creation code, standard ABI words:
//   word 0          token (left-padded address; address(0) = native balances)
//   word 1          0x40 (offset of the accounts array from word 0)
//   word 2          n = accounts.length
//   words 3..3+n-1  accounts[i] (left-padded addresses)
//
// OUTPUT (eth_call result): abi.encode(Result[]) where
//   struct Result { bool success; uint256 balance; }
// that is a dynamic array of static tuples, 64 + 64 * n bytes:
//   word 0          0x20 (offset of the array)
//   word 1          n (same order as the input accounts)
//   word 2 + 2i     success of account i: 1 or 0
//   word 3 + 2i     balance of account i; always 0 when success is 0
//
// Modes:
//   token != 0: ERC-20 `balanceOf(accounts[i])` through a staticcall with at
//     most kGasPerCall gas each. An item fails (success = 0) when the call
//     reverts, runs out of its gas, or returns fewer than 32 bytes (no code at
//     `token`, a non-ERC-20 fallback); extra return bytes past the first word
//     are ignored. A failing item never fails the others.
//   token == 0: native balances, `accounts[i].balance`; success is always 1.
//
// Limits: what a constructor returns is checked like deployed code, so the
// result is capped by EIP-170 at 24,576 bytes (nodes fail larger ones with
// "max code size exceeded" / "CreateContractSizeLimit") and costs 200 gas
// per byte (code deposit). Hence at most kMaxAccounts = 383 accounts per
// call (64 + 64 * 383 = 24,576 bytes, about 4.9M gas of deposit plus about
// 3,000-10,000 gas per ERC-20 item); more reverts the whole call with
// Error("BalanceScanner: at most 383 accounts") before any work. Callers
// split larger lists. The result never starts with 0xEF (EIP-3541): its
// first word is 0x20.
//
// Compiled for evmVersion "paris" (no PUSH0) so the same bytes run on chains
// that have not adopted Shanghai. Rebuild with tools/contracts/build.
contract BalanceScanner {
    // A balanceOf costs a few thousand gas; the cap keeps one pathological
    // token call from eating the gas the remaining items need.
    uint256 private constant kGasPerCall = 100_000;
    // (24,576 - 64) / 64: the largest result EIP-170 lets a constructor return.
    uint256 private constant kMaxAccounts = 383;

    constructor(address token, address[] memory accounts) payable {
        require(accounts.length <= kMaxAccounts, "BalanceScanner: at most 383 accounts");
        assembly ("memory-safe") {
            let n := mload(accounts)
            let out := mload(0x40)
            mstore(out, 0x20)
            mstore(add(out, 0x20), n)
            let item := add(out, 0x40)
            let account := add(accounts, 0x20)
            let end := add(account, mul(n, 0x20))
            switch token
            case 0 {
                for {} lt(account, end) { account := add(account, 0x20) } {
                    mstore(item, 1)
                    mstore(add(item, 0x20), balance(mload(account)))
                    item := add(item, 0x40)
                }
            }
            default {
                for {} lt(account, end) { account := add(account, 0x20) } {
                    // balanceOf(address): selector 0x70a08231, built in the
                    // scratch space at 0x00..0x3f.
                    mstore(0x00, shl(224, 0x70a08231))
                    mstore(0x04, mload(account))
                    let ok := staticcall(kGasPerCall, token, 0x00, 0x24, 0x00, 0x20)
                    ok := and(ok, iszero(lt(returndatasize(), 0x20)))
                    mstore(item, ok)
                    mstore(add(item, 0x20), mul(ok, mload(0x00)))
                    item := add(item, 0x40)
                }
            }
            return(out, sub(item, out))
        }
    }
}
