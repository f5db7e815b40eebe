# worker/: shard streaming, audio decoding, fbank, batching, the trial runner.
noinst_LIBRARIES += worker/libloaa_worker.a
worker_lib = worker/libloaa_worker.a
# data pipeline (issue 4): shards, audio, fbank, features, loader, synthetic data.
worker_libloaa_worker_a_SOURCES = \
	worker/shard.c worker/shard.h \
	worker/audio.c worker/audio.h \
	worker/npy.c worker/npy.h \
	worker/fbank.c worker/fbank.h \
	worker/features.c worker/features.h \
	worker/loader.c worker/loader.h \
	worker/dswrite.c worker/dswrite.h \
	worker/synth.c worker/synth.h \
	worker/csv.c worker/csv.h \
	worker/pack.c worker/pack.h
# orchestration (issue 5): the trial runner and the trial launcher / worker ranks' loop.
worker_libloaa_worker_a_SOURCES += worker/trial.c worker/trial.h worker/launcher.c worker/launcher.h \
	worker/spec.c worker/spec.h
