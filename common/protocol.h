/*
 * protocol.h - the coordinator-worker protocol of `loaa sweep`: MPI message
 * tags and payload layouts, and the line protocol between a worker rank, its
 * launcher and the trial process (the same payloads, one JSON object a line).
 *
 * Ranks: rank 0 is the coordinator; ranks 1..N-1 are workers, grouped by
 * MPI_Comm_split into groups of ranks_per_trial consecutive ranks. Only a
 * group's leader (its lowest world rank) talks to the coordinator; the leader
 * broadcasts what the group needs over the group communicator.
 *
 * Every payload is one NUL-terminated UTF-8 JSON object sent as MPI_CHAR
 * (count includes the NUL). Receivers MPI_Probe/MPI_Iprobe, then size the
 * buffer from MPI_Get_count; a payload above LOAA_PROTO_MAX_PAYLOAD or one
 * that is not NUL-terminated JSON is a protocol error (LOAA_ERR_MPI).
 * JSON keeps the layouts readable in logs and lets fields be added without
 * a version bump: readers ignore members they do not know.
 *
 * Messages (direction, tag, payload):
 *
 *   coord -> leader  TRIAL   {"trial_id": int, "attempt": int,
 *                             "config": {identity keys, canonical},
 *                             "exec": {execution keys: ranks_per_trial, grid, threads, fault},
 *                             "dir": "ARTIFACTS/SWEEP/HASH16",   trial folder
 *                             "early": bool}   true: wait for ANSWER after EPOCH
 *   leader -> coord  EPOCH   {"trial_id": int, "epoch": int (0-based),
 *                             "metrics": {"train_loss", "val_loss", "val_acc",
 *                                         "val_map", "lr", "seconds"}}
 *   coord -> leader  ANSWER  {"trial_id": int, "stop": bool}   only when early
 *   leader -> coord  RESULT  {"trial_id": int, "pruned": bool, "best_epoch": int,
 *                             "epochs_run": int,
 *                             "results": {"val_acc", "val_loss", "val_map",
 *                                         "train_loss", "test_acc",
 *                                         "test_top5", "test_map", "test_mpca"},
 *                             "stats": {"seconds", "samples_per_s", "peak_rss",
 *                                       "trainable_params", "total_params"},
 *                             "files": {"checkpoint", "best_checkpoint",
 *                                       "adapter", "backbone", "log"},
 *                             "provenance": {"loaa_version", "blas",
 *                                            "scalapack", "gemm_backend",
 *                                            "host", "ranks", "grid"}}
 *   leader -> coord  FAILED  {"trial_id": int, "error": text,
 *                             "crash": bool,    the trial's own process died (counts an attempt)
 *                             "interrupted": bool, stopped from outside (SIGTERM/SIGINT/SIGHUP):
 *                                               runs again, no attempt counted
 *                             "signal": int}    0 unless killed by a signal
 *   coord -> leader  STOP    {}   no more work: the group shuts down
 *
 * Worker <-> launcher <-> trial process (pipes, ranks_per_trial 1): the
 * worker writes one TRIAL line to the launcher; the trial process writes
 * EPOCH and RESULT/FAILED lines as {"type": "epoch"|"result"|"failed", ...}
 * with the fields above; when "early" it reads one ANSWER line after each
 * EPOCH line. After the trial process ends, the launcher writes
 * {"type": "exit", "status": int, "signal": int}. A closed pipe ends the
 * launcher. Lines never contain a raw newline (JSON escapes it).
 */
#ifndef LOAA_PROTOCOL_H
#define LOAA_PROTOCOL_H

enum loaa_proto_tag {
    LOAA_TAG_TRIAL = 101,
    LOAA_TAG_EPOCH = 102,
    LOAA_TAG_ANSWER = 103,
    LOAA_TAG_RESULT = 104,
    LOAA_TAG_FAILED = 105,
    LOAA_TAG_STOP = 106
};

/* Largest payload either side accepts (a trial config is about 1 KiB). */
#define LOAA_PROTO_MAX_PAYLOAD (1 << 20)

/* Adaptive back-off while waiting: first sleep, growth factor, ceilings. */
#define LOAA_PROTO_BACKOFF_MIN_S 20e-6
#define LOAA_PROTO_BACKOFF_GROWTH 2.0
#define LOAA_PROTO_BACKOFF_MAX_COORD_S 2e-3
#define LOAA_PROTO_BACKOFF_MAX_WORKER_S 10e-3

#endif
