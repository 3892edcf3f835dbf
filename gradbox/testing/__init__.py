"""``gradbox.testing``: helpers that compare gradbox with PyTorch, for the tests and benchmarks.

Needs the ``dev`` extra (PyTorch as the oracle); ``import gradbox`` never imports this package.
``oracle`` runs the same computation in both frameworks and compares forward values and
gradients; ``torch_reference`` holds hand-built PyTorch versions of the zoo models.
"""
