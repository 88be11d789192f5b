# rollout-lib.sh: what the shell entry points share (sourced, not run).
#
# JSON is written without jq: strings are escaped by json_str, documents come compact from
# the rollout-tools' own --jq. Errors follow the tools' contract: one line
# "PROG: error: MESSAGE", then "  hint:" lines.
# shellcheck shell=bash

# bash 5.2 would read '&' in a ${var//pattern/replacement} as the match; values may hold one
shopt -u patsub_replacement 2>/dev/null || true

# json_str TEXT: TEXT as a JSON string.
json_str() {
  local s=$1 out="" c i
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  if [[ $s == *[[:cntrl:]]* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ $c == [[:cntrl:]] ]]; then
        printf -v c '\\u%04x' "'$c"
      fi
      out+=$c
    done
    s=$out
  fi
  printf '"%s"' "$s"
}

# json_or_null TEXT: TEXT as a JSON string, or null when empty.
json_or_null() { if [[ -n $1 ]]; then json_str "$1"; else printf null; fi; }

# usage_error MESSAGE: the contract's error line and a hint, exit 2 (PROG names the script).
usage_error() {
  printf '%s: error: %s\n' "$PROG" "$1" >&2
  printf "  hint: see '%s --help'\n" "$PROG" >&2
  exit 2
}

# need_value FLAG ARGS...: a flag's value must follow it.
need_value() { [[ $# -ge 2 ]] || usage_error "$1 needs a value"; }

# jq_check: the --jq program in $jq_filter is usable (jq on PATH, the program compiles),
# else a usage error. A leading space keeps a program from being read as a jq option.
jq_check() {
  [[ -n ${jq_filter:-} ]] || return 0
  command -v jq >/dev/null || usage_error "--jq needs jq on PATH"
  jq -n " $jq_filter" >/dev/null 2>&1 || usage_error "--jq: not a valid jq program: $jq_filter"
}

# emit_json DOC: print a result document, through --jq ($jq_filter) when one was given;
# string results print raw, as every tool's --jq does.
emit_json() {
  if [[ -n ${jq_filter:-} ]]; then
    jq -r " $jq_filter" <<<"$1"
  else
    printf '%s\n' "$1"
  fi
}
