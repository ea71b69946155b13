// Package entry for `import ... from "@cannonball/sdk"`.
export * from "./assembly/index";
