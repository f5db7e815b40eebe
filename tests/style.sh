#!/bin/sh
# Runs the style checker over every C source, as one TAP test per file.
exec "$top_srcdir/scripts/checksrc" --tap "$top_srcdir"
