"""Data layer: where files live, downloading them, and reading them into tensors."""
