"""Ensemble Langevin samplers (ALDI, second-order ensemble Langevin) and their tasks."""
