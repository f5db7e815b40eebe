#!/bin/sh
# embed.sh NAME FILE - prints a C file defining `const char NAME[]` with FILE's bytes,
# so the schema ships inside the binary and can never drift from it.
set -e
name=$1
file=$2
echo "/* generated from $(basename "$file") by schema/embed.sh; do not edit */"
echo "#include \"schema/schema.h\""
echo "const char ${name}[] = {"
od -An -v -tx1 "$file" | sed -e 's/ *$//' -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
echo "0x00};"
