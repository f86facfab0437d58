"""An example toolkit plugin: the adaptive Metropolis sampler."""
