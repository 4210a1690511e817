"""Recurrent primitives: ONNX LSTM/GRU/RNN (filled by the recurrent work)."""
