"""Face tracking: face detection and landmark models run by ONNX Runtime."""
