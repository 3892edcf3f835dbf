"""``gb.onnx``: export a model to ONNX, to run it with ONNX Runtime (or any ONNX engine).

``gb.onnx.export(model, args, "model.onnx", input_names=["input"], output_names=["output"],
dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})`` traces the forward and writes
the graph; ``gb.onnx.run("model.onnx", x)`` runs it with ONNX Runtime. Each op's mapping is
in ``gradbox.onnx.ops.OP_MAPPINGS`` (the ops that have none, and why, in ``UNEXPORTABLE``);
eval-mode batch norm, layer norm and the layers that pick values with a NumPy mask export whole
(``MODULE_MAPPINGS``, ``modules.py``), and so do the calls of such functions of
``gb.nn.functional`` (``FUNCTION_MAPPINGS``, ``functions.py``). Needs the ``onnx`` and
``onnxruntime`` packages: ``pip install gradbox[interop]``; importing this package does not
import them.
"""

from gradbox.onnx.export import export
from gradbox.onnx.functions import FUNCTION_MAPPINGS
from gradbox.onnx.modules import MODULE_MAPPINGS
from gradbox.onnx.ops import OP_MAPPINGS, UNEXPORTABLE
from gradbox.onnx.runtime import metadata, run, session
from gradbox.onnx.trace import ExportError

__all__ = [
    "ExportError",
    "FUNCTION_MAPPINGS",
    "MODULE_MAPPINGS",
    "OP_MAPPINGS",
    "UNEXPORTABLE",
    "export",
    "metadata",
    "run",
    "session",
]
