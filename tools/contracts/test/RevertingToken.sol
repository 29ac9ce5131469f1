// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// A broken token for failure tests: balanceOf always reverts, decimals works.
contract RevertingToken {
    function decimals() external pure returns (uint8) {
        return 18;
    }

    function balanceOf(address) external pure returns (uint256) {
        revert("RevertingToken: balanceOf");
    }
}
