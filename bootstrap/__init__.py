"""The bootstrap project: what CI needs in AWS before the first deploy (see docs/ci.md)."""
