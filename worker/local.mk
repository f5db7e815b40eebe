# worker/: shard streaming, audio decoding, fbank, batching, the trial runner.
