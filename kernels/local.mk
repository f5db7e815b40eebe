# kernels/: tensors, GEMM, ViT layers, adapters, optimiser, losses, metrics, safetensors.
