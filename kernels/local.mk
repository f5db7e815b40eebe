# kernels/: tensors, GEMM, ViT layers, adapters, optimiser, losses, metrics, safetensors.
noinst_LIBRARIES += kernels/libloaa_kernels.a
kernels_lib = kernels/libloaa_kernels.a
kernels_libloaa_kernels_a_SOURCES = \
	kernels/model.h \
	kernels/gemm.c kernels/gemm.h
