"""Models, one per file: linear/MLP (mlp.py), hand-written CNN (cnn.py), ResNet-18, YOLOv5."""
