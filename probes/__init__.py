"""Probes: the phase-A hardware inventory (no framework imported) and the phase-B framework workers."""
