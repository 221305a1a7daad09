"""The rule base: YAML knowledge, its loader and linter, and the engine that evaluates it."""
