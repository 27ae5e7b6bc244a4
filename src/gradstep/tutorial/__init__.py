"""The document's walkthrough (NumPy and PyTorch), the demo's extra descents, the graph."""
