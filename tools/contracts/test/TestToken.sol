// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

// An OpenZeppelin ERC-20 for tests: anyone may mint, decimals are set at
// deployment. Constructor: (string name, string symbol, uint8 decimals).
contract TestToken is ERC20 {
    uint8 private immutable decimals_;

    constructor(string memory name, string memory symbol, uint8 tokenDecimals)
        ERC20(name, symbol)
    {
        decimals_ = tokenDecimals;
    }

    function decimals() public view override returns (uint8) {
        return decimals_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
