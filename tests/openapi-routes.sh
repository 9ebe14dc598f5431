#!/usr/bin/env bash
# Prints "METHOD /path" for every operation in an OpenAPI document
# (paths at two spaces of indent, methods at four), with {parameters}
# renamed as the server names them ({slug}, {extension}, ...).
awk '
/^paths:/ { inpaths = 1; next }
inpaths && /^[^ ]/ { inpaths = 0 }
inpaths && /^  \/[^ ]*:[ ]*$/ { path = $1; sub(/:$/, "", path); next }
inpaths && /^    (get|post|put|patch|delete):/ { m = $1; sub(/:$/, "", m); print toupper(m) " " path }
' "$1"
