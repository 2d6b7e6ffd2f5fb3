"""``model.export(filepath, format=...)``: the model's inference pass as an artifact for serving (Keras 3's API).

gradfit writes one of Keras's formats, ``"onnx"`` (see :mod:`gradfit.export.onnx`): an ONNX graph that ONNX
Runtime (or any ONNX runtime) serves without gradfit, NumPy or Python. Keras's other formats
(``"tf_saved_model"``, its default, ``"openvino"``, ``"litert"``, ``"torch"``) need TensorFlow, OpenVINO or
PyTorch, and are refused with a message naming the formats gradfit writes.
"""

from __future__ import annotations

__all__ = ["FORMATS", "KERAS_FORMATS", "export_model"]

#: the formats gradfit writes
FORMATS = ("onnx",)
#: Keras 3.15's formats (``Model.export``); those not in FORMATS need another framework
KERAS_FORMATS = ("tf_saved_model", "onnx", "openvino", "litert", "torch")


def export_model(model, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs) -> None:
    """Write ``model``'s inference pass to ``filepath`` in ``format`` (Keras's ``Model.export``).

    ``format`` must be ``"onnx"``; ``verbose`` (default True for ONNX, as in Keras) prints where the artifact was
    saved; ``input_signature`` fixes the input's shape and dtype; ``opset_version`` (a keyword argument, as in
    Keras) picks the ONNX opset. See :func:`gradfit.export.onnx.export_onnx`.
    """
    if format not in FORMATS:
        if format in KERAS_FORMATS:
            why = (
                f"Keras writes format={format!r} through TensorFlow, OpenVINO or PyTorch, which gradfit does not use"
                + (" (it is Keras's default format)" if format == "tf_saved_model" else "")
            )
        else:
            why = f"Unrecognized format={format!r} (Keras's formats are {list(KERAS_FORMATS)})"
        raise ValueError(
            f"model.export: {why}. gradfit supports format={FORMATS[0]!r} only: "
            f'model.export("model.onnx", format="onnx"), then serve the file with ONNX Runtime.'
        )
    from .onnx import export_onnx

    export_onnx(model, filepath, verbose=verbose, input_signature=input_signature, **kwargs)
