"""The composition root of hoifit.

It owns the root config and presets, the pipeline, the model registry, the sample-folder store
and the `hoifit` command. The stage packages (`perception`, `retrieval`, `contact`, `optim`) and
the kernel (`reconstruction`) never import it.
"""
