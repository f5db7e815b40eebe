# doc/: the man page and format references.
dist_man_MANS += doc/loaa.1
EXTRA_DIST += doc/architecture.md
EXTRA_DIST += doc/distributed.md
EXTRA_DIST += doc/reliability.md
