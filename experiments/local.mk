# experiments/: sweep files shipped with the source.
EXTRA_DIST += $(wildcard $(srcdir)/experiments/*.yaml) $(wildcard $(srcdir)/experiments/*.sbatch)
