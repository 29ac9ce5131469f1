// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// A broken token for failure tests: every call succeeds but returns a single
// byte, shorter than the 32-byte word callers expect from balanceOf.
contract ShortReturnToken {
    fallback() external {
        assembly {
            mstore(0x00, shl(248, 0x01))
            return(0x00, 1)
        }
    }
}
