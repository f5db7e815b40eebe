# kernels/: tensors, GEMM, ViT layers, adapters, optimiser, losses, metrics, safetensors.
noinst_LIBRARIES += kernels/libloaa_kernels.a
kernels_lib = kernels/libloaa_kernels.a
kernels_libloaa_kernels_a_SOURCES = \
	kernels/model.h kernels/model.c \
	kernels/gemm.c kernels/gemm.h kernels/gemm_dnnl.c \
	kernels/layers.c kernels/layers.h \
	kernels/parallel.c kernels/parallel.h
# weights part: safetensors, metrics, schedule, checkpoints, backbone import/export.
kernels_libloaa_kernels_a_SOURCES += kernels/safetensors.c kernels/safetensors.h \
	kernels/metrics.c kernels/metrics.h kernels/schedule.c kernels/schedule.h \
	kernels/checkpoint.c kernels/checkpoint.h kernels/weights.c kernels/weights.h
# distributed GEMM: ScaLAPACK psgemm_ on a BLACS grid of a trial's group (issue 6).
kernels_libloaa_kernels_a_SOURCES += kernels/pgemm.c kernels/pgemm.h
